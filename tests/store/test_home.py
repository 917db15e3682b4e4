import sqlite3
import stat

from sqlalchemy import text

from likeness.store import Library, default_home


def test_open_creates_catalog_in_wal_mode_with_private_home(tmp_path):
    lib = Library.open(tmp_path / "h")
    assert lib.catalog_path.exists()
    assert lib.vault.is_dir()
    assert stat.S_IMODE((tmp_path / "h").stat().st_mode) == 0o700
    with lib.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        tables = set(
            conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars()
        )
    assert {"photos", "photo_files", "faces", "people", "alembic_version"} <= tables
    lib.close()


def test_reopen_keeps_data_and_schema_version(tmp_path):
    with Library.open(tmp_path / "h") as lib, lib.session() as s:
        s.execute(text("INSERT INTO settings(key, value) VALUES ('k', 'v')"))
    with Library.open(tmp_path / "h") as lib, lib.session() as s:
        assert s.execute(text("SELECT value FROM settings WHERE key='k'")).scalar() == "v"
    version = (
        sqlite3.connect(tmp_path / "h" / "catalog.sqlite")
        .execute("SELECT version_num FROM alembic_version")
        .fetchall()
    )
    assert version == [("0001",)]


def test_default_home_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_HOME", str(tmp_path / "x"))
    assert default_home() == tmp_path / "x"
    monkeypatch.delenv("LIKENESS_HOME")
    assert default_home().name == "likeness"


def test_head_constant_matches_the_migration_scripts():
    from likeness.store.migrate import HEAD, script_head

    assert script_head() == HEAD
