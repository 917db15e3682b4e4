"""Guardians: a minor consents for themselves only with their guardian's approval.

The owner names a minor's guardian: another person of the library with an account of their
own (``consent.accounts``), not a minor, not one who asked never to be generated. Then the
minor may be invited like anyone (``consent.invitations``), pass a live check, and make a
passkey. A permission the minor gives on their page is not signed at once: it waits for the
guardian (``ask_guardian``), who approves or denies it on their own page
(``answer_guardian_request``). Approved, it is signed as the minor's, on the minor's live
check, with the guardian named in its evidence and in the audit log. The live check must be
at most a day old when the guardian approves (``enrolment.passed_enrolment``); an older one
is refused, and the minor asks again.

Photoreal stays refused for a minor whatever is signed (``consent.policy``), and no app may
ask for a minor (``apps.registry``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from likeness import clock
from likeness.consent import audit
from likeness.consent.grants import ConsentGrant, Scope, Trust, issue_grant
from likeness.consent.tables import GuardianRequest, Guardianship, PersonAccount
from likeness.errors import InvalidError, NotFoundError
from likeness.people.records import get_person, person_id_of
from likeness.store import Library, hold_write_lock


class GuardianError(InvalidError):
    """A guardian who cannot be named, or a request that cannot be made."""


class GuardianRequestNotFoundError(NotFoundError):
    """No pending request with that id, for this guardian."""


def name_guardian(lib: Library, minor_id: int, guardian_id: int | None) -> None:
    """The owner names (or, with None, removes) a minor's guardian. Pending requests to a
    guardian who is replaced lapse."""
    now = clock.now()
    with lib.session() as s:
        hold_write_lock(s)
        minor = get_person(s, minor_id)
        if not minor.is_minor:
            raise GuardianError(f"person {minor_id} is not marked as a minor", field="person")
        row = s.get(Guardianship, minor.uid)
        if guardian_id is None:
            if row is not None:
                s.delete(row)
            _lapse(s, minor.uid, keep=None, now=now)
            audit.append(lib, s, "guardian", {"subject": minor.uid, "guardian": None})
            return
        guardian = get_person(s, guardian_id)
        if guardian.id == minor.id:
            raise GuardianError("a minor cannot be their own guardian", field="guardian")
        if s.get(PersonAccount, guardian.uid) is None:
            raise GuardianError(
                f"person {guardian_id} has no account: invite them first (a guardian signs "
                "in with a passkey to approve)",
                field="guardian",
            )
        if guardian.is_minor or guardian.do_not_generate:
            raise GuardianError(
                f"person {guardian_id} cannot be a guardian (a minor, or erased)",
                field="guardian",
            )
        if row is None:
            row = Guardianship(minor_uid=minor.uid)
            s.add(row)
        row.guardian_uid, row.named_at = guardian.uid, now
        _lapse(s, minor.uid, keep=guardian.uid, now=now)
        audit.append(lib, s, "guardian", {"subject": minor.uid, "guardian": guardian.uid})


def _lapse(s, minor_uid: str, keep: str | None, now: datetime) -> None:
    """Close a minor's pending requests to any guardian but ``keep`` (one replaced)."""
    s.execute(
        update(GuardianRequest)
        .where(
            GuardianRequest.minor_uid == minor_uid,
            GuardianRequest.answered_at.is_(None),
            GuardianRequest.guardian_uid != (keep or ""),
        )
        .values(answered_at=now, answer="lapsed")
    )


def lapse_requests_of(lib: Library, minor_uid: str) -> None:
    """Close every pending request of this person (an erasure)."""
    with lib.session() as s:
        _lapse(s, minor_uid, keep=None, now=clock.now())


def guardian_of(lib: Library, minor_id: int) -> int | None:
    """The person id of a minor's guardian (None if none is named)."""
    with lib.session() as s:
        row = s.get(Guardianship, get_person(s, minor_id).uid)
        return person_id_of(s, row.guardian_uid) if row else None


@dataclass(frozen=True)
class GuardianRequestInfo:
    id: str
    minor_uid: str
    minor_id: int | None
    minor_name: str | None
    scopes: tuple[str, ...]
    expires_days: int | None
    created_at: datetime
    answer: str | None
    grant_id: str | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "minor": self.minor_id,
            "minor_name": self.minor_name,
            "scopes": list(self.scopes),
            "expires_days": self.expires_days,
            "created_at": self.created_at.isoformat(),
            "answer": self.answer,
            "grant": self.grant_id,
        }


def _info(s, row: GuardianRequest) -> GuardianRequestInfo:
    minor_id = person_id_of(s, row.minor_uid)
    return GuardianRequestInfo(
        row.id,
        row.minor_uid,
        minor_id,
        get_person(s, minor_id).name if minor_id is not None else None,
        tuple(row.scopes.split()),
        row.expires_days,
        row.created_at,
        row.answer,
        row.grant_id,
    )


