"""Consent grants: who may use whose likeness for what, signed with the library key.

A grant names its subject by the person's uid (never reused), the grantee (the library owner,
or a registered app as ``app:<id>``), the scopes, the trust level, issue and expiry times and
hashes of its evidence. The JSON document is signed with Ed25519; a grant whose document or
signature was altered does not verify and counts for nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select

from likeness import clock
from likeness.consent import audit
from likeness.consent.audit import OWNER, person_actor
from likeness.consent.canonical import canonical_json
from likeness.consent.tables import ConsentGrantRecord
from likeness.errors import InvalidError, NotFoundError, RefusedError
from likeness.people.records import get_person, person_ids_by_uid
from likeness.store import Library


class Scope(StrEnum):
    TRAIN_ADAPTER = "train-adapter"
    GENERATE_STYLIZED = "generate-stylized"
    GENERATE_PHOTOREAL = "generate-photoreal"
    EXPORT_ADAPTER = "export-adapter"
    #: Video clips of the person, in any style. Never implied by the image scopes: a moving
    #: likeness is a different request, asked for and granted on its own.
    GENERATE_VIDEO = "generate-video"

    @property
    def words(self) -> str:
        """What the scope lets its grantee do, in words (the pages show it by each grant)."""
        return {
            Scope.TRAIN_ADAPTER: "train an adapter of their likeness on their photos",
            Scope.GENERATE_STYLIZED: "make images of them in a drawn or painted style",
            Scope.GENERATE_PHOTOREAL: "make images of them that look like photographs",
            Scope.EXPORT_ADAPTER: "export their adapter, for use in other software",
            Scope.GENERATE_VIDEO: "make video clips of them, in any style",
        }[self]


class Trust(StrEnum):
    #: A live enrolment passed and matched the person's photo group.
    VERIFIED = "verified"
    #: A signed statement without a live check: demos and imported records.
    ATTESTED = "attested"


class GrantError(InvalidError):
    """A grant that cannot be issued or found."""


class GrantNotFoundError(NotFoundError, GrantError):
    """No grant, or no person, with that id."""


class NotYoursToSignError(RefusedError):
    """A grant signed by someone other than the person it is about, where that person
    consents for themselves (has an account), or a person acting on someone else's."""


class DoNotGenerateError(RefusedError):
    """A grant for a person who erased their biometric data (``consent.erasure``)."""


@dataclass(frozen=True)
class ConsentGrant:
    id: str
    subject_uid: str
    grantee: str
    scopes: tuple[Scope, ...]
    trust: Trust
    issued_at: datetime
    expires_at: datetime | None
    evidence: tuple[str, ...] = ()
    # State kept beside the signed document:
    revoked_at: datetime | None = field(default=None, compare=False)
    signature_valid: bool = field(default=True, compare=False)

    def document(self) -> bytes:
        """The signed form. Version 2 carries its times in UTC with their zone; version 1
        (before migration 0011) carried local times without one, and is only read."""
        return canonical_json(
            {
                "version": 2,
                "id": self.id,
                "subject": self.subject_uid,
                "grantee": self.grantee,
                "scopes": sorted(str(s) for s in self.scopes),
                "trust": str(self.trust),
                "issued_at": self.issued_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "evidence": list(self.evidence),
            }
        )

    def in_force(self, at: datetime) -> bool:
        return (
            self.signature_valid
            and self.revoked_at is None
            and (self.expires_at is None or at < self.expires_at)
        )

    def as_json(self, person_id: int | None = None) -> dict:
        return {
            "id": self.id,
            "person": person_id,
            "subject_uid": self.subject_uid,
            "grantee": self.grantee,
            "scopes": [str(s) for s in self.scopes],
            "trust": str(self.trust),
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "signature_valid": self.signature_valid,
            "evidence": list(self.evidence),
        }


