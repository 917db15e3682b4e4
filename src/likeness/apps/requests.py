"""An app's request about a person who consents for themselves goes to that person.

The owner's approval of an app covers only people without an account (``server.oauth``
offers no one else). For a person with an account there are two ways in, both ending in a
grant to ``app:<id>`` that the person signs (``by = person_actor(uid)``):

- the person is there: they open the app's authorization link signed in with their passkey
  and answer it themselves (``approve_for_self``);
- the owner is there: on the approval page they send the request on (``ask_person``); it
  waits on the person's page as a pending request until they approve or deny it
  (``answer_request``), and the app is told to ask again. When it does, the owner's
  approval may include that person by the grant the person signed (``self_signed_grant``),
  never by signing one.

A request is answered once, and lapses after ``REQUEST_TTL`` unanswered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from likeness import clock
from likeness.apps.registry import APP_SCOPES, AppError, app_scopes, get_app
from likeness.apps.requester import Requester
from likeness.apps.tables import AppRequest
from likeness.consent import audit
from likeness.consent.grants import ConsentGrant, Scope, Trust, grants_for, issue_grant
from likeness.consent.tables import PersonAccount
from likeness.errors import NotFoundError
from likeness.people.records import get_person
from likeness.store import Library, hold_write_lock

REQUEST_TTL = timedelta(days=7)


class AppRequestNotFoundError(NotFoundError):
    """No pending request with that id, for this person."""


@dataclass(frozen=True)
class AppRequestInfo:
    id: str
    app_id: str
    app_name: str
    person_id: int | None
    scopes: tuple[str, ...]
    days: int
    created_at: datetime
    expires_at: datetime
    answer: str | None  # None (pending), "approved", "denied"
    grant_id: str | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "app": self.app_id,
            "app_name": self.app_name,
            "person": self.person_id,
            "scopes": list(self.scopes),
            "days": self.days,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "answer": self.answer,
            "grant": self.grant_id,
        }


def check_person(s, person_id: int) -> str:
    """The uid of a person an app may ask for themselves: one with an account, not a
    minor, not one who asked never to be generated."""
    person = get_person(s, person_id)
    if s.get(PersonAccount, person.uid) is None:
        raise AppError(f"person {person_id} has no account: the owner's approval covers them")
    if person.is_minor:
        raise AppError(f"person {person_id} is marked as a minor: no app may ask for them")
    if person.do_not_generate:
        raise AppError(f"person {person_id} asked never to be generated")
    return person.uid


def _check_app(lib: Library, app_id: str, scopes: list[str], days: int) -> list[str]:
    from likeness.apps.registry import MAX_APPROVAL_DAYS

    if get_app(lib, app_id).revoked_at is not None:
        raise AppError(f"app {app_id} is revoked")
    if not 1 <= days <= MAX_APPROVAL_DAYS:
        raise AppError(f"an app's grant lasts 1 to {MAX_APPROVAL_DAYS} days")
    return app_scopes(" ".join(scopes))


def ask_person(
    lib: Library, app_id: str, person_id: int, scopes: list[str], days: int
) -> AppRequestInfo:
    """Send an app's request on to a person with an account (the owner, on the approval
    page). One pending request per app and person: asking again renews it."""
    scopes = _check_app(lib, app_id, scopes, days)
    now = clock.now()
    with lib.session() as s:
        hold_write_lock(s)
        uid = check_person(s, person_id)
        row = s.scalar(
            select(AppRequest).where(
                AppRequest.app_id == app_id,
                AppRequest.person_uid == uid,
                AppRequest.answered_at.is_(None),
                AppRequest.expires_at > now,
            )
        )
        if row is None:
            row = AppRequest(id=uuid.uuid4().hex, app_id=app_id, person_uid=uid)
            s.add(row)
        row.scopes, row.days = " ".join(scopes), days
        row.created_at, row.expires_at = now, now + REQUEST_TTL
        s.flush()
        audit.append(
            lib,
            s,
            "app-request",
            {"request": row.id, "app": app_id, "subject": uid, "scopes": scopes, "by": audit.OWNER},
        )
        return _info(lib, row, person_id)


def _info(lib: Library, row: AppRequest, person_id: int | None) -> AppRequestInfo:
    return AppRequestInfo(
        row.id,
        row.app_id,
        get_app(lib, row.app_id).name,
        person_id,
        tuple(row.scopes.split()),
        row.days,
        row.created_at,
        row.expires_at,
        row.answer,
        row.grant_id,
    )


def pending_requests(lib: Library, person_id: int) -> list[AppRequestInfo]:
    """The requests waiting for this person's answer (newest first), of apps not revoked."""
    now = clock.now()
    with lib.session() as s:
        uid = get_person(s, person_id).uid
        rows = s.scalars(
            select(AppRequest)
            .where(
                AppRequest.person_uid == uid,
                AppRequest.answered_at.is_(None),
                AppRequest.expires_at > now,
            )
            .order_by(AppRequest.created_at.desc())
        ).all()
    infos = [_info(lib, row, person_id) for row in rows]
    return [i for i in infos if get_app(lib, i.app_id).revoked_at is None]


