"""The library's clock: the one place that reads the time.

Every time the library keeps is aware UTC, to the second: ``now`` for what is recorded,
``precise_now`` where order within a second matters (jobs). The catalog stores them as UTC
(``store.tables.UTCDateTime``). Catalogs, grant documents and audit entries written before
migration 0011 carry local wall-clock time without a zone; ``utc`` reads such a time as the
machine's local time (0011 converted the catalog's columns once; signed documents keep the
form they were signed in, see ``consent.grants`` and ``consent.audit``).

A photo's ``taken_at`` is not one of these: it is the wall-clock time where the photo was
taken, as its EXIF says (no zone), and is kept naive.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(at: datetime) -> datetime:
    """``at`` in UTC; a time without a zone is read as the machine's local time."""
    return at.astimezone(UTC)


def now(at: datetime | None = None) -> datetime:
    """``at`` (a time a caller fixed: a test, a replay) or the current time, in UTC, to the
    second."""
    return (utc(at) if at is not None else datetime.now(UTC)).replace(microsecond=0)


def precise_now() -> datetime:
    """The current time in UTC to the microsecond."""
    return datetime.now(UTC)


def local(at: datetime) -> datetime:
    """``at`` in the machine's local zone, for people to read."""
    return utc(at).astimezone()
