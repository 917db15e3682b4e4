"""The consent room's tables: signed grants, the hash-chained audit log, enrolment sessions
and their outcomes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from likeness.store.tables import Base, UTCDateTime


class ConsentGrantRecord(Base):
    """A signed consent grant (the signed JSON document itself, and its state)."""

    __tablename__ = "consent_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_uid: Mapped[str] = mapped_column(String(32), index=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)  # canonical JSON, as signed
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # Ed25519 over document
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """One hash-chained audit record: hash = SHA-256(previous hash + this entry's content)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON; ids and hashes, never names
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The time as hashed, for entries written before migration 0011 (local wall-clock time
    #: without a zone; ``at`` was converted from it once). None since: the hash covers ``at``.
    at_text: Mapped[str | None] = mapped_column(Text)


class EnrolmentSession(Base):
    """A challenge order and timing issued to one person; single use, short-lived."""

    __tablename__ = "enrolment_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    document: Mapped[str] = mapped_column(Text)  # the challenges, as shown to the person
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class Enrolment(Base):
    """The outcome of a live enrolment. Frames are not kept; the template only as a salted
    hash (a commitment), so the record proves what was matched without holding biometrics."""

    __tablename__ = "enrolments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    session_id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    passed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    transcript: Mapped[str] = mapped_column(Text)  # JSON: per-challenge outcome
    versions: Mapped[str] = mapped_column(Text)  # JSON: models and thresholds used
    template_commitment: Mapped[str | None] = mapped_column(String(64))
    #: The salt of the commitment, and the template sealed (AES-GCM) with the person's key, so
    #: the person can take their grant to another install (``consent export``). Revocation
    #: destroys the key, and with it the template.
    template_salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    template_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    match_distance: Mapped[float | None] = mapped_column(Float)


class Invitation(Base):
    """A one-time link the owner gives a person so they can consent for themselves: bound to
    their person group, valid until ``expires_at``, spent when opened. Only the token's
    SHA-256 is kept (a copy of the catalog opens nothing)."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PersonAccount(Base):
    """A person who consents for themselves: they passed a live enrolment against their own
    group and registered a passkey. From then on, grants about them are theirs to sign."""

    __tablename__ = "person_accounts"

    person_uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: The WebAuthn user handle: random, so that an authenticator learns nothing of the uid.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    invitation_id: Mapped[str] = mapped_column(String(32))


class Passkey(Base):
    """A WebAuthn credential a person signs in with (its public key; the private key never
    leaves their authenticator)."""

    __tablename__ = "passkeys"

    credential_id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Guardianship(Base):
    """The guardian the owner named for a minor: another person with an account, who
    approves the permissions the minor asks to give (``consent.guardians``)."""

    __tablename__ = "guardianships"

    minor_uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    guardian_uid: Mapped[str] = mapped_column(String(32), index=True)
    named_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuardianRequest(Base):
    """A permission a minor asked to give, on a live check of theirs, waiting for their
    guardian's answer."""

    __tablename__ = "guardian_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    minor_uid: Mapped[str] = mapped_column(String(32), index=True)
    guardian_uid: Mapped[str] = mapped_column(String(32), index=True)
    scopes: Mapped[str] = mapped_column(Text)  # space-separated
    expires_days: Mapped[int | None] = mapped_column(Integer)
    enrolment_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(16))  # "approved" or "denied"
    grant_id: Mapped[str | None] = mapped_column(String(32))


class GrantRequest(Base):
    """A permission asked of a person who consents for themselves, by the owner for
    themselves or for an app, waiting on the person's page (``consent.requests``)."""

    __tablename__ = "grant_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    grantee: Mapped[str] = mapped_column(String(40), index=True)  # owner, app:<id>
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    scopes: Mapped[str] = mapped_column(Text)  # space-separated
    days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(16))  # approved, denied, lapsed
    #: The grant the person signed, when they approved.
    grant_id: Mapped[str | None] = mapped_column(String(32))