def _from_record(lib: Library, record: ConsentGrantRecord) -> ConsentGrant:
    """Rebuild a grant from its stored, signed document, checking the signature."""
    from cryptography.exceptions import InvalidSignature

    try:
        doc = json.loads(record.document)
        grant = ConsentGrant(
            id=doc["id"],
            subject_uid=doc["subject"],
            grantee=doc["grantee"],
            scopes=tuple(Scope(s) for s in doc["scopes"]),
            trust=Trust(doc["trust"]),
            issued_at=clock.utc(datetime.fromisoformat(doc["issued_at"])),
            expires_at=clock.utc(datetime.fromisoformat(doc["expires_at"]))
            if doc["expires_at"]
            else None,
            evidence=tuple(doc["evidence"]),
        )
    except (ValueError, KeyError, TypeError):
        # An unreadable document is a broken grant: it grants nothing.
        return ConsentGrant(
            record.id,
            record.subject_uid,
            "",
            (),
            Trust.ATTESTED,
            datetime.min.replace(tzinfo=UTC),
            None,
            signature_valid=False,
        )
    valid = grant.id == record.id and grant.subject_uid == record.subject_uid
    try:
        lib.keys.signing_key().public_key().verify(record.signature, record.document)
    except InvalidSignature:
        valid = False
    # The document is canonical as signed (version 1's local times are read as this machine's
    # local time, and cannot be written back byte for byte: its signature alone vouches).
    valid = valid and (doc.get("version") == 1 or grant.document() == record.document)
    return replace(grant, revoked_at=record.revoked_at, signature_valid=valid)


def issue_grant(
    lib: Library,
    person_id: int,
    scopes: list[Scope] | tuple[Scope, ...],
    trust: Trust,
    *,
    grantee: str = OWNER,
    expires_in: timedelta | None = None,
    evidence: tuple[str, ...] = (),
    enrolment_id: str | None = None,
    now: datetime | None = None,
    by: str = OWNER,
    guardian: str | None = None,
) -> ConsentGrant:
    """Sign and store a grant for a person. ``verified`` needs ``enrolment_id``: a passed,
    recent live enrolment of this person (its id and template commitment become evidence).

    ``by`` is who asks: the owner (``OWNER``), or the person themselves
    (``person_actor(uid)``). A person with an account (``consent.accounts``) signs the
    grants about them; the owner's request for one is refused, as is a person's for anyone
    else. A minor's own grant needs their guardian's approval (``guardian``: the uid of the
    guardian the owner named, ``consent.guardians``)."""
    if trust == Trust.VERIFIED and enrolment_id is None:
        raise GrantError(
            "a verified grant needs a passed live enrolment (its id)", field="enrolment"
        )
    if trust == Trust.ATTESTED and enrolment_id is not None:
        raise GrantError("an enrolment makes a grant verified, not attested")
    if not scopes:
        raise GrantError("a grant needs at least one scope")
    now = clock.now(now)
    with lib.session() as s:
        person = get_person(s, person_id)
        _check_signer(s, person.uid, by)
        if person.is_minor and by != OWNER:
            _check_guardian(s, person.uid, guardian)
        if person.do_not_generate:
            raise DoNotGenerateError(
                f"person {person_id} asked never to be generated: no grant can be signed for them"
            )
        if enrolment_id is not None:
            from likeness.consent.enrolment import EnrolmentError, passed_enrolment

            try:
                # A person signs on a live check of their own, never on a recorded clip's.
                enrolment = passed_enrolment(lib, enrolment_id, person.uid, now, live=by != OWNER)
            except EnrolmentError as exc:
                raise GrantError(str(exc)) from None
            evidence = (
                *evidence,
                f"enrolment:{enrolment.id}",
                f"template-commitment:{enrolment.template_commitment}",
            )
        grant = ConsentGrant(
            id=uuid.uuid4().hex,
            subject_uid=person.uid,
            grantee=grantee,
            scopes=tuple(sorted({Scope(x) for x in scopes})),
            trust=Trust(trust),
            issued_at=now,
            expires_at=now + expires_in if expires_in else None,
            evidence=tuple(evidence),
        )
        document = grant.document()
        s.add(
            ConsentGrantRecord(
                id=grant.id,
                subject_uid=person.uid,
                document=document,
                signature=lib.keys.signing_key().sign(document),
            )
        )
        audit.append(
            lib,
            s,
            "grant",
            {
                "grant": grant.id,
                "subject": person.uid,
                "grantee": grantee,
                "scopes": [str(x) for x in grant.scopes],
                "trust": str(grant.trust),
                "by": by,
                **({"guardian": guardian} if guardian else {}),
            },
        )
    return grant


