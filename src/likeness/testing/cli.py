"""Run the ``likeness`` command line as a user would: in this process through Click's test
runner (fast: no interpreter start-up per call), or in a subprocess where a test needs a
real process (signals, a crash log, a fresh interpreter's imports)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CliResult:
    """What a run left: the exit code, and stdout and stderr apart (as from a process)."""

    returncode: int
    stdout: str
    stderr: str


def likeness(home: Path, *args: str, input: str | None = None) -> CliResult:
    """``likeness ARGS`` with ``LIKENESS_HOME=home``, in this process."""
    from typer.testing import CliRunner

    from likeness.cli import app

    result = CliRunner().invoke(
        app,
        list(args),
        env={"LIKENESS_HOME": str(home)},
        input=input,
        catch_exceptions=False,
        prog_name="likeness",
    )
    return CliResult(result.exit_code, result.stdout, result.stderr)


def likeness_process(home: Path, *args: str) -> subprocess.CompletedProcess:
    """``likeness ARGS`` with ``LIKENESS_HOME=home``, in a new Python process."""
    env = {**os.environ, "LIKENESS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "likeness.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
