"""The faces table: every face the backends found, with its embedding and the person group
it belongs to (``people`` owns the groups; the column is only their id).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from likeness.library.tables import Photo
from likeness.store.tables import Base


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

    #: The photo (its room is below this one). The person is only an id here: people sit
    #: above faces, and ``people.records`` reads a person's faces.
    photo: Mapped[Photo] = relationship()
