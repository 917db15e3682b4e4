"""What every command group shares: the options, opening the library, output helpers, and the
one mapping from the library's errors to messages and exit codes.

Exit codes: 0 done; 1 failed (bad path, unknown id, refused edit, failed enrolment, broken
audit log); 2 usage error; 3 import completed with problems (the files are listed and were
skipped); 4 refused by consent (the gate said no, or consent was withdrawn while work ran).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from likeness.errors import LikenessError

# soft_wrap: a long line (a path, a reason) stays one line for scripts and logs to read.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_FAILED = 1
EXIT_PROBLEMS = 3

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="LIKENESS_HOME", help="Library home (default: user data dir)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class LikenessGroup(TyperGroup):
    """The top-level command group: a ``LikenessError`` raised anywhere below becomes its
    message on stderr and its exit code, never a traceback; so does an operating-system error
    (a file that cannot be written, a full disk) with exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LikenessError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_FAILED) from None


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