def _check_guardian(session, minor_uid: str, guardian: str | None) -> None:
    from likeness.consent.tables import Guardianship

    named = session.get(Guardianship, minor_uid)
    if guardian is None or named is None or named.guardian_uid != guardian:
        raise NotYoursToSignError(
            "a minor's permission needs their guardian's approval: it waits for them"
        )


def _check_signer(session, person_uid: str, by: str) -> None:
    from likeness.consent.tables import PersonAccount

    if by == OWNER:
        if session.get(PersonAccount, person_uid) is not None:
            raise NotYoursToSignError(
                "this person consents for themselves (they have an account): they sign their "
                "own grants on their page; ask them (`likeness consent request`)"
            )
    elif by != person_actor(person_uid):
        raise NotYoursToSignError("a person signs only the grants about themselves")


def list_grants(
    lib: Library, person_id: int | None = None
) -> list[tuple[ConsentGrant, int | None]]:
    """Every grant (with the id of the person it covers today, if that person still exists)."""
    with lib.session() as s:
        uid_to_id = person_ids_by_uid(s)
        stmt = select(ConsentGrantRecord).order_by(ConsentGrantRecord.id)
        if person_id is not None:
            person = get_person(s, person_id)
            stmt = stmt.where(ConsentGrantRecord.subject_uid == person.uid)
        records = s.scalars(stmt).all()
    grants = [(_from_record(lib, r), uid_to_id.get(r.subject_uid)) for r in records]
    grants.sort(key=lambda g: g[0].issued_at)
    return grants


def get_grant(lib: Library, grant_id: str) -> ConsentGrant:
    with lib.session() as s:
        record = s.get(ConsentGrantRecord, grant_id)
    if record is None:
        raise GrantNotFoundError(f"no grant with id {grant_id}")
    return _from_record(lib, record)


def grants_for(lib: Library, person_uid: str) -> list[ConsentGrant]:
    with lib.session() as s:
        records = s.scalars(
            select(ConsentGrantRecord).where(ConsentGrantRecord.subject_uid == person_uid)
        ).all()
    return [_from_record(lib, r) for r in records]


def revoke_grant(
    lib: Library, grant_id: str, reason: str = "", now: datetime | None = None, by: str = OWNER
) -> bool:
    """Revoke at once: later decisions deny, and (for a grant to the owner) the person's
    adapter key is destroyed, so every copy of their adapters becomes unreadable. Returns
    False if already revoked. The owner may revoke any grant (withdrawing is always
    allowed); a person (``by=person_actor(uid)``) only the grants about them, and any other
    grant id is not found for them."""
    now = clock.now(now)
    with lib.session() as s:
        record = s.get(ConsentGrantRecord, grant_id)
        if record is None or by not in (OWNER, person_actor(record.subject_uid)):
            raise GrantNotFoundError(f"no grant with id {grant_id}")
        if record.revoked_at is not None:
            return False
        record.revoked_at = now
        record.revoke_reason = reason or None
        # The adapters are the owner's use of the person's likeness: withdrawing the owner's
        # grant destroys their key. An app's grant lets one app ask for generations; revoking
        # it shuts that app out (its tokens stop working) and leaves the adapters alone.
        grantee = json.loads(record.document)["grantee"]
        destroyed = lib.keys.destroy_person_key(record.subject_uid) if grantee == OWNER else False
        audit.append(
            lib,
            s,
            "revoke",
            {
                "grant": grant_id,
                "subject": record.subject_uid,
                "key_destroyed": destroyed,
                "by": by,
            },
        )
    return True
