"""The local manifest store: one row per signed output."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from likeness.store.tables import Base, UTCDateTime


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The audit entry of the safety verdict that released it: a person's activity names the
    #: image's Content Credentials beside the verdict on an image showing them.
    safety_seq: Mapped[int | None] = mapped_column(Integer, index=True)
