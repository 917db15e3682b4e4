"""The people table: person groups, named or not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
