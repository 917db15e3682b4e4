from __future__ import annotations

from pathlib import Path

import pytest

from likeness.store import Library

FACES_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-dev"


@pytest.fixture
def lib(tmp_path: Path):
    library = Library.open(tmp_path / "home")
    yield library
    library.close()


@pytest.fixture(scope="session")
def faces_dev() -> Path:
    if not (FACES_DEV / "labels.csv").exists():
        pytest.skip(f"needs the labelled face photos at {FACES_DEV} (../shared/data/faces-dev)")
    return FACES_DEV
