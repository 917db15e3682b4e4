"""People's own accounts: a passkey, registered after a live enrolment, to sign in with.

A person who opened their invitation (``consent.invitations``) and passed a live enrolment
against their own group registers a passkey (WebAuthn, verified by ``webauthn``, the Duo
Labs library: no hand-written CBOR or COSE here). From then on they sign in with it, see and
revoke the grants about them, and sign new ones themselves; the owner can no longer sign a
grant for them (``consent.grants.issue_grant``).

The relying party is the server as the browser reaches it: ``rp_id`` is the host name and
``origin`` the scheme, host and port, and a passkey works only there (a phone that
registered at ``https://likeness.lan:8765`` signs in there, not at another name).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from likeness import clock
from likeness.consent import audit
from likeness.consent.enrolment import EnrolmentError, passed_enrolment
from likeness.consent.tables import (
    Enrolment,
    Invitation,
    Passkey,
    PersonAccount,
)
from likeness.errors import ConflictError, InvalidError, NotFoundError, RefusedError
from likeness.faces.tables import Face
from likeness.people.records import person_id_of, person_ids_by_uid
from likeness.people.tables import Person
from likeness.store import Library, hold_write_lock

RP_NAME = "likeness"
#: A passkey is registered within this long of the enrolment it rests on ...
ENROLMENT_MAX_AGE = timedelta(hours=1)
#: ... and another one added within this long of a live check.
ADD_ENROLMENT_MAX_AGE = timedelta(minutes=10)


class AccountError(InvalidError):
    """A passkey that cannot be registered (no passed enrolment, a malformed credential)."""


class AccountConflictError(ConflictError, AccountError):
    """An account that exists already."""


class PasskeyNotFoundError(NotFoundError, AccountError):
    """No passkey with that id, of this person."""


class SignInRefusedError(RefusedError):
    """A passkey sign-in that did not verify (one message, whatever the cause)."""

    def __init__(self) -> None:
        super().__init__("this passkey is not registered here, or did not verify")


@dataclass(frozen=True)
class AccountInfo:
    person_uid: str
    person_id: int | None
    created_at: datetime
    passkeys: int


def account_person_ids(lib: Library) -> set[int]:
    """The ids of every person here who consents for themselves."""
    with lib.session() as s:
        ids = person_ids_by_uid(s)
        return {ids[u] for u in s.scalars(select(PersonAccount.person_uid)) if u in ids}


def account(lib: Library, person_uid: str) -> AccountInfo | None:
    with lib.session() as s:
        row = s.get(PersonAccount, person_uid)
        if row is None:
            return None
        keys = s.scalars(select(Passkey).where(Passkey.person_uid == person_uid)).all()
        return AccountInfo(person_uid, person_id_of(s, person_uid), row.created_at, len(keys))


def user_handle(lib: Library, person_uid: str) -> bytes:
    """The WebAuthn user handle for this person: their account's, or a new random one for
    a first passkey (kept when it registers)."""
    with lib.session() as s:
        row = s.get(PersonAccount, person_uid)
    return row.user_handle if row is not None else secrets.token_bytes(32)


def registration_options(
    lib: Library, person_uid: str, handle: bytes, display_name: str, rp_id: str, challenge: bytes
) -> str:
    """The ``PublicKeyCredentialCreationOptions`` (JSON) for the browser: a resident key
    (a passkey: sign-in needs no user name), user verification preferred, the person's
    existing passkeys excluded."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    with lib.session() as s:
        existing = s.scalars(select(Passkey.credential_id).where(Passkey.person_uid == person_uid))
        exclude = [PublicKeyCredentialDescriptor(id=c) for c in existing]
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_id=handle,
        user_name=display_name,
        user_display_name=display_name,
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=exclude,
    )
    return options_to_json(options)


