"""A catalog in PostgreSQL (``LIKENESS_DATABASE_URL``): a real server, started for the run."""

from __future__ import annotations

import stat
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from likeness.consent.audit import append, verify_audit
from likeness.store import Library
from likeness.store.home import CATALOG_URL_FILE, DATABASE_URL_ENV, CatalogLocationError
from likeness.testing.schema import catalog_metadata


def test_the_migrations_build_the_declared_tables_in_postgresql(tmp_path, postgres_server):
    url = postgres_server.create_database()
    with Library.open(tmp_path / "h", database_url=url) as lib:
        assert lib.engine.dialect.name == "postgresql"
        with lib.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), catalog_metadata())
    assert diff == []
    assert not (tmp_path / "h" / "catalog.sqlite").exists()


def test_a_home_remembers_its_catalog_whatever_the_environment_says_later(
    tmp_path, postgres_server, monkeypatch
):
    url = postgres_server.create_database()
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    with Library.open(tmp_path / "h") as lib, lib.session() as s:
        s.execute(text("INSERT INTO settings(key, value) VALUES ('k', 'v')"))
    recorded = tmp_path / "h" / CATALOG_URL_FILE
    assert recorded.read_text().strip() == url
    assert stat.S_IMODE(recorded.stat().st_mode) == 0o600  # a URL may carry a password
    # A command run without the variable (or with another) opens the same catalog, not a new,
    # empty SQLite one beside it.
    monkeypatch.delenv(DATABASE_URL_ENV)
    with Library.open(tmp_path / "h") as lib, lib.session() as s:
        assert s.execute(text("SELECT value FROM settings WHERE key='k'")).scalar() == "v"
    assert not (tmp_path / "h" / "catalog.sqlite").exists()
    with pytest.raises(CatalogLocationError, match="another database"):
        Library.open(tmp_path / "h", database_url=postgres_server.create_database())


def test_a_sqlite_home_is_not_silently_moved_or_emptied(tmp_path, postgres_server, monkeypatch):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    Library.open(tmp_path / "h").close()
    monkeypatch.setenv(DATABASE_URL_ENV, postgres_server.create_database())
    with pytest.raises(CatalogLocationError, match=r"already has its catalog in catalog\.sqlite"):
        Library.open(tmp_path / "h")


def test_only_sqlite_and_postgresql_are_catalogs(tmp_path, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV, "mysql://root:secret@localhost/likeness")
    with pytest.raises(CatalogLocationError, match="not 'mysql'") as refused:
        Library.open(tmp_path / "h")
    assert "secret" not in str(refused.value)
    assert not (tmp_path / "h" / "catalog.sqlite").exists()


def test_writers_that_read_first_are_serialised_in_postgresql(tmp_path, postgres_server):
    """The audit log numbers each entry after the last, under ``hold_write_lock``: appends
    from many threads at once still make one unbroken chain (without the lock, two read the
    same last entry and one fails on the duplicate number)."""
    url = postgres_server.create_database()
    with Library.open(tmp_path / "h", database_url=url) as lib:
        lib.keys.signing_key()  # made once, before the writers start
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                for i in range(5):
                    with lib.session() as s:
                        append(lib, s, "test", {"thread": n, "i": i})
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with lib.session() as s:
            count = s.execute(text("SELECT count(*) FROM audit_log")).scalar()
        assert count == 40
        assert verify_audit(lib).ok
