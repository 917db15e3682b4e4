"""The local manifest store: one row per signed output."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
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


class PdqChunk(Base):
    """The multi-index over the stored fingerprints (``fingerprint.chunks``): each output's
    PDQ hash cut into 16 chunks of 16 bits, one row a chunk. A hash within 31 bits of a
    stored one agrees with it to within one bit on at least one chunk (16 chunks, 2 bits
    each, would be 32), so looking up each chunk and its 16 one-bit neighbours finds every
    stored hash in matching distance without reading the others."""

    __tablename__ = "provenance_pdq_chunks"
    __table_args__ = ({"sqlite_with_rowid": False},)

    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0..15
    value: Mapped[int] = mapped_column(Integer, primary_key=True)  # the 16 bits
    watermark_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("provenance_records.watermark_id", ondelete="CASCADE"),
        primary_key=True,
    )


class OutputKeypoints(Base):
    """A stored output's corners (``keypoints.describe_output``): what finds a cropped,
    turned or framed copy of it. Numbered in the order they were stored, so the search index
    (``keypoint_index``), a cache in the vault, adds what was stored since it was saved."""

    __tablename__ = "provenance_keypoints"
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    watermark_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("provenance_records.watermark_id", ondelete="CASCADE"),
        unique=True,
    )
    width: Mapped[int] = mapped_column(Integer)  # the frame the corners were found in
    height: Mapped[int] = mapped_column(Integer)
    points: Mapped[bytes] = mapped_column(LargeBinary)  # (n, 2) little-endian float32
    descriptors: Mapped[bytes] = mapped_column(LargeBinary)  # (n, 32) ORB, strongest first


class ClipFrameHash(Base):
    """One frame's PDQ hash of a stored clip: the clip's fingerprint, frame by frame, what
    finds a re-encoded, scaled, trimmed or converted copy that lost its embedded manifest
    (``provenance.clips``)."""

    __tablename__ = "provenance_clip_frames"
    __table_args__ = ({"sqlite_with_rowid": False},)

    watermark_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("provenance_records.watermark_id", ondelete="CASCADE"),
        primary_key=True,
    )
    frame: Mapped[int] = mapped_column(Integer, primary_key=True)
    pdq: Mapped[bytes] = mapped_column(LargeBinary)  # 32 bytes
