"""The library's clock: the one place that reads the time.

Times are kept as the catalog has always stored them: local wall-clock time, without a zone,
to the second (signed grant documents carry the same form). Moving to aware UTC is a change
here, a migration of the stored times and a new form of grant document (older grants must
still verify); every room reads the time through this module so that change has one place.
"""

from __future__ import annotations

from datetime import datetime


def now(at: datetime | None = None) -> datetime:
    """``at`` (a time a caller fixed: a test, a replay) or the current time, to the second."""
    return (at or datetime.now()).replace(microsecond=0)


def precise_now() -> datetime:
    """The current time to the microsecond, where order within a second matters (jobs)."""
    return datetime.now()
