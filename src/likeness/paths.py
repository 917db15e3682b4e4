"""Paths as a person types them, into a command, a setting or a form."""

from __future__ import annotations

from pathlib import Path

from likeness.errors import InvalidError


class TypedPathError(InvalidError):
    """A typed path that names no path: a NUL byte in it, or ``~user`` for no such user."""


def typed_path(text: str, field: str | None = None) -> Path:
    """``text`` with ``~`` and ``~user`` expanded as a shell expands them. pathlib raises a
    bare ``RuntimeError`` for an unknown user and the file system a ``ValueError`` for a NUL
    byte (a server's 500); here both are a ``TypedPathError`` that says what is wrong."""
    if "\x00" in text:
        raise TypedPathError("a path cannot hold a NUL byte", field=field)
    try:
        return Path(text).expanduser()
    except RuntimeError:
        user = text[1:].split("/", 1)[0]
        raise TypedPathError(
            f"{text}: ~{user} names no user of this machine", field=field
        ) from None
