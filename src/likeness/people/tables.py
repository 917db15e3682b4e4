"""The people table: person groups, named or not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from likeness.store.tables import Base, UTCDateTime


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
    #: The person has an account and consents for themselves (``consent.accounts``): the
    #: owner cannot regroup their faces (merge, split, move), which would carry their
    #: consent to other faces or another group's to theirs.
    consents_for_self: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The person erased their biometric data and asked never to be generated
    #: (``consent.erasure``): the gate refuses every action for them, whatever grants exist.
    do_not_generate: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DoNotGenerateTemplate(Base):
    """What a person who erased their biometric data (``consent.erasure``) left to recognise
    them by, so their wish holds: one salted template (``people.identity.SaltedTemplate``)
    per face backend that had embedded their faces. The safety gate refuses an image with a
    face matching it, and imports withhold matching faces (``people.never``). The person may
    erase it too; the do-not-generate mark on their person group stays."""

    __tablename__ = "do_not_generate_templates"

    person_uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    backend: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    template: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian
    match_distance: Mapped[float] = mapped_column(Float)
    #: Faces later imports found matching it and did not keep.
    faces_withheld: Mapped[int] = mapped_column(Integer, default=0)


class PersonMerge(Base):
    """One merge of a person into another, kept so it can be undone (``people.merges``): the
    merged person as they were (id and uid included, so their grants and adapters apply again
    once restored) and which faces moved. Ids never come back (AUTOINCREMENT), so the merged
    person's id is free to restore."""

    __tablename__ = "person_merges"
    #: AUTOINCREMENT: an id is never handed out again after its record is deleted, so an
    #: Undo offered for an old merge can never undo a newer one.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(Integer, index=True)
    #: JSON: the target's name and owner mark before, and which of its faces were unlocked.
    target_before: Mapped[str] = mapped_column(Text)
    #: JSON: the merged person's row (id, uid, name, hidden, is_owner, is_minor, created_at).
    other: Mapped[str] = mapped_column(Text)
    #: JSON: the merged person's faces, each [id, whether it was locked].
    face_ids: Mapped[str] = mapped_column(Text)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
