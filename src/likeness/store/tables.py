"""The store's own table: small facts about the library; the one ``Base`` (one metadata)
every room's tables derive from; and the column type every recorded time uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time: stored as UTC without a zone (SQLite has no zones; a PostgreSQL
    ``timestamp`` column reads the same), read back aware in UTC. A time without a zone is
    read as local time, as ``likeness.clock.utc`` reads it (the library's own times come
    from ``likeness.clock``, aware)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """The one declarative base: every room's tables share its metadata."""


class Setting(Base):
    """Small key/value facts about the library (e.g. the face backend it was built with)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
