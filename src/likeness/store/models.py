"""Catalog tables.

One declarative model per table. Columns are plain SQL types that also exist on PostgreSQL, so
the same schema can move there later (embeddings are stored as raw float32 bytes today and would
become a pgvector column there).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Photo(Base):
    """One distinct image content (by SHA-256); several files may point at it."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # 64-bit perceptual hash (imagehash.phash), stored signed so it fits SQLite's INTEGER.
    phash: Mapped[int | None] = mapped_column(BigInteger, index=True)
    near_duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("photos.id"), index=True)
    width: Mapped[int] = mapped_column(Integer)  # upright (EXIF orientation applied)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)
    taken_at_source: Mapped[str | None] = mapped_column(String(16))  # "exif" | "takeout"
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    camera_make: Mapped[str | None] = mapped_column(String(128))
    camera_model: Mapped[str | None] = mapped_column(String(128))
    face_backend: Mapped[str] = mapped_column(String(64))
    indexed_at: Mapped[datetime] = mapped_column(DateTime)

    files: Mapped[list[PhotoFile]] = relationship(back_populates="photo")
    faces: Mapped[list[Face]] = relationship(back_populates="photo")


class PhotoFile(Base):
    """A file (or archive member) the import has seen, good or bad.

    ``location`` is the raw OS path bytes (names need not be valid UTF-8), or for an archive
    member ``archive-path + b"\\0" + member-name``. ``size`` and ``mtime_ns`` let a re-import skip
    files that did not change.
    """

    __tablename__ = "photo_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    display_path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))  # "folder" | "takeout"
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id"), index=True)
    problem: Mapped[str | None] = mapped_column(Text)  # why the file could not be indexed
    seen_at: Mapped[datetime] = mapped_column(DateTime)

    photo: Mapped[Photo | None] = relationship(back_populates="files")


class Album(Base):
    __tablename__ = "albums"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, unique=True)


class PhotoAlbum(Base):
    __tablename__ = "photo_albums"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), primary_key=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id"), primary_key=True)


class PhotoLabel(Base):
    """A person name that Google Photos attached to a photo (Takeout ``people[].name``)."""

    __tablename__ = "photo_labels"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)


def _new_uid() -> str:
    import uuid

    return uuid.uuid4().hex


class Person(Base):
    __tablename__ = "people"
    #: AUTOINCREMENT: an id is never handed out again after its person is deleted (a grant,
    #: an app or its token may still name it).
    __table_args__ = (Index("uq_people_uid", "uid", unique=True), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Never reused, unlike SQLite row ids: consent grants name people by uid, so a grant can
    #: never come to cover a different person created after its subject was deleted.
    uid: Mapped[str] = mapped_column(String(32), default=_new_uid)
    name: Mapped[str | None] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A minor is never generated photoreal, whatever grants exist.
    is_minor: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    faces: Mapped[list[Face]] = relationship(back_populates="person")


class Face(Base):
    """A detected face. Embeddings are biometric data: they never leave LIKENESS_HOME."""

    __tablename__ = "faces"
    __table_args__ = (Index("ix_faces_person_locked", "person_id", "locked"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), index=True)
    # Box in upright photo pixels: [x0, y0) x [y0, y1).
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    landmarks: Mapped[str] = mapped_column(Text)  # JSON [[x, y], ...], 5 points
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian
    detector_score: Mapped[float] = mapped_column(Float)
    quality: Mapped[float] = mapped_column(Float)
    sharpness: Mapped[float] = mapped_column(Float)
    frontalness: Mapped[float] = mapped_column(Float)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    # True when a person put this face where it is (merge, split, move): grouping never moves it.
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # False until incremental grouping has looked at the face (resumes after a crash).
    grouped: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    photo: Mapped[Photo] = relationship(back_populates="faces")
    person: Mapped[Person | None] = relationship(back_populates="faces")


class ImportRun(Base):
    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    photos_added: Mapped[int] = mapped_column(Integer, default=0)
    faces_added: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)


