"""Invitations: the one-time link through which a person starts consenting for themselves.

The owner invites a person group; the link carries a random 256-bit token (only its SHA-256
is stored) bound to that group, valid for a set time, revocable until opened, and spent the
moment it is opened: whoever opens it gets a short session in which they may only pass a
live enrolment against that group and register a passkey (``consent.accounts``). A link
that was opened, revoked, has expired or never existed is refused with one message, so a
guesser learns nothing about which links exist.

A minor is invited only once the owner has named their guardian (``consent.guardians``):
another person with an account, who approves each permission the minor gives. Photoreal
stays refused for a minor whatever is signed.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from likeness import clock
from likeness.consent import audit
from likeness.consent.tables import Guardianship, Invitation, PersonAccount
from likeness.errors import ConflictError, InvalidError, NotFoundError, RefusedError
from likeness.people.records import get_person, person_id_of, person_ids_by_uid
from likeness.store import Library, hold_write_lock

#: How long an invitation is valid unless the owner says otherwise ...
INVITATION_TTL = timedelta(hours=72)
#: ... and at most.
MAX_INVITATION_TTL = timedelta(days=30)


class InvitationError(InvalidError):
    """An invitation that cannot be made or changed."""


class InvitationNotFoundError(NotFoundError, InvitationError):
    """No invitation with that id."""


class InvitationRefusedError(RefusedError):
    """A link that opens nothing: used, revoked, expired or never issued (one message)."""

    def __init__(self) -> None:
        super().__init__(
            "this invitation link is not valid: it was used, revoked or has expired. Ask the "
            "library's owner for a new one."
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class InvitationInfo:
    """An invitation as the owner sees it (never its token, which only the link holds)."""

    id: str
    person_id: int | None
    created_at: datetime
    expires_at: datetime
    opened_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.opened_at is not None:
            return "opened"
        return "expired" if now >= self.expires_at else "pending"

    def as_json(self, now: datetime | None = None) -> dict:
        return {
            "id": self.id,
            "person": self.person_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "status": self.status(clock.now(now)),
        }


def _info(row: Invitation, person_id: int | None) -> InvitationInfo:
    return InvitationInfo(
        row.id, person_id, row.created_at, row.expires_at, row.opened_at, row.revoked_at
    )


def invite_person(
    lib: Library,
    person_id: int,
    valid_for: timedelta = INVITATION_TTL,
    now: datetime | None = None,
) -> tuple[InvitationInfo, str]:
    """Invite a person to consent for themselves: the invitation and the token its link
    carries (``/invite/<token>``; shown once, never stored)."""
    if not timedelta(minutes=5) <= valid_for <= MAX_INVITATION_TTL:
        raise InvitationError(
            f"an invitation is valid for 5 minutes to {MAX_INVITATION_TTL.days} days",
            field="hours",
        )
    now = clock.now(now)
    token = secrets.token_urlsafe(32)
    with lib.session() as s:
        person = get_person(s, person_id)
        if person.do_not_generate:
            raise InvitationError(
                "this person erased their biometric data: there is no face left to check "
                "them against, and nothing of them can be generated",
                field="person",
            )
        if person.is_minor and s.get(Guardianship, person.uid) is None:
            raise InvitationError(
                "a minor cannot be invited to consent alone: name their guardian first "
                "(another person with an account; `likeness people guardian MINOR GUARDIAN`)",
                field="person",
            )
        if s.get(PersonAccount, person.uid) is not None:
            raise ConflictError("this person already has an account: they sign in with a passkey")
        row = Invitation(
            id=uuid.uuid4().hex,
            token_hash=token_hash(token),
            person_uid=person.uid,
            created_at=now,
            expires_at=now + valid_for,
        )
        s.add(row)
        audit.append(
            lib,
            s,
            "invite",
            {
                "invitation": row.id,
                "subject": person.uid,
                "expires_at": row.expires_at.isoformat(),
                "by": audit.OWNER,
            },
        )
        return _info(row, person_id), token


def list_invitations(lib: Library, person_id: int | None = None) -> list[InvitationInfo]:
    """Every invitation, or one person's, newest first."""
    with lib.session() as s:
        ids = person_ids_by_uid(s)
        query = select(Invitation).order_by(Invitation.created_at.desc())
        if person_id is not None:
            query = query.where(Invitation.person_uid == get_person(s, person_id).uid)
        return [_info(row, ids.get(row.person_uid)) for row in s.scalars(query)]


def revoke_invitation(lib: Library, invitation_id: str, now: datetime | None = None) -> bool:
    """Revoke an invitation before it is opened (False when it was revoked already; an
    opened one is spent and cannot be)."""
    now = clock.now(now)
    with lib.session() as s:
        row = s.get(Invitation, invitation_id)
        if row is None:
            raise InvitationNotFoundError(f"no invitation with id {invitation_id}")
        if row.revoked_at is not None:
            return False
        if row.opened_at is not None:
            raise ConflictError("this invitation was opened already; it cannot be revoked")
        row.revoked_at = now
        audit.append(
            lib,
            s,
            "invite-revoke",
            {"invitation": row.id, "subject": row.person_uid, "by": audit.OWNER},
        )
    return True


@dataclass(frozen=True)
class OpenedInvitation:
    """What opening a link gives its holder: the group they may enrol against."""

    id: str
    person_uid: str
    opened_at: datetime


def _usable(session, token: str, now: datetime) -> Invitation:
    row = session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
    if (
        row is None
        or row.opened_at is not None
        or row.revoked_at is not None
        or now >= row.expires_at
        or person_id_of(session, row.person_uid) is None
        # Once the person has an account, links made before it open nothing: their holder
        # could otherwise add a passkey to it.
        or session.get(PersonAccount, row.person_uid) is not None
    ):
        raise InvitationRefusedError()
    return row


def check_invitation(lib: Library, token: str, now: datetime | None = None) -> None:
    """``InvitationRefusedError`` unless the link would open now (spends nothing: its page
    says at once that a used link is used)."""
    with lib.session() as s:
        _usable(s, token, clock.now(now))


def open_invitation(lib: Library, token: str, now: datetime | None = None) -> OpenedInvitation:
    """Spend an invitation link: its group, or ``InvitationRefusedError`` for a link that
    was opened before, revoked, expired or never issued (or whose person is gone)."""
    now = clock.now(now)
    with lib.session() as s:
        # The write lock first: two tabs opening one link at once must not both get in.
        hold_write_lock(s)
        row = _usable(s, token, now)
        row.opened_at = now
        audit.append(
            lib,
            s,
            "invite-open",
            {
                "invitation": row.id,
                "subject": row.person_uid,
                "by": audit.person_actor(row.person_uid),
            },
        )
        return OpenedInvitation(row.id, row.person_uid, now)
