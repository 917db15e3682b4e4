"""The store's own table: small facts about the library, and the one ``Base`` (one
metadata) every room's tables derive from.
"""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The one declarative base: every room's tables share its metadata."""


class Setting(Base):
    """Small key/value facts about the library (e.g. the face backend it was built with)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
