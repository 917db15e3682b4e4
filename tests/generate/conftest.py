from pathlib import Path
from typing import NamedTuple

import pytest

from likeness.adapters.curation import CurationRules
from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.store import Library
from tests.support.libraries import copy_home, two_people_library


class TwoPeople(NamedTuple):
    lib: Library
    alice: int
    grace: int
    alice_grant: str


@pytest.fixture(scope="package")
def trained_home(tmp_path_factory) -> tuple[Path, int, int]:
    """Alice and Grace Hopper, each with a tiny-sd15 adapter; Alice's grants cover stylized
    generation and training only, Grace has no grant left (hers was for training)."""
    home, alice, grace = two_people_library(tmp_path_factory.mktemp("two-people"))
    with Library.open(home) as lib:
        for person in (alice, grace):
            issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
            decision = authorize_training(lib, person, "tiny-sd15")
            train_adapter(
                lib,
                decision,
                person,
                "tiny-sd15",
                TrainingParams(steps=40, learning_rate=2e-3, seed=person),
                rules=CurationRules(min_photos=2),
            )
    return home, alice, grace


@pytest.fixture
def two_people(trained_home, tmp_path) -> TwoPeople:
    home, alice, grace = trained_home
    lib = copy_home(home, tmp_path / "home")
    grant = issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    yield TwoPeople(lib, alice, grace, grant.id)
    lib.close()