class Setting(Base):
    """Small key/value facts about the library (e.g. the face backend it was built with)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ConsentGrantRecord(Base):
    """A signed consent grant (the signed JSON document itself, and its state)."""

    __tablename__ = "consent_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_uid: Mapped[str] = mapped_column(String(32), index=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)  # canonical JSON, as signed
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # Ed25519 over document
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """One hash-chained audit record: hash = SHA-256(previous hash + this entry's content)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON; ids and hashes, never names
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class EnrolmentSession(Base):
    """A challenge order and timing issued to one person; single use, short-lived."""

    __tablename__ = "enrolment_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    document: Mapped[str] = mapped_column(Text)  # the challenges, as shown to the person
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class Enrolment(Base):
    """The outcome of a live enrolment. Frames are not kept; the template only as a salted
    hash (a commitment), so the record proves what was matched without holding biometrics."""

    __tablename__ = "enrolments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    session_id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
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


class BaseModelRecord(Base):
    """A base model a user added: a hub id, a local diffusers folder or a single file.
    (The built-in tiny models are not stored: they are made from code.)"""

    __tablename__ = "base_models"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    family: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # "hub" | "folder" | "single_file"
    location: Mapped[str] = mapped_column(Text)  # hub id or absolute path
    #: Component configs for a single file of a non-standard architecture (else the family's).
    config_dir: Mapped[str | None] = mapped_column(Text)
    #: Native image size (the UNet's sample size times the VAE's scale factor).
    resolution: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))  # of the weights, as added
    added_at: Mapped[datetime] = mapped_column(DateTime)


class AdapterStatus(StrEnum):
    """Where an adapter stands."""

    TRAINING = "training"  # running, or interrupted (resumable from its last checkpoint)
    READY = "ready"
    ABANDONED = "abandoned"  # an interrupted run replaced by a fresh one
    WITHDRAWN = "withdrawn"  # consent withdrawn during training: the files were deleted
    #: Never stored: a ready adapter whose person key was destroyed (consent revoked).
    DESTROYED = "destroyed"


class AdapterRecord(Base):
    """A personalized LoRA adapter of one person on one base model. The weights lie encrypted
    with the person's key in the vault; revoking consent destroys the key."""

    __tablename__ = "adapters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_uid: Mapped[str] = mapped_column(String(32), index=True)
    base_model: Mapped[str] = mapped_column(String(64))
    base_model_sha256: Mapped[str] = mapped_column(String(64))
    family: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32))  # the token that stands for the person
    grant_ids: Mapped[str] = mapped_column(Text)  # JSON list: the grants training ran under
    params: Mapped[str] = mapped_column(Text)  # JSON: hyper-parameters
    dataset: Mapped[str] = mapped_column(Text)  # JSON: face ids, crop boxes, captions, hashes
    status: Mapped[str] = mapped_column(String(16))  # an AdapterStatus
    steps_done: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[str | None] = mapped_column(Text)  # JSON: losses, identity score
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ProvenanceRecord(Base):
    """One signed output in the local manifest store, found again by its watermark id or its
    fingerprint when a copy lost its embedded manifest (re-encoded, screenshotted, resized)."""

    __tablename__ = "provenance_records"

    watermark_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pdq: Mapped[bytes] = mapped_column(LargeBinary)  # 32-byte PDQ hash of the output's pixels
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the signed file
    mime: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)  # the output's size: where a resized copy's
    height: Mapped[int] = mapped_column(Integer)  # watermark is looked for
    manifest: Mapped[str] = mapped_column(Text)  # the manifest definition, as signed (JSON)
    manifest_store: Mapped[bytes] = mapped_column(LargeBinary)  # the signed C2PA manifest
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ServerJob(Base):
    """A long job the server runs (an import...): queued, running, then done, failed or
    interrupted (the server stopped first). Kept so that a reloaded page, or a restarted
    server, still knows what happened."""

    __tablename__ = "server_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(Text)  # JSON
    state: Mapped[str] = mapped_column(String(16), index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: ``owner``, or ``app:<id>`` for an app's job (quotas are per requester).
    requester: Mapped[str] = mapped_column(String(48), default="owner", index=True)


class App(Base):
    """A third-party app registered by the owner (an OAuth 2 public client: PKCE, no secret).
    It may ask, through the owner's approval, for generations of people who granted it."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the OAuth client_id
    name: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class AppCode(Base):
    """An authorization code (only its SHA-256 is kept): single use, short-lived, bound to
    the app, its redirect URI and its PKCE challenge."""

    __tablename__ = "app_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    people: Mapped[str] = mapped_column(Text)  # JSON list of person ids
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The consent grants the approval signed (JSON list of ids).
    grants: Mapped[str | None] = mapped_column(Text)
    #: When the code, already used, was presented again.
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime)


class AppToken(Base):
    """An app's access token (only its SHA-256 is kept), limited to scopes, people and an
    expiry, and to the code it was issued on (a replayed code revokes it)."""

    __tablename__ = "app_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text)
    people: Mapped[str] = mapped_column(Text)  # JSON list of person ids
    #: The consent grants it rests on (JSON list of ids): each must stay in force.
    grants: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
