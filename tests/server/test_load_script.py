"""benchmarks/server_load.py runs (small) and holds its own promises: every accepted job
completes, every refused one got 429 with Retry-After, no 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # 14 s; `make test-all`
def test_the_load_script_runs_and_the_queue_holds(trained):
    home, _, _ = trained
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/server_load.py"),
            "--home",
            str(home),
            "--clients",
            "3",
            "--generators",
            "1",
            "--seconds",
            "4",
            "--every",
            "0.3",
            "--max-pending",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("requests: ") and "p99" in line for line in lines)
    [fate] = [line for line in lines if line.startswith("generations: ")]
    accepted = int(fate.split()[1])
    refused = int(fate.split("; ")[1].split()[0])
    assert accepted >= 1 and refused >= 1, fate  # the bound was reached, and held
