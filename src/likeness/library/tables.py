"""The library's tables: photos (one row per distinct content), the files that hold them,
albums, Google Photos' labels, and import runs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from likeness.library.decode import CAMERA_TEXT_MAX
from likeness.store.tables import Base, UTCDateTime


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
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)  # local wall time, naive
    taken_at_source: Mapped[str | None] = mapped_column(String(16))  # "exif" | "takeout"
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    camera_make: Mapped[str | None] = mapped_column(String(CAMERA_TEXT_MAX))
    camera_model: Mapped[str | None] = mapped_column(String(CAMERA_TEXT_MAX))
    face_backend: Mapped[str] = mapped_column(String(64))
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    files: Mapped[list[PhotoFile]] = relationship(back_populates="photo")


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
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

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


class ImportRun(Base):
    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    photos_added: Mapped[int] = mapped_column(Integer, default=0)
    faces_added: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)
