"""The server's jobs (kept so that a reloaded page or a restarted server knows what happened)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from likeness.store.tables import Base, UTCDateTime


class ServerJob(Base):
    """A long job the server runs (an import...): queued, running, then done, failed or
    interrupted (the server stopped first). Kept so that a reloaded page, or a restarted
    server, still knows what happened."""

    __tablename__ = "server_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(Text)  # JSON
    state: Mapped[str] = mapped_column(String(16), index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``owner``, or ``app:<id>`` for an app's job (quotas are per requester).
    requester: Mapped[str] = mapped_column(String(48), default="owner", index=True)
