from pathlib import Path
from typing import NamedTuple

import pytest

from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.store import Library
from likeness.testing.libraries import copy_home


class TwoPeople(NamedTuple):
    lib: Library
    alice: int
    grace: int
    alice_grant: str


@pytest.fixture(scope="package")
def trained_home(trained_two_people_home) -> tuple[Path, int, int]:
    """Alice and Grace Hopper, each with a tiny-sd15 adapter; Alice's grants cover stylized
    generation and training only, Grace has no grant left (hers was for training)."""
    return trained_two_people_home


@pytest.fixture
def two_people(trained_home, tmp_path) -> TwoPeople:
    home, alice, grace = trained_home
    lib = copy_home(home, tmp_path / "home")
    grant = issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    yield TwoPeople(lib, alice, grace, grant.id)
    lib.close()