def _sign_for_self(
    lib: Library,
    app_id: str,
    person_id: int,
    scopes: list[str],
    days: int,
    enrolment_id: str | None,
) -> ConsentGrant:
    with lib.session() as s:
        uid = check_person(s, person_id)
    return issue_grant(
        lib,
        person_id,
        [Scope(x) for x in scopes],
        Trust.VERIFIED if enrolment_id else Trust.ATTESTED,
        grantee=Requester.app(app_id),
        expires_in=timedelta(days=days),
        enrolment_id=enrolment_id,
        by=audit.person_actor(uid),
    )


def answer_request(
    lib: Library,
    request_id: str,
    person_id: int,
    approve: bool,
    enrolment_id: str | None = None,
) -> AppRequestInfo:
    """The person's answer to a pending request about them: approving signs their grant to
    the app (verified with a live check of theirs passed in this session, else attested by
    them: the tiny models only). Any other person's request is not found."""
    now = clock.now()
    with lib.session() as s:
        hold_write_lock(s)
        uid = get_person(s, person_id).uid
        row = s.get(AppRequest, request_id)
        if (
            row is None
            or row.person_uid != uid
            or row.answered_at is not None
            or row.expires_at <= now
        ):
            raise AppRequestNotFoundError(f"no pending request with id {request_id}")
        # Claimed here, in the locked transaction: a second answer finds it answered.
        row.answered_at, row.answer = now, "approved" if approve else "denied"
        app_id, scopes, days = row.app_id, row.scopes.split(), row.days
    grant = None
    if approve:
        try:
            scopes = _check_app(lib, app_id, scopes, days)
            grant = _sign_for_self(lib, app_id, person_id, scopes, days, enrolment_id)
        except Exception:
            with lib.session() as s:  # not signed: the request may be answered again
                row = s.get(AppRequest, request_id)
                row.answered_at, row.answer = None, None
            raise
    with lib.session() as s:
        row = s.get(AppRequest, request_id)
        row.grant_id = grant.id if grant else None
        audit.append(
            lib,
            s,
            "app-request-answer",
            {
                "request": request_id,
                "app": app_id,
                "subject": uid,
                "approved": approve,
                "grant": row.grant_id,
                "by": audit.person_actor(uid),
            },
        )
        return _info(lib, row, person_id)


def lapse_requests(lib: Library, person_id: int) -> int:
    """Close every pending request about this person (they erased their biometric data):
    the number closed."""
    now = clock.now()
    with lib.session() as s:
        uid = get_person(s, person_id).uid
        return s.execute(
            update(AppRequest)
            .where(AppRequest.person_uid == uid, AppRequest.answered_at.is_(None))
            .values(answered_at=now, answer="lapsed")
        ).rowcount


def approve_for_self(
    lib: Library,
    app_id: str,
    person_id: int,
    scopes: list[str],
    days: int,
    enrolment_id: str | None = None,
) -> str:
    """A person, signed in at the app's authorization link, approves it for themselves: the
    grant they sign (its id: the app's code rests on it)."""
    scopes = _check_app(lib, app_id, scopes, days)
    return _sign_for_self(lib, app_id, person_id, scopes, days, enrolment_id).id


def self_signed_grant(lib: Library, app_id: str, person_id: int, scopes: list[str]) -> str | None:
    """The grant in force a person with an account signed to this app covering every one of
    ``scopes`` (the latest), which an approval may rest on for them; None if there is none.
    A grant signed before they had an account was the owner's: it does not count."""
    now = clock.now()
    with lib.session() as s:
        person = get_person(s, person_id)
        account = s.get(PersonAccount, person.uid)
        if account is None or person.do_not_generate or person.is_minor:
            return None
        since = account.created_at
        uid = person.uid
    wanted = {Scope(x) for x in scopes if x in APP_SCOPES}
    found = [
        g
        for g in grants_for(lib, uid)
        if g.grantee == Requester.app(app_id)
        and g.in_force(now)
        and g.issued_at >= since
        and wanted <= set(g.scopes)
    ]
    return max(found, key=lambda g: g.issued_at).id if found else None