def register_passkey(
    lib: Library,
    *,
    person_uid: str,
    invitation_id: str,
    enrolment_id: str,
    handle: bytes,
    credential: dict,
    challenge: bytes,
    rp_id: str,
    origin: str,
    now: datetime | None = None,
) -> AccountInfo:
    """Register a passkey for a person who opened ``invitation_id`` and then passed the live
    enrolment ``enrolment_id`` against their own group: their account is made with the
    first one."""
    now = clock.now(now)
    enrolment = live_enrolment(lib, enrolment_id, person_uid, now, ENROLMENT_MAX_AGE)
    with lib.session() as s:
        invitation = s.get(Invitation, invitation_id)
        if (
            invitation is None
            or invitation.person_uid != person_uid
            or invitation.opened_at is None
            or enrolment.created_at < invitation.opened_at
        ):
            raise AccountError("the live enrolment must follow the invitation it answers")
        if s.get(PersonAccount, person_uid) is not None:
            # A second passkey is not taken through an invitation: a link opened before the
            # account was made would otherwise add its holder's key to it.
            raise AccountConflictError("this person has an account already")
    verified = _verified_registration(credential, challenge, rp_id, origin)
    with lib.session() as s:
        hold_write_lock(s)
        if s.get(PersonAccount, person_uid) is not None:
            raise AccountConflictError("this person has an account already")
        s.add(
            PersonAccount(
                person_uid=person_uid,
                user_handle=handle,
                created_at=now,
                invitation_id=invitation_id,
            )
        )
        # Their group is theirs now: the owner cannot regroup it, and a re-cluster keeps
        # every face it holds (locked faces never move).
        person = s.scalar(select(Person).where(Person.uid == person_uid))
        if person is None:  # merged into another group (or erased) since the invitation
            raise AccountError("your person group is no longer in this library")
        person.consents_for_self = True
        s.execute(update(Face).where(Face.person_id == person.id).values(locked=True))
        _store_passkey(
            lib, s, verified, person_uid, now, {"invitation": invitation_id}, enrolment_id
        )
    info = account(lib, person_uid)
    assert info is not None
    return info


def _verified_registration(credential: dict, challenge: bytes, rp_id: str, origin: str):
    from webauthn import verify_registration_response
    from webauthn.helpers.exceptions import InvalidRegistrationResponse

    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise AccountError(f"the passkey did not verify: {exc}") from None


def _store_passkey(lib, s, verified, person_uid: str, now, extra: dict, enrolment_id: str):
    """Store a verified passkey and audit it, in the caller's transaction (under the write
    lock); one registered already is refused."""
    if s.get(Passkey, verified.credential_id) is not None:
        raise AccountError("this passkey is registered already")
    s.add(
        Passkey(
            credential_id=verified.credential_id,
            person_uid=person_uid,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            created_at=now,
        )
    )
    audit.append(
        lib,
        s,
        "passkey",
        {
            "subject": person_uid,
            **extra,
            "enrolment": enrolment_id,
            "by": audit.person_actor(person_uid),
        },
    )


def add_passkey(
    lib: Library,
    *,
    person_uid: str,
    enrolment_id: str,
    credential: dict,
    challenge: bytes,
    rp_id: str,
    origin: str,
    now: datetime | None = None,
) -> None:
    """Add another passkey (a new phone) to a signed-in person's account, on a live check
    they passed just now (``ADD_ENROLMENT_MAX_AGE``): a stolen session alone adds none."""
    now = clock.now(now)
    live_enrolment(lib, enrolment_id, person_uid, now, ADD_ENROLMENT_MAX_AGE)
    verified = _verified_registration(credential, challenge, rp_id, origin)
    with lib.session() as s:
        hold_write_lock(s)
        if s.get(PersonAccount, person_uid) is None:
            raise AccountError("no account: open your invitation link first")
        _store_passkey(lib, s, verified, person_uid, now, {"added": True}, enrolment_id)


@dataclass(frozen=True)
class PasskeyInfo:
    id: str  # base64url of the credential id
    created_at: datetime
    last_used_at: datetime | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def list_passkeys(lib: Library, person_uid: str) -> list[PasskeyInfo]:
    """A person's passkeys, oldest first."""
    from webauthn.helpers import bytes_to_base64url

    with lib.session() as s:
        rows = s.scalars(
            select(Passkey).where(Passkey.person_uid == person_uid).order_by(Passkey.created_at)
        ).all()
        return [
            PasskeyInfo(bytes_to_base64url(r.credential_id), r.created_at, r.last_used_at)
            for r in rows
        ]


