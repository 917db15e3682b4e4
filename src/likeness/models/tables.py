"""The base models a user added (the built-in tiny ones are made from code, not stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from likeness.store.tables import Base, UTCDateTime


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
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
