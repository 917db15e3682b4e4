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
    #: The server (``ServerRunner.id``) that took the job, or, while it waits, the one it was
    #: submitted to: a job whose runner has stopped answering is interrupted by the others.
    runner: Mapped[str | None] = mapped_column(String(32))


class ServerRunner(Base):
    """A ``likeness serve`` process running this library's jobs. Several may share one
    catalog (PostgreSQL): each says it is alive (``seen_at``) every few seconds, and a job
    held by one that has not been seen for a while is marked interrupted by another."""

    __tablename__ = "server_runners"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
