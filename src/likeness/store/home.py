"""The library home: where the catalog and the vault live (``$LIKENESS_HOME``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

HOME_ENV = "LIKENESS_HOME"


def default_home() -> Path:
    """``$LIKENESS_HOME`` if set, else the user's data dir (``~/.local/share/likeness``)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("likeness", appauthor=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the importer, and a killed writer leaves the last committed state.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def hold_write_lock(session: Session) -> None:
    """Make ``session``'s transaction hold SQLite's write lock from now until it ends.

    Why: Python's sqlite3 runs a SELECT outside any transaction until the first write, so a
    read-then-write (the audit log reads its last entry to number the next) races with every
    other writer, in this process or another (a server's job). Taking the lock first
    (``BEGIN IMMEDIATE``, which waits up to the busy timeout) makes the read see the last
    committed state and keeps it true until commit. A transaction that has written already
    holds the lock: pending writes are flushed first.
    """
    session.flush()
    dbapi = session.connection().connection.dbapi_connection
    if not dbapi.in_transaction:
        dbapi.execute("BEGIN IMMEDIATE")


@dataclass
class Library:
    """An opened library home. Pass it to every function that needs the catalog or the vault.

    There is no module-level state: two Library objects on two homes are fully independent.
    """

    home: Path
    engine: Engine = field(repr=False)
    _sessions: sessionmaker[Session] = field(repr=False)

    @classmethod
    def open(cls, home: Path | str | None = None) -> Library:
        """Open (creating and migrating if needed) the library at ``home``."""
        home = Path(home) if home is not None else default_home()
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)  # faces and embeddings are biometric data
        (home / "vault").mkdir(exist_ok=True)
        engine = create_engine(f"sqlite:///{home / 'catalog.sqlite'}")
        event.listen(engine, "connect", _sqlite_pragmas)
        from likeness.store.migrate import upgrade_to_head

        upgrade_to_head(engine)
        return cls(home=home, engine=engine, _sessions=sessionmaker(engine, expire_on_commit=False))

    @property
    def vault(self) -> Path:
        """Derived files (contact sheets, caches). Never the user's originals."""
        return self.home / "vault"

    @cached_property
    def keys(self):
        """The library's keys (signing key, per-person keys), set up once per Library."""
        from likeness.store.keys import KeyStore

        return KeyStore(self.home)

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
