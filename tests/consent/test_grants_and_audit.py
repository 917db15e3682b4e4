"""Grants are signed and revocable; the audit log detects tampering."""

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from likeness.consent.audit import list_audit, verify_audit
from likeness.consent.grants import (
    GrantError,
    Scope,
    Trust,
    get_grant,
    issue_grant,
    list_grants,
    revoke_grant,
)
from likeness.consent.policy import (
    Action,
    ConsentWithdrawnError,
    Decision,
    GateError,
    ModelKind,
    authorize,
)
from likeness.consent.tables import ConsentGrantRecord
from likeness.people.records import PersonNotFoundError
from likeness.people.tables import Person
from likeness.store import Library
from likeness.store.keys import KeyDestroyedError


@pytest.fixture
def person(lib) -> int:
    with lib.session() as s:
        p = Person(created_at=datetime.now())
        s.add(p)
        s.flush()
        return p.id


def _uid(lib, person_id):
    with lib.session() as s:
        return s.get(Person, person_id).uid


def test_grant_allows_only_what_it_covers(lib, person):
    grant = issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    ok = authorize(lib, Action.TRAIN_ADAPTER, [person], model=ModelKind.TINY)
    assert ok.allowed and ok.grant_ids == (grant.id,)
    ok.require(Action.TRAIN_ADAPTER, [person])
    # Attested grants never drive a real model; other scopes and requesters are not covered.
    assert not authorize(lib, Action.TRAIN_ADAPTER, [person], model=ModelKind.REAL).allowed
    assert not authorize(lib, Action.GENERATE_STYLIZED, [person], model="tiny").allowed
    assert not authorize(lib, Action.TRAIN_ADAPTER, [person], "app:x", model="tiny").allowed
    denied = authorize(lib, Action.TRAIN_ADAPTER, [person, 999], model="tiny")
    assert not denied.allowed and "person 999 does not exist" in denied.reason
    with pytest.raises(GateError):
        denied.require(Action.TRAIN_ADAPTER, [person, 999])
    with pytest.raises(GateError, match="different action"):
        ok.require(Action.EXPORT_ADAPTER, [person])


def test_decisions_cannot_be_forged():
    with pytest.raises(GateError):
        Decision(
            True, Action.TRAIN_ADAPTER, (1,), "owner", ModelKind.REAL, "", (), datetime.now(), 1
        )


def test_verified_grants_need_enrolment_and_scopes_are_required(lib, person):
    with pytest.raises(GrantError, match="enrolment"):
        issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.VERIFIED)
    with pytest.raises(GrantError, match="scope"):
        issue_grant(lib, person, [], Trust.ATTESTED)
    with pytest.raises(PersonNotFoundError, match="no person"):
        issue_grant(lib, 424242, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)


def test_expiry(lib, person):
    now = datetime(2026, 1, 1, 12)
    issue_grant(
        lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED, expires_in=timedelta(hours=1), now=now
    )
    assert authorize(lib, "train-adapter", [person], model="tiny", now=now).allowed
    later = now + timedelta(hours=1)
    assert not authorize(lib, "train-adapter", [person], model="tiny", now=later).allowed


def test_revocation_denies_at_once_and_destroys_the_persons_key(lib, person):
    grant = issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    uid = _uid(lib, person)
    key = lib.keys.person_key(uid, create=True)
    assert len(key) == 32 and lib.keys.person_key(uid) == key
    assert revoke_grant(lib, grant.id, "changed my mind")
    assert not authorize(lib, "train-adapter", [person], model="tiny").allowed
    with pytest.raises(KeyDestroyedError):
        lib.keys.person_key(uid)
    assert get_grant(lib, grant.id).revoked_at is not None
    assert revoke_grant(lib, grant.id) is False  # already revoked
    with pytest.raises(GrantError):
        revoke_grant(lib, "nope")


def test_revocation_stops_work_under_way(lib, person):
    """Long work asks ``check_in_force`` before each step; a revocation in between stops it,
    and the stop is audited."""
    grant = issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    decision = authorize(lib, Action.TRAIN_ADAPTER, [person], model="tiny")
    steps = []
    with pytest.raises(ConsentWithdrawnError, match="no grant in force"):
        for step in range(5):
            decision.check_in_force(lib)
            steps.append(step)
            if step == 1:
                revoke_grant(lib, grant.id)
    assert steps == [0, 1]
    entry = list_audit(lib)[-1]
    assert entry["kind"] == "withdrawn" and entry["payload"]["decision"] == decision.audit_seq
    assert verify_audit(lib).ok


