"""The audit log: every decision, grant and revocation, hash-chained and with a signed head.

Each entry's hash covers the previous entry's hash and its own content, so an edited, removed
or reordered entry breaks the chain from that point. Removing the newest entries leaves a valid
but shorter chain, so the head (entry count and last hash) is also signed with the library
key after every append; ``verify_audit`` checks both. Payloads carry ids and hashes, never names
or biometric data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likeness import clock
from likeness.consent.canonical import canonical_json
from likeness.consent.tables import AuditEntry
from likeness.store import Library, hold_write_lock
from likeness.store.tables import Setting

GENESIS = "0" * 64
#: Who acted, as entries name them (``by``): the library's owner, ...
OWNER = "owner"


def person_actor(person_uid: str) -> str:
    """... or a person acting for themselves (an app is ``app:<id>``)."""
    return f"person:{person_uid}"


HEAD_KEY = "audit_head"


def _entry_hash(prev_hash: str, seq: int, at: str, kind: str, payload: str) -> str:
    """``at`` as hashed: the UTC time's ISO form (``_hashed_time``)."""
    content = canonical_json([seq, at, kind, payload])
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def _hashed_time(entry: AuditEntry) -> str:
    """The entry's time in the form its hash covers: as recorded before migration 0011, the
    UTC time with its zone since."""
    return entry.at_text if entry.at_text is not None else entry.at.isoformat()


def _head_document(count: int, head: str) -> bytes:
    return canonical_json({"count": count, "head": head})


def append(lib: Library, session: Session, kind: str, payload: dict) -> int:
    """Append one entry inside the caller's transaction; returns its sequence number.

    The transaction takes the write lock before it reads the last entry: two writers at once
    (a server's request threads, a job's process) would otherwise both number theirs n+1."""
    hold_write_lock(session)
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    at = clock.now()
    text = canonical_json(payload).decode()
    digest = _entry_hash(prev, seq, at.isoformat(), kind, text)
    session.add(AuditEntry(seq=seq, at=at, kind=kind, payload=text, prev_hash=prev, hash=digest))
    signature = lib.keys.signing_key().sign(_head_document(seq, digest))
    head = session.get(Setting, HEAD_KEY)
    value = json.dumps({"count": seq, "head": digest, "signature": signature.hex()})
    if head is None:
        session.add(Setting(key=HEAD_KEY, value=value))
    else:
        head.value = value
    return seq


@dataclass
class AuditReport:
    ok: bool
    entries: int
    problem: str | None = None
    first_bad_seq: int | None = None


def verify_audit(lib: Library) -> AuditReport:
    """Walk the chain and check the signed head; report the first inconsistency."""
    from cryptography.exceptions import InvalidSignature

    with lib.session() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        head_row = s.get(Setting, HEAD_KEY)
        count = s.scalar(select(func.count()).select_from(AuditEntry))
    prev = GENESIS
    for expected_seq, e in enumerate(entries, start=1):
        if e.seq != expected_seq:
            return AuditReport(False, count, f"entry {expected_seq} is missing", expected_seq)
        if e.prev_hash != prev:
            return AuditReport(
                False, count, f"entry {e.seq} does not follow its predecessor", e.seq
            )
        if _entry_hash(prev, e.seq, _hashed_time(e), e.kind, e.payload) != e.hash:
            return AuditReport(False, count, f"entry {e.seq} was altered", e.seq)
        prev = e.hash
    if head_row is None:
        if entries:
            return AuditReport(False, count, "the signed head is missing")
        return AuditReport(True, 0)
    head = json.loads(head_row.value)
    try:
        lib.keys.signing_key().public_key().verify(
            bytes.fromhex(head["signature"]), _head_document(head["count"], head["head"])
        )
    except (InvalidSignature, ValueError, KeyError):
        return AuditReport(False, count, "the signed head does not verify")
    if head["count"] != len(entries) or head["head"] != prev:
        return AuditReport(
            False,
            count,
            f"the log ends at entry {len(entries)} but the signed head says "
            f"{head['count']}: entries were removed or added",
            len(entries) + 1,
        )
    return AuditReport(True, count)


def list_audit(lib: Library, limit: int | None = None) -> list[dict]:
    with lib.session() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())
        if limit:
            stmt = stmt.limit(limit)
        rows = s.scalars(stmt).all()
    return [
        {"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind, "payload": json.loads(e.payload)}
        for e in reversed(rows)
    ]