def ask_guardian(
    lib: Library,
    minor_id: int,
    scopes: list[Scope] | list[str],
    expires_days: int | None,
    enrolment_id: str,
) -> GuardianRequestInfo:
    """A minor asks to give a permission to the owner, on a live check of theirs (checked
    now, and again when the guardian answers): it waits for their guardian."""
    from likeness.consent.enrolment import EnrolmentError, passed_enrolment

    chosen = sorted({Scope(x).value for x in scopes})
    if not chosen:
        raise GuardianError("a permission needs at least one scope")
    now = clock.now()
    with lib.session() as s:
        minor = get_person(s, minor_id)
        uid = minor.uid
        if not minor.is_minor:
            raise GuardianError("only a minor's permissions wait for a guardian")
        guardianship = s.get(Guardianship, uid)
        if guardianship is None:
            raise GuardianError("no guardian is named for you: ask the library's owner")
    try:
        passed_enrolment(lib, enrolment_id, uid, now, live=True)
    except EnrolmentError as exc:
        raise GuardianError(str(exc)) from None
    with lib.session() as s:
        row = GuardianRequest(
            id=uuid.uuid4().hex,
            minor_uid=uid,
            guardian_uid=guardianship.guardian_uid,
            scopes=" ".join(chosen),
            expires_days=expires_days,
            enrolment_id=enrolment_id,
            created_at=now,
        )
        s.add(row)
        s.flush()
        audit.append(
            lib,
            s,
            "guardian-request",
            {"request": row.id, "subject": uid, "scopes": chosen, "by": audit.person_actor(uid)},
        )
        return _info(s, row)


def _requests(lib: Library, column, uid: str) -> list[GuardianRequestInfo]:
    with lib.session() as s:
        rows = s.scalars(
            select(GuardianRequest)
            .where(column == uid, GuardianRequest.answered_at.is_(None))
            .order_by(GuardianRequest.created_at.desc())
        ).all()
        return [_info(s, r) for r in rows]


def requests_to_guardian(lib: Library, guardian_id: int) -> list[GuardianRequestInfo]:
    """The requests of this guardian's wards (whose guardian they are now), waiting for
    their answer (newest first)."""
    with lib.session() as s:
        uid = get_person(s, guardian_id).uid
        wards = set(
            s.scalars(select(Guardianship.minor_uid).where(Guardianship.guardian_uid == uid))
        )
    return [r for r in _requests(lib, GuardianRequest.guardian_uid, uid) if r.minor_uid in wards]


def requests_of_minor(lib: Library, minor_id: int) -> list[GuardianRequestInfo]:
    """A minor's own requests still waiting for their guardian."""
    with lib.session() as s:
        uid = get_person(s, minor_id).uid
    return _requests(lib, GuardianRequest.minor_uid, uid)


def answer_guardian_request(
    lib: Library, request_id: str, guardian_id: int, approve: bool
) -> GuardianRequestInfo:
    """The guardian's answer: approving signs the minor's permission (the minor's live check
    as its evidence, the guardian named beside it). Only the minor's present guardian may
    answer; anyone else's request is not found."""
    now = clock.now()
    with lib.session() as s:
        hold_write_lock(s)
        guardian = get_person(s, guardian_id)
        guardian_uid = guardian.uid
        row = s.get(GuardianRequest, request_id)
        present = s.get(Guardianship, row.minor_uid) if row is not None else None
        still_fit = (
            s.get(PersonAccount, guardian_uid) is not None
            and not guardian.is_minor
            and not guardian.do_not_generate
        )
        if (
            row is None
            or row.answered_at is not None
            or row.guardian_uid != guardian_uid
            or present is None
            or present.guardian_uid != guardian_uid
            or not still_fit
        ):
            raise GuardianRequestNotFoundError(f"no pending request with id {request_id}")
        # Claimed here, in the locked transaction: a second answer finds it answered.
        row.answered_at, row.answer = now, "approved" if approve else "denied"
        minor_uid, scopes = row.minor_uid, row.scopes.split()
        days, enrolment_id = row.expires_days, row.enrolment_id
        minor_id = person_id_of(s, minor_uid)
    grant: ConsentGrant | None = None
    if approve:
        try:
            if minor_id is None:
                raise GuardianRequestNotFoundError(f"no pending request with id {request_id}")
            grant = issue_grant(
                lib,
                minor_id,
                [Scope(x) for x in scopes],
                Trust.VERIFIED,
                expires_in=timedelta(days=days) if days else None,
                enrolment_id=enrolment_id,
                evidence=(f"guardian:{guardian_uid}",),
                by=audit.person_actor(minor_uid),
                guardian=guardian_uid,
            )
        except Exception:
            with lib.session() as s:  # not signed: the request may be answered again
                row = s.get(GuardianRequest, request_id)
                row.answered_at, row.answer = None, None
            raise
    with lib.session() as s:
        row = s.get(GuardianRequest, request_id)
        row.grant_id = grant.id if grant else None
        audit.append(
            lib,
            s,
            "guardian-answer",
            {
                "request": request_id,
                "subject": minor_uid,
                "approved": approve,
                "grant": row.grant_id,
                "by": audit.person_actor(guardian_uid),
            },
        )
        return _info(s, row)
