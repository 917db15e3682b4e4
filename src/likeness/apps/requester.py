"""Who asks the consent gate: the library's owner, or a registered app.

Grants, jobs and the audit log store a requester as text (``owner``, ``app:<id>``); this is
the one place that builds and reads that text.
"""

from __future__ import annotations

from likeness.consent.grants import OWNER

APP_PREFIX = "app:"


class Requester(str):
    """A requester, as the text grants and jobs store (so it compares equal to it)."""

    @classmethod
    def owner(cls) -> Requester:
        return cls(OWNER)

    @classmethod
    def app(cls, app_id: str) -> Requester:
        return cls(APP_PREFIX + app_id)

    @property
    def app_id(self) -> str | None:
        """The app's id, or None for the owner."""
        return self[len(APP_PREFIX) :] if self.startswith(APP_PREFIX) else None

    @property
    def is_app(self) -> bool:
        return self.app_id is not None
