from __future__ import annotations

from pathlib import Path

import pytest

from likeness.store import Library
from likeness.testing.libraries import (
    astronaut_library,
    trained_two_people_library,
    two_people_library,
)

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


# Libraries prepared once for the whole run; tests copy them (``copy_home``), never change them.


@pytest.fixture(scope="session")
def astronaut_home(tmp_path_factory) -> tuple[Path, int]:
    """One person, six photos of the astronaut: (home, person id)."""
    return astronaut_library(tmp_path_factory.mktemp("astronaut"))


@pytest.fixture(scope="session")
def two_people_home(tmp_path_factory) -> tuple[Path, int, int]:
    """Alice (the owner) and Grace Hopper, no grants: (home, alice, grace)."""
    return two_people_library(tmp_path_factory.mktemp("two-people"))


@pytest.fixture(scope="session")
def trained_two_people_home(tmp_path_factory) -> tuple[Path, int, int]:
    """The same two people with a tiny-sd15 adapter each, trained under attested training
    grants (no other grant): (home, alice, grace)."""
    return trained_two_people_library(tmp_path_factory.mktemp("trained-two-people"))
