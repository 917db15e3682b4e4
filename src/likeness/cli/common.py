"""What every command group shares: the options, opening the library, output helpers, and the
one mapping from the library's errors to messages and exit codes.

Exit codes (``likeness.errors``): 0 done; 1 failed (bad input, an unknown id, a refused edit,
a failed enrolment, a broken audit log); 2 usage error; 3 import completed with problems (the
files are listed and were skipped); 4 refused by consent (the gate said no, or consent was
withdrawn while work ran); 5 a part likeness needs is missing or busy; 70 an unexpected error
(a bug: one line on stderr, the full trace in a log file).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from likeness import clock
from likeness.errors import EXIT_FAILED, EXIT_INTERNAL, LikenessError

# soft_wrap: a long line (a path, a reason) stays one line for scripts and logs to read.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: Set to 1 to let an unexpected error end in its traceback (for developers).
DEBUG_ENV = "LIKENESS_DEBUG"

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="LIKENESS_HOME", help="Library home (default: user data dir)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ComputeOption = Annotated[
    str | None,
    typer.Option(
        "--compute",
        envvar="LIKENESS_COMPUTE",
        help="Where sampling and training run: local (default), ray (the Ray cluster this "
        "machine is a node of), ray://HOST:PORT or ray:HOST:PORT.",
    ),
]


class LikenessGroup(TyperGroup):
    """The top-level command group: a ``LikenessError`` raised anywhere below becomes its
    message on stderr (with the flag of the input it names, ``field``) and its exit code, never
    a traceback; so does an operating-system error (a file that cannot be written, a full
    disk) with exit 1. Anything else is a bug: one line on stderr, the trace in a log file
    (``$LIKENESS_DEBUG=1`` shows it instead), exit 70."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["likeness.argv"] = list(args)  # to name the flags of the command that ran
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LikenessError as exc:
            flag = _flag_for(ctx, exc.field)
            where = f" (option {flag})" if flag else ""
            err.print(f"[red]error:[/red] {exc}{where}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_FAILED) from None
        except Exception as exc:
            # Typer's own (usage errors, Exit, Abort; it carries its own copy of click) end
            # the command as Typer means them to.
            if os.environ.get(DEBUG_ENV) == "1" or type(exc).__module__.startswith(
                ("typer.", "click.")
            ):
                raise
            log = write_crash_log(exc)
            where = f"the full trace is in {log}" if log else "no log file could be written"
            err.print(
                f"[red]unexpected error:[/red] {type(exc).__name__}: {_one_line(exc)} ({where}; "
                "please report it)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _flag_for(ctx: click.Context, field: str | None) -> str | None:
    """The command line's flag for a library error's ``field`` (``size`` -> ``--size``), if
    the command that ran (or a group above it) has one by that name: ``people name 7 X``
    names its person as an argument, and must not be told about another command's
    ``--person``."""
    if not field:
        return None
    flag = "--" + field.replace("_", "-")
    command: click.Command = ctx.find_root().command
    found = {o for p in command.params for o in getattr(p, "opts", ())}
    for token in ctx.meta.get("likeness.argv", []):
        sub = getattr(command, "commands", {}).get(token)  # a group's command by this name
        if sub is not None:
            command = sub
            found |= {o for p in command.params for o in getattr(p, "opts", ())}
    return flag if flag in found else None


def crash_log_dir() -> Path:
    """Where unexpected errors' traces go: the user's log folder (``~/.local/state/likeness/
    log`` on Linux), never the library home (a bug report may be shared; the home is not)."""
    from platformdirs import user_log_path

    return user_log_path("likeness", appauthor=False)


def write_crash_log(exc: BaseException) -> Path | None:
    """Write ``exc``'s trace to a new file readable by this user only; None if that fails."""
    try:
        folder = crash_log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stamp = clock.precise_now().strftime("%Y%m%dT%H%M%SZ")
        path = folder / f"crash-{stamp}-{os.getpid()}.log"
        text = "".join(traceback.format_exception(exc))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as out:
            out.write(text)  # no arguments: a prompt may name people
        return path
    except OSError:
        return None


def open_library(home: Path | None):
    from likeness.store import Library

    return Library.open(home)


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_FAILED)


def parse_ids(text: str, what: str = "face ids like 12,13,14") -> list[int]:
    try:
        return [int(x) for x in text.replace(" ", ",").split(",") if x]
    except ValueError:
        raise typer.BadParameter(f"expected {what}, got {text!r}") from None


def progress_bar(label: str | None, as_json: bool, *extra_columns, auto_refresh: bool = True):
    """A Rich progress bar on stderr (none with --json): label (None: each task's own
    description, for one bar per task), bar, done/total, the extra columns, elapsed time and
    ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{label}" if label is not None else "[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=as_json,
        auto_refresh=auto_refresh,
    )


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
