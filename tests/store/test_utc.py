"""Recorded times are aware UTC; a catalog from before migration 0011 (local times without a
zone) is converted once, and what was signed or hashed in local time still verifies."""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update

from likeness import clock
from likeness.consent import audit
from likeness.consent.canonical import canonical_json
from likeness.consent.grants import get_grant
from likeness.consent.tables import AuditEntry, ConsentGrantRecord
from likeness.library.tables import Photo
from likeness.people.tables import Person
from likeness.store import Library
from likeness.store.tables import Setting
from likeness.testing.schema import catalog_at


@pytest.fixture
def new_york():
    """The machine's local zone is New York (UTC-5 in winter, UTC-4 in summer)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_the_clock_is_aware_utc(new_york):
    now = clock.now()
    assert now.tzinfo is UTC and now.microsecond == 0
    assert clock.utc(datetime(2026, 1, 15, 9, 30)) == datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
    assert clock.local(datetime(2026, 7, 1, 16, tzinfo=UTC)).hour == 12


def _old_entry_hash(prev: str, seq: int, at: str, kind: str, payload: str) -> str:
    """How entries were hashed before 0011: the naive local time's ISO form."""
    return hashlib.sha256(prev.encode() + canonical_json([seq, at, kind, payload])).hexdigest()


@pytest.mark.sqlite
def test_a_catalog_of_local_times_is_converted_and_its_chain_and_grants_still_verify(
    tmp_path, new_york
):
    home = tmp_path / "old"
    prev, entries = "0" * 64, []
    for seq, at in ((1, "2026-07-01T12:00:00"), (2, "2026-07-01T12:00:05")):
        payload = canonical_json({"n": seq}).decode()
        digest = _old_entry_hash(prev, seq, at, "test", payload)
        entries.append(
            {"seq": seq, "at": at.replace("T", " "), "p": payload, "prev": prev, "h": digest}
        )
        prev = digest
    with catalog_at(home, "0010") as conn:
        conn.execute(
            text(
                "INSERT INTO people (id, uid, name, hidden, is_owner, is_minor, created_at) "
                "VALUES (1, 'u1', 'Ann', 0, 1, 0, '2026-07-01 12:00:00.000000')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO photos (id, content_hash, width, height, format, face_backend, "
                "taken_at, indexed_at) VALUES (1, 'h', 10, 10, 'JPEG', 'dlib', "
                "'2026-01-15 09:30:00.000000', '2026-01-15 09:30:00.000000')"
            )
        )
        for e in entries:
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, at, kind, payload, prev_hash, hash) "
                    "VALUES (:seq, :at, 'test', :p, :prev, :h)"
                ),
                e,
            )

    with Library.open(home) as lib:
        with lib.session() as s:
            # Moments were converted from New York time (EDT in July, EST in January) ...
            assert s.get(Person, 1).created_at == datetime(2026, 7, 1, 16, tzinfo=UTC)
            photo = s.get(Photo, 1)
            assert photo.indexed_at == datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
            # ... and when a photo was taken stays the wall-clock time its EXIF said.
            assert photo.taken_at == datetime(2026, 1, 15, 9, 30)
            head = canonical_json({"count": 2, "head": prev})
            signature = lib.keys.signing_key().sign(head).hex()
            s.add(
                Setting(
                    key=audit.HEAD_KEY,
                    value=json.dumps({"count": 2, "head": prev, "signature": signature}),
                )
            )
        assert audit.verify_audit(lib).ok  # the chain as it was hashed, in local time
        with lib.session() as s:
            audit.append(lib, s, "test", {"n": 3})
        assert audit.verify_audit(lib).ok
        listed = audit.list_audit(lib)
        assert listed[0]["at"] == "2026-07-01T16:00:00+00:00"
        assert listed[2]["at"].endswith("+00:00")
        with lib.session() as s:
            s.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(at_text="x"))
        report = audit.verify_audit(lib)
        assert not report.ok and report.first_bad_seq == 1

        # A grant signed before 0011 carries local times without a zone (document version 1).
        document = canonical_json(
            {
                "version": 1,
                "id": "g1",
                "subject": "u1",
                "grantee": "owner",
                "scopes": ["generate-stylized"],
                "trust": "attested",
                "issued_at": "2026-07-01T12:00:00",
                "expires_at": "2026-07-02T12:00:00",
                "evidence": [],
            }
        )
        with lib.session() as s:
            s.add(
                ConsentGrantRecord(
                    id="g1",
                    subject_uid="u1",
                    document=document,
                    signature=lib.keys.signing_key().sign(document),
                )
            )
        grant = get_grant(lib, "g1")
        assert grant.signature_valid
        assert grant.expires_at == datetime(2026, 7, 2, 16, tzinfo=UTC)
        assert grant.in_force(datetime(2026, 7, 2, 15, 59, tzinfo=UTC))
        assert not grant.in_force(datetime(2026, 7, 2, 16, tzinfo=UTC))


def test_grants_signed_now_carry_utc(tmp_path, new_york):
    from likeness.consent.grants import Scope, Trust, issue_grant

    lib = Library.open(tmp_path / "h")
    with lib.session() as s:
        s.add(Person(id=1, name="Ann", created_at=clock.now()))
    grant = issue_grant(lib, 1, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    with lib.session() as s:
        doc = json.loads(s.get(ConsentGrantRecord, grant.id).document)
    assert doc["version"] == 2 and doc["issued_at"].endswith("+00:00")
    assert get_grant(lib, grant.id).signature_valid
