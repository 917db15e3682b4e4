"""The errors a user can cause and fix, by what they mean: one small hierarchy for every room.

Every room raises a subclass of one of the five kinds below (never of ``LikenessError`` itself),
with a message that says what is wrong and what to do. The kind carries what each front end
answers with, so neither front end guesses from a builtin it happens to inherit:

=====================  =========  ===========  ==============================================
kind                   exit code  HTTP status  meaning
=====================  =========  ===========  ==============================================
``InvalidError``       1          400          the request or input is wrong; fix it and retry
``NotFoundError``      1          404          the thing named (a person, an adapter) is absent
``ConflictError``      1          409          it exists, but its state does not allow this now
``RefusedError``       4          403          consent or the safety gate said no: nothing made
``UnavailableError``   5          503          a part likeness needs is missing or broken
``BusyError``          5          429          an unavailable that passes: retry after a while
=====================  =========  ===========  ==============================================

Messages name fields, not command-line flags: a web user never typed ``--size``. An error about
one input says which in ``field`` (the command line adds its flag to the message). The command
line maps errors in ``likeness.cli.common``; the server in ``likeness.server.app``; a test walks
every subclass and checks both. Any other exception is a bug: the command line prints one line
and where the full trace was written (exit ``EXIT_INTERNAL``), the server answers 500.

This module imports nothing of ours: every room may import it.
"""

from __future__ import annotations

#: Exit codes of the command line (also 0: done; 2: usage error, from Typer; 3: an import that
#: completed with problems, which it lists).
EXIT_FAILED = 1
EXIT_PROBLEMS = 3
EXIT_REFUSED = 4
EXIT_UNAVAILABLE = 5
#: An error likeness did not expect (a bug): the command line logs its trace to a file.
EXIT_INTERNAL = 70


class LikenessError(Exception):
    """A problem the user can act on. Raise one of its kinds, not this class.

    ``field`` names the input at fault, when one is (``"size"``, ``"person"``): front ends
    point at it (a command line flag, a form field)."""

    exit_code: int = EXIT_FAILED
    http_status: int = 400

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidError(LikenessError):
    """The input is wrong (a malformed value, an unknown name, a file that is no photo)."""

    exit_code = EXIT_FAILED
    http_status = 400


class NotFoundError(LikenessError):
    """What the request names does not exist (or is not visible to whoever asked)."""

    exit_code = EXIT_FAILED
    http_status = 404


class ConflictError(LikenessError):
    """What the request names exists, but its state forbids this (already revoked, finished)."""

    exit_code = EXIT_FAILED
    http_status = 409


class RefusedError(LikenessError):
    """Consent (the gate) or the output safety gate refused the work: nothing was made."""

    exit_code = EXIT_REFUSED
    http_status = 403


class UnavailableError(LikenessError):
    """A part likeness needs is missing or broken (model weights, a tokenizer's files)."""

    exit_code = EXIT_UNAVAILABLE
    http_status = 503


class BusyError(UnavailableError):
    """Too much at once (a full queue, too many sign-in tries): retry after ``retry_after_s``."""

    http_status = 429

    def __init__(
        self, message: str = "", *, retry_after_s: float = 1.0, field: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


#: The kinds: every user-facing error derives from one of them (the first in its MRO counts).
KINDS: tuple[type[LikenessError], ...] = (
    BusyError,
    InvalidError,
    NotFoundError,
    ConflictError,
    RefusedError,
    UnavailableError,
)


def kind_of(error: type[LikenessError] | LikenessError) -> type[LikenessError]:
    """The kind an error (or error class) is: the first kind in its method resolution order,
    so ``class AppNotFoundError(NotFoundError, AppError)`` is a not-found though ``AppError``
    is an invalid. ``InvalidError`` for an error outside the kinds."""
    cls = error if isinstance(error, type) else type(error)
    return next((c for c in cls.__mro__ if c in KINDS), InvalidError)
