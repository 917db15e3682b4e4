"""Run the ``likeness`` command line in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def likeness(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIKENESS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "likeness.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
