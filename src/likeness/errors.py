"""The one base class of the errors a user can cause and fix.

Every room raises a subclass of ``LikenessError`` for bad input, a refused request or a missing
thing, with a message that says what to do. The command line maps them to a message and an exit
code in one place (``likeness.cli.common``), so no command ends in a traceback on them. This
module imports nothing of ours: every room may import it.
"""

from __future__ import annotations


class LikenessError(Exception):
    """A problem the user can act on. ``exit_code`` is what the command line exits with."""

    exit_code: int = 1


class RefusedError(LikenessError):
    """Consent (the gate) or the output safety gate refused the work: nothing was made."""

    exit_code = 4