def remove_passkey(lib: Library, person_uid: str, passkey_id: str) -> None:
    """Remove one of a person's passkeys (a lost phone), never their last: with none, no
    one could sign in as them, and a new invitation is not taken once an account exists.
    Any other id is not found."""
    from webauthn.helpers import base64url_to_bytes

    try:
        credential_id = base64url_to_bytes(passkey_id)
    except ValueError:
        raise PasskeyNotFoundError("no such passkey") from None
    with lib.session() as s:
        hold_write_lock(s)
        row = s.get(Passkey, credential_id)
        if row is None or row.person_uid != person_uid:
            raise PasskeyNotFoundError("no such passkey")
        count = len(s.scalars(select(Passkey).where(Passkey.person_uid == person_uid)).all())
        if count <= 1:
            raise AccountConflictError("this is your only passkey: add another one first")
        s.delete(row)
        audit.append(
            lib, s, "passkey-remove", {"subject": person_uid, "by": audit.person_actor(person_uid)}
        )


def live_enrolment(
    lib: Library, enrolment_id: str, person_uid: str, now: datetime, max_age: timedelta
) -> Enrolment:
    """``passed_enrolment(live=True)``, as an ``AccountError``: a person's account and
    passkeys rest only on a live check, never on a recorded clip the owner could make."""
    try:
        return passed_enrolment(lib, enrolment_id, person_uid, now, max_age, live=True)
    except EnrolmentError as exc:
        raise AccountError(f"this needs a passed live enrolment: {exc}") from None


def authentication_options(rp_id: str, challenge: bytes) -> str:
    """The ``PublicKeyCredentialRequestOptions`` (JSON): no credentials listed, so the
    authenticator offers its passkeys for this site and the page never names anyone."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    return options_to_json(
        generate_authentication_options(
            rp_id=rp_id,
            challenge=challenge,
            user_verification=UserVerificationRequirement.PREFERRED,
        )
    )


def sign_in_with_passkey(
    lib: Library,
    credential: dict,
    challenge: bytes,
    rp_id: str,
    origin: str,
    now: datetime | None = None,
) -> str:
    """The uid of the person whose passkey signed ``challenge``; ``SignInRefusedError`` for
    an unknown passkey, a bad signature, a counter that went backwards (a cloned
    authenticator), or a person no longer in the library."""
    from webauthn import verify_authentication_response
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.exceptions import InvalidAuthenticationResponse

    now = clock.now(now)
    try:
        credential_id = base64url_to_bytes(credential["rawId"])
    except (KeyError, TypeError, ValueError):
        raise SignInRefusedError() from None
    with lib.session() as s:
        hold_write_lock(s)  # the sign counter is read and written in one step
        key = s.get(Passkey, credential_id)
        if key is None or person_id_of(s, key.person_uid) is None:
            raise SignInRefusedError()
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=key.public_key,
                credential_current_sign_count=key.sign_count,
            )
        except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
            raise SignInRefusedError() from None
        key.sign_count = verified.new_sign_count
        key.last_used_at = now
        audit.append(
            lib,
            s,
            "person-sign-in",
            {"subject": key.person_uid, "by": audit.person_actor(key.person_uid)},
        )
        return key.person_uid


def passed_enrolment_of_sessions(lib: Library, session_ids: Collection[str]) -> str | None:
    """The newest passed enrolment among those run in ``session_ids`` (the live sessions a
    browser session drew: ``server.sessions``), if any."""
    if not session_ids:
        return None
    with lib.session() as s:
        return s.scalar(
            select(Enrolment.id)
            .where(Enrolment.session_id.in_(list(session_ids)), Enrolment.passed.is_(True))
            .order_by(Enrolment.created_at.desc())
            .limit(1)
        )
