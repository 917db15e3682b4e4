"""Requests for a permission, answered by the person who consents for themselves.

Once a person has an account, no one signs a grant about them but them (``consent.grants``).
Whoever wants one asks: the library's owner for themselves (``request_grant`` with
``grantee=OWNER``), or for an app whose request they send on (``apps.requests``). The
request waits on the person's page until they approve it (signing the grant as themselves,
``by = person_actor(uid)``: verified when they passed a live check in that session, else
stated by them, which drives the built-in test models only) or deny it.

A request is claimed in the locked transaction that checks it is pending, before its grant
is signed: two answers sent at once sign one grant, and a signing that fails leaves it open.
One request per grantee and person waits at a time (asking again renews it); it lapses after
``REQUEST_TTL`` unanswered, or at once when the person erases their biometric data. A minor,
or a person who asked never to be generated, cannot be asked (a minor gives permissions on
their page, with their guardian: ``consent.guardians``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from likeness import clock
from likeness.consent import audit
from likeness.consent.grants import OWNER, ConsentGrant, Scope, Trust, issue_grant
from likeness.consent.tables import GrantRequest, PersonAccount
from likeness.errors import InvalidError, NotFoundError
from likeness.people.records import get_person
from likeness.store import Library, hold_write_lock

REQUEST_TTL = timedelta(days=7)


class GrantRequestError(InvalidError):
    """A request that cannot be made (no account, a minor, a person erased, no scope)."""


class GrantRequestNotFoundError(NotFoundError):
    """No pending request with that id, for this person."""


@dataclass(frozen=True)
class GrantRequestInfo:
    id: str
    #: Who would hold the grant: ``owner`` or ``app:<id>``.
    grantee: str
    person_id: int
    scopes: tuple[str, ...]
    #: How long the grant lasts once signed (None: until withdrawn).
    days: int | None
    created_at: datetime
    expires_at: datetime
    answer: str | None  # None (pending), "approved", "denied", "lapsed"
    grant_id: str | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "grantee": self.grantee,
            "person": self.person_id,
            "scopes": list(self.scopes),
            "days": self.days,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "answer": self.answer,
            "grant": self.grant_id,
        }


def _info(row: GrantRequest, person_id: int) -> GrantRequestInfo:
    return GrantRequestInfo(
        row.id,
        row.grantee,
        person_id,
        tuple(row.scopes.split()),
        row.days,
        row.created_at,
        row.expires_at,
        row.answer,
        row.grant_id,
    )


def check_person(s: Session, person_id: int) -> str:
    """The uid of a person who can be asked for a permission: one with an account, not a
    minor, not one who asked never to be generated (``GrantRequestError`` saying which)."""
    person = get_person(s, person_id)
    if s.get(PersonAccount, person.uid) is None:
        raise GrantRequestError(
            f"person {person_id} has no account: the owner decides for them", field="person"
        )
    if person.is_minor:
        raise GrantRequestError(
            f"person {person_id} is marked as a minor: they give permissions on their page, "
            "with their guardian; no app may ask for them",
            field="person",
        )
    if person.do_not_generate:
        raise GrantRequestError(f"person {person_id} asked never to be generated")
    return person.uid


def request_grant(
    lib: Library,
    person_id: int,
    grantee: str,
    scopes: list[Scope] | list[str],
    days: int | None,
    by: str = OWNER,
) -> GrantRequestInfo:
    """Ask a person with an account for a permission to ``grantee`` (``by`` the owner: for
    themselves, or sending an app's request on)."""
    if grantee != OWNER and not grantee.startswith("app:"):
        raise GrantRequestError(f"a permission is asked for the owner or an app, not {grantee!r}")
    chosen = sorted({Scope(x).value for x in scopes})
    if not chosen:
        raise GrantRequestError("a request needs at least one scope", field="scopes")
    if days is not None and not 1 <= days <= 36500:
        raise GrantRequestError("a permission lasts 1 to 36,500 days", field="days")
    now = clock.now()
    with lib.session() as s:
        hold_write_lock(s)
        uid = check_person(s, person_id)
        row = s.scalar(
            select(GrantRequest).where(
                GrantRequest.grantee == grantee,
                GrantRequest.person_uid == uid,
                GrantRequest.answered_at.is_(None),
                GrantRequest.expires_at > now,
            )
        )
        if row is None:
            row = GrantRequest(id=uuid.uuid4().hex, grantee=grantee, person_uid=uid)
            s.add(row)
        row.scopes, row.days = " ".join(chosen), days
        row.created_at, row.expires_at = now, now + REQUEST_TTL
        s.flush()
        audit.append(
            lib,
            s,
            "grant-request",
            {"request": row.id, "grantee": grantee, "subject": uid, "scopes": chosen, "by": by},
        )
        return _info(row, person_id)


def pending_grant_requests(lib: Library, person_id: int) -> list[GrantRequestInfo]:
    """The requests waiting for this person's answer, newest first (none while they cannot
    answer any: marked a minor since, or erased)."""
    now = clock.now()
    with lib.session() as s:
        person = get_person(s, person_id)
        if person.is_minor or person.do_not_generate:
            return []
        uid = person.uid
        rows = s.scalars(
            select(GrantRequest)
            .where(
                GrantRequest.person_uid == uid,
                GrantRequest.answered_at.is_(None),
                GrantRequest.expires_at > now,
            )
            .order_by(GrantRequest.created_at.desc())
        ).all()
        return [_info(row, person_id) for row in rows]


def sign_for_self(
    lib: Library,
    person_id: int,
    grantee: str,
    scopes: list[str],
    days: int | None,
    enrolment_id: str | None = None,
) -> ConsentGrant:
    """The person's own grant to ``grantee``: verified on a live check of theirs, else
    stated by them."""
    with lib.session() as s:
        uid = check_person(s, person_id)
    return issue_grant(
        lib,
        person_id,
        [Scope(x) for x in scopes],
        Trust.VERIFIED if enrolment_id else Trust.ATTESTED,
        grantee=grantee,
        expires_in=timedelta(days=days) if days else None,
        enrolment_id=enrolment_id,
        by=audit.person_actor(uid),
    )


def answer_grant_request(
    lib: Library,
    request_id: str,
    person_id: int,
    approve: bool,
    enrolment_id: str | None = None,
    still_valid: Callable[[GrantRequestInfo], None] | None = None,
) -> GrantRequestInfo:
    """The person's answer: approving signs their grant (``sign_for_self``). Any other
    person's request is not found. ``still_valid`` raises if the grantee can no longer be
    given it (an app revoked since)."""
    now = clock.now()
    with lib.session() as s:
        hold_write_lock(s)
        uid = get_person(s, person_id).uid
        row = s.get(GrantRequest, request_id)
        if (
            row is None
            or row.person_uid != uid
            or row.answered_at is not None
            or row.expires_at <= now
        ):
            raise GrantRequestNotFoundError(f"no pending request with id {request_id}")
        if approve:
            check_person(s, person_id)  # marked a minor since, or erased: nothing to sign
        # Claimed here, in the locked transaction: a second answer finds it answered.
        row.answered_at, row.answer = now, "approved" if approve else "denied"
        asked = _info(row, person_id)
    grant = None
    if approve:
        try:
            if still_valid is not None:
                still_valid(asked)
            grant = sign_for_self(
                lib, person_id, asked.grantee, list(asked.scopes), asked.days, enrolment_id
            )
        except Exception:
            with lib.session() as s:  # not signed: it may be answered again, if it still can
                row = s.get(GrantRequest, request_id)
                if get_person(s, person_id).do_not_generate:
                    row.answer = "lapsed"
                else:
                    row.answered_at, row.answer = None, None
            raise
    with lib.session() as s:
        row = s.get(GrantRequest, request_id)
        row.grant_id = grant.id if grant else None
        audit.append(
            lib,
            s,
            "grant-request-answer",
            {
                "request": request_id,
                "grantee": asked.grantee,
                "subject": uid,
                "approved": approve,
                "grant": row.grant_id,
                "by": audit.person_actor(uid),
            },
        )
        return _info(row, person_id)


def lapse_grant_requests(
    lib: Library, person_uid: str | None = None, grantee: str | None = None
) -> int:
    """Close the requests waiting for this person (they erased their biometric data), or
    of this grantee (an app revoked): the number closed."""
    if person_uid is None and grantee is None:
        raise ValueError("whose requests? a person's uid or a grantee")
    which = [GrantRequest.answered_at.is_(None)]
    if person_uid is not None:
        which.append(GrantRequest.person_uid == person_uid)
    if grantee is not None:
        which.append(GrantRequest.grantee == grantee)
    with lib.session() as s:
        return s.execute(
            update(GrantRequest).where(*which).values(answered_at=clock.now(), answer="lapsed")
        ).rowcount
