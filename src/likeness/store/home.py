"""The library home: where the catalog and the vault live (``$LIKENESS_HOME``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

from likeness.errors import InvalidError
from likeness.paths import typed_path

if TYPE_CHECKING:
    from likeness.store.keys import KeyStore

HOME_ENV = "LIKENESS_HOME"
#: Where the catalog lives when not in the home's SQLite file: a SQLAlchemy URL such as
#: ``postgresql+psycopg://user@host/likeness`` (a shared install; the home still holds the
#: vault and the keys, which never go into a database).
DATABASE_URL_ENV = "LIKENESS_DATABASE_URL"


def default_home() -> Path:
    """``$LIKENESS_HOME`` if set, else the user's data dir (``~/.local/share/likeness``)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return typed_path(env, HOME_ENV)
    from platformdirs import user_data_path

    return user_data_path("likeness", appauthor=False)


#: The file in a home that records where its catalog is, when that is not the SQLite file.
CATALOG_URL_FILE = "catalog.url"


class CatalogLocationError(InvalidError):
    """The catalog asked for is not where this home's catalog is, or cannot be one."""


class UnstorableValueError(InvalidError):
    """A value the catalog cannot store: a text holding NUL, or one wider than its column."""


def catalog_url(home: Path, url: str | None = None) -> str:
    """Where ``home``'s catalog is: a SQLAlchemy URL.

    A home is bound to its catalog when it is created: the SQLite file ``catalog.sqlite`` in
    it (the default), or the database ``url`` names, else ``$LIKENESS_DATABASE_URL``, which
    the home then records (``catalog.url``), so that every later process on it (the CLI, a
    server, an import worker) finds the same catalog whatever its environment says. Why not
    follow the variable each time: a command run without it would otherwise open a new, empty
    SQLite catalog beside the real one and show a library with nobody in it.
    """
    recorded = home / CATALOG_URL_FILE
    if recorded.exists():
        bound = recorded.read_text().strip()
        if url is not None and url != bound:
            raise CatalogLocationError(
                f"the catalog of {home} is in another database ({_shown(bound)}), not {_shown(url)}"
            )
        return bound
    url = url or os.environ.get(DATABASE_URL_ENV) or None
    sqlite = home / "catalog.sqlite"
    if url is None or url == f"sqlite:///{sqlite}":
        return f"sqlite:///{sqlite}"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    if backend != "postgresql":
        raise CatalogLocationError(
            f"{DATABASE_URL_ENV}: the catalog can be in SQLite (the default) or PostgreSQL, not "
            f"{backend!r} (for example postgresql+psycopg://likeness@localhost/likeness)"
        )
    if sqlite.exists():
        raise CatalogLocationError(
            f"{home} already has its catalog in {sqlite.name}; a catalog is not moved into "
            f"{_shown(url)} (unset {DATABASE_URL_ENV}, or use a new home)"
        )
    return url


def _shown(url: str) -> str:
    """``url`` without its password, for a message."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def create_catalog_engine(url: str) -> Engine:
    """An engine on the catalog at ``url``, set up for how likeness uses it."""
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # pool_pre_ping: a server restarted under a long-running ``likeness serve`` is met again.
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "before_cursor_execute", _refuse_nul_text)
    event.listen(engine, "handle_error", _data_error_as_invalid)
    return engine


def _data_error_as_invalid(context: ExceptionContext) -> None:
    """A value the database refuses (too wide for its column, a number out of range) is the
    input's fault: an ``UnstorableValueError`` both front ends map (400, exit 1), not a 500.

    Why: SQLite stores any text in any column, PostgreSQL enforces ``varchar(n)`` and 32-bit
    integers; a request that fits one backend must not crash on the other. The message is the
    database's own first line (what is wrong, never the value itself).
    """
    error = context.original_exception
    dbapi = context.dialect.loaded_dbapi if context.dialect is not None else None
    if dbapi is not None and isinstance(error, dbapi.DataError):
        diag = getattr(error, "diag", None)
        reason = getattr(diag, "message_primary", None) or "a value does not fit its column"
        raise UnstorableValueError(f"The catalog cannot store this value: {reason}.") from error


def _refuse_nul_text(
    _conn: Connection,
    _cursor: object,
    _statement: str,
    parameters: Any,
    _context: object,
    executemany: bool,
) -> None:
    """Refuse a text holding NUL before it reaches the catalog, on every backend.

    Why here: PostgreSQL cannot store NUL in text and its driver fails with a DataError, which
    reached users as a 500 (a model named "\\x00" in a generate request). Every value any front
    end stores or looks up passes this one point, so it is one check rather than one per field,
    and SQLite, which would store it, refuses the same inputs (a catalog moves between the two).
    """
    rows = parameters if executemany else [parameters]
    for row in rows:
        values: Iterable[Any]
        if isinstance(row, dict):
            values = row.values()
        elif isinstance(row, list | tuple):
            values = row
        else:  # one bare value (a driver-level call with a single parameter)
            values = (row,)
        for value in values:
            if isinstance(value, str) and "\x00" in value:
                raise UnstorableValueError("A text may not contain a NUL character (\\x00).")


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the importer, and a killed writer leaves the last committed state.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: The advisory lock ``hold_write_lock`` takes on PostgreSQL (any fixed number: "likeness").
WRITE_LOCK_KEY = 0x6C696B656E657373


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
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # The same promise on PostgreSQL: one catalog-wide lock, held to the end of the
        # transaction, taken by every writer that reads before it writes.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
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
    def open(cls, home: Path | str | None = None, database_url: str | None = None) -> Library:
        """Open (creating and migrating if needed) the library at ``home``, its catalog in
        the home's SQLite file or at ``database_url`` (default ``$LIKENESS_DATABASE_URL``)."""
        home = Path(home) if home is not None else default_home()
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)  # faces and embeddings are biometric data
        (home / "vault").mkdir(exist_ok=True)
        url = catalog_url(home, database_url)
        engine = create_catalog_engine(url)
        from likeness.store.migrate import upgrade_to_head

        upgrade_to_head(engine)
        recorded = home / CATALOG_URL_FILE
        if not url.startswith("sqlite") and not recorded.exists():
            # Written once the catalog is there; 0600, as the URL may carry a password. Two
            # processes making the home at once both record it (the same URL), neither fails.
            from likeness.store.keys import create_private_once

            create_private_once(recorded, (url + "\n").encode())
        return cls(home=home, engine=engine, _sessions=sessionmaker(engine, expire_on_commit=False))

    @property
    def vault(self) -> Path:
        """Derived files (contact sheets, caches). Never the user's originals."""
        return self.home / "vault"

    @cached_property
    def keys(self) -> KeyStore:
        """The library's keys (signing key, per-person keys), set up once per Library."""
        from likeness.store.keys import KeyStore

        return KeyStore(self.home)

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog's file (also a key naming this catalog in-process caches)."""
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