def test_a_person_marked_minor_stops_photoreal_work(lib, person):
    issue_grant(lib, person, [Scope.GENERATE_PHOTOREAL], Trust.ATTESTED)
    decision = authorize(lib, Action.GENERATE_PHOTOREAL, [person], model="tiny")
    decision.check_in_force(lib)
    with lib.session() as s:
        s.get(Person, person).is_minor = True
    with pytest.raises(ConsentWithdrawnError, match="minor"):
        decision.check_in_force(lib)


@pytest.mark.parametrize("column", ["document", "signature"])
def test_a_flipped_byte_in_a_grant_is_detected(lib, person, column):
    grant = issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    with lib.session() as s:
        record = s.get(ConsentGrantRecord, grant.id)
        data = bytearray(getattr(record, column))
        data[len(data) // 2] ^= 0x01
        setattr(record, column, bytes(data))
    assert get_grant(lib, grant.id).signature_valid is False
    [(listed, pid)] = list_grants(lib)
    assert not listed.signature_valid and pid == person
    assert not authorize(lib, "train-adapter", [person], model="tiny").allowed


def test_grant_scope_widened_in_the_database_is_detected(lib, person):
    grant = issue_grant(lib, person, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    with lib.session() as s:
        record = s.get(ConsentGrantRecord, grant.id)
        record.document = record.document.replace(b'"generate-stylized"', b'"train-adapter"')
    assert not authorize(lib, "train-adapter", [person], model="tiny").allowed


def _audit_with_entries(lib, person, n=5):
    issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    for _ in range(n - 1):
        authorize(lib, "train-adapter", [person], model="tiny")
    report = verify_audit(lib)
    assert report.ok and report.entries == n


def _decide_many(home: str, person: int, n: int) -> None:
    """Another process taking gate decisions on the same library (a server's job)."""
    with Library.open(home) as other:
        for _ in range(n):
            authorize(other, "train-adapter", [person], model="tiny")


def test_concurrent_decisions_keep_one_unbroken_chain(lib, person):
    """Threads and another process appending at once: each entry gets its own number (two
    writers reading the same last entry numbered theirs alike: a server answered 500)."""
    issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    other = multiprocessing.get_context("spawn").Process(
        target=_decide_many, args=(str(lib.home), person, 40)
    )
    other.start()
    with ThreadPoolExecutor(4) as pool:
        decisions = list(
            pool.map(lambda _: authorize(lib, "train-adapter", [person], model="tiny"), range(80))
        )
    other.join(timeout=120)
    assert other.exitcode == 0
    assert all(d.allowed for d in decisions)
    report = verify_audit(lib)
    assert report.ok, report.problem
    assert report.entries == 1 + 80 + 40


def test_audit_log_verifies_and_detects_edits(lib, person):
    _audit_with_entries(lib, person)
    with lib.session() as s:
        s.execute(
            text("UPDATE audit_log SET payload = replace(payload, 'true', 'false') WHERE seq = 3")
        )
    report = verify_audit(lib)
    assert not report.ok and report.first_bad_seq == 3 and "altered" in report.problem


def test_audit_log_detects_a_removed_entry(lib, person):
    _audit_with_entries(lib, person)
    with lib.session() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    report = verify_audit(lib)
    assert not report.ok and report.first_bad_seq == 2


def test_audit_log_detects_removed_newest_entries(lib, person):
    _audit_with_entries(lib, person)
    with lib.session() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq >= 4"))
    report = verify_audit(lib)
    assert not report.ok and "removed" in report.problem


def test_audit_log_detects_reordering(lib, person):
    _audit_with_entries(lib, person)
    with lib.session() as s:
        s.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = 2"))
        s.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
        s.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = -1"))
    assert not verify_audit(lib).ok


def test_audit_head_signature_is_checked(lib, person):
    _audit_with_entries(lib, person)
    with lib.session() as s:
        s.execute(
            text(
                "UPDATE settings SET value = replace(value, '\"count\": 5', '\"count\": 4')"
                " WHERE key = 'audit_head'"
            )
        )
    assert not verify_audit(lib).ok


def test_every_grant_revocation_and_decision_is_audited(lib, person):
    from likeness.consent.audit import list_audit

    grant = issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    authorize(lib, "train-adapter", [person], model="tiny")
    revoke_grant(lib, grant.id)
    kinds = [e["kind"] for e in list_audit(lib)]
    assert kinds == ["grant", "decision", "revoke"]
    with lib.session() as s:
        assert s.scalar(select(Person.name).where(Person.id == person)) is None
