"""The adapters table, and where an adapter stands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from likeness.store.tables import Base, UTCDateTime


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
