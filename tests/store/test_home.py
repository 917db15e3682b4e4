import stat
import threading
from datetime import datetime

import pytest
from sqlalchemy import text

from likeness.store import Library, default_home
from likeness.testing.schema import catalog_at


@pytest.mark.sqlite
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
        version = s.execute(text("SELECT version_num FROM alembic_version")).all()
    from likeness.store.migrate import HEAD

    assert version == [(HEAD,)]


def test_default_home_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_HOME", str(tmp_path / "x"))
    assert default_home() == tmp_path / "x"
    monkeypatch.delenv("LIKENESS_HOME")
    assert default_home().name == "likeness"


def test_head_constant_matches_the_migration_scripts():
    from likeness.store.migrate import HEAD, script_head

    assert script_head() == HEAD


@pytest.mark.sqlite
def test_migrating_a_0001_catalog_keeps_people_and_gives_them_uids(tmp_path):
    home = tmp_path / "old"
    with catalog_at(home, "0001") as conn:
        conn.execute(
            text(
                "INSERT INTO people (name, hidden, is_owner, created_at) "
                "VALUES ('Ann', 0, 1, '2026-01-01'), (NULL, 0, 0, '2026-01-02')"
            )
        )
    with Library.open(home) as lib, lib.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, uid, is_minor FROM people ORDER BY id")).all()
    assert [r[0] for r in rows] == ["Ann", None]
    assert len({r[1] for r in rows}) == 2 and all(len(r[1]) == 32 for r in rows)
    assert [r[2] for r in rows] == [0, 0]


def test_keys_are_private_and_person_keys_can_be_destroyed(tmp_path):
    with Library.open(tmp_path / "h") as lib:
        keys = lib.keys
        keys.signing_key()
        assert stat.S_IMODE(keys.dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((keys.dir / "library.ed25519").stat().st_mode) == 0o600
        key = keys.person_key("abc123", create=True)
        assert keys.person_key("abc123") == key
        assert keys.destroy_person_key("abc123") and not keys.destroy_person_key("abc123")


def test_keys_made_by_several_processes_at_once_are_one_key(tmp_path):
    """A server and a job's process (or two servers on one library) that first need a key
    at the same moment both make one: every one of them must end up with the same key, or
    what one sealed or signed the other cannot read. (Before: each wrote a fresh key over the
    other's, and one of them failed moving a shared temporary file.)"""
    from likeness.store.keys import KeyStore

    home = tmp_path / "h"
    home.mkdir()
    stores = [KeyStore(home) for _ in range(8)]  # as separate processes: nothing cached
    start = threading.Barrier(len(stores))
    signing: list[bytes] = []
    person: list[bytes] = []
    errors: list[BaseException] = []

    def first_use(keys: KeyStore) -> None:
        try:
            start.wait()
            signing.append(keys.public_key_bytes())
            person.append(keys.person_key("abc123", create=True))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(k,)) for k in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(signing)) == 1 and len(set(person)) == 1
    assert signing[0] == KeyStore(home).public_key_bytes()
    assert person[0] == KeyStore(home).person_key("abc123")
    assert [p.name for p in (home / "keys").rglob("*.tmp")] == []


@pytest.mark.sqlite
def test_migrating_a_0008_catalog_rebuilds_people_so_ids_are_never_reused(tmp_path):
    """0009 rebuilds ``people`` with AUTOINCREMENT: a face keeps its person, and once the
    person with the highest id is deleted (merged), a new person gets a new id, not that
    one (a grant, an app or its token may still name it)."""
    home = tmp_path / "old"
    with catalog_at(home, "0008") as conn:
        conn.execute(
            text(
                "INSERT INTO people (id, name, hidden, is_owner, is_minor, created_at, uid) "
                "VALUES (1, 'Ann', 0, 1, 0, '2026-01-01', 'a'), (2, 'Bo', 0, 0, 0, "
                "'2026-01-02', 'b')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO photos (id, content_hash, width, height, format, face_backend, "
                "indexed_at) VALUES (1, 'h', 10, 10, 'JPEG', 'dlib', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO faces (id, photo_id, x0, y0, x1, y1, landmarks, embedding, "
                "detector_score, quality, sharpness, frontalness, person_id, locked, grouped) "
                "VALUES (1, 1, 0, 0, 5, 5, '[]', x'00', 1, 1, 1, 1, 2, 0, 1)"
            )
        )
    with Library.open(home) as lib:
        with lib.engine.connect() as conn:
            assert conn.execute(text("SELECT person_id FROM faces")).scalar() == 2
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        with lib.session() as s:
            s.execute(text("UPDATE faces SET person_id = 1"))
            s.execute(text("DELETE FROM people WHERE id = 2"))
        from likeness.people.tables import Person

        with lib.session() as s:
            person = Person(created_at=datetime(2026, 1, 3))
            s.add(person)
            s.flush()
            assert person.id == 3


@pytest.mark.sqlite
def test_migrating_a_0014_catalog_indexes_the_stored_fingerprints(tmp_path):
    """0015 cuts each stored output's PDQ hash into the chunk index: an output stamped
    before it is found by a copy's fingerprint afterwards."""
    home = tmp_path / "old"
    pdq = bytes(range(32))
    with catalog_at(home, "0014") as conn:
        conn.execute(
            text(
                "INSERT INTO provenance_records (watermark_id, pdq, sha256, mime, width, height, "
                "manifest, manifest_store, created_at) VALUES (7, :pdq, 'x', 'image/png', 8, 8, "
                "'{}', x'', '2026-12-01')"
            ),
            {"pdq": pdq},
        )
    from likeness.provenance.stamp import nearest_stored

    with Library.open(home) as lib, lib.session() as s:
        assert nearest_stored(s, [pdq]) == (7, 0, 0)
        near = bytes([pdq[0] ^ 0xFF, *pdq[1:]])  # 8 bits off
        assert nearest_stored(s, [near]) == (7, 8, 0)


def test_a_text_with_nul_is_refused_on_every_backend_and_the_catalog_stays_usable(lib):
    """PostgreSQL cannot store NUL; the driver's DataError reached users as a 500. Both backends
    refuse it with an error the front ends map, in a write and in a lookup alike."""
    from likeness.errors import InvalidError
    from likeness.store.home import UnstorableValueError
    from likeness.store.tables import Setting

    with pytest.raises(UnstorableValueError, match="NUL") as refused, lib.session() as s:
        s.add(Setting(key="k", value="a\x00b"))
    assert isinstance(refused.value, InvalidError)
    with pytest.raises(UnstorableValueError), lib.session() as s:
        s.get(Setting, "\x00")
    with lib.session() as s:
        s.add(Setting(key="k", value="fine"))
    with lib.session() as s:
        assert s.get(Setting, "k").value == "fine"
        assert s.execute(text("SELECT count(*) FROM settings")).scalar() == 1


def test_a_value_wider_than_its_column_is_an_input_error_not_a_crash(lib):
    """PostgreSQL enforces varchar(n), which SQLite does not: the database's refusal becomes
    an error the front ends map (400, exit 1) and the session rolls back cleanly."""
    from likeness.store.home import UnstorableValueError
    from likeness.store.tables import Setting

    if lib.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores any text in any column: this runs in the PostgreSQL run")
    with pytest.raises(UnstorableValueError, match="value too long") as refused, lib.session() as s:
        s.add(Setting(key="k" * 65, value="v"))
    assert "kkkk" not in str(refused.value)
    with lib.session() as s:
        s.add(Setting(key="k", value="v"))
