from pathlib import Path
from typing import NamedTuple

import pytest

from likeness.adapters.curation import CurationRules
from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.store import Library
from likeness.testing.libraries import copy_home

#: The prepared library has six usable photos; tests train on small sets.
RULES = CurationRules(min_photos=2)


@pytest.fixture(scope="package")
def prepared(astronaut_home) -> tuple[Path, int]:
    return astronaut_home


class Granted(NamedTuple):
    lib: Library
    person: int
    grant_id: str


@pytest.fixture
def granted(prepared, tmp_path):
    """A library copy whose person has an attested grant to train, generate and export."""
    home, person = prepared
    lib = copy_home(home, tmp_path / "home")
    grant = issue_grant(
        lib,
        person,
        [Scope.TRAIN_ADAPTER, Scope.EXPORT_ADAPTER, Scope.GENERATE_STYLIZED],
        Trust.ATTESTED,
    )
    yield Granted(lib, person, grant.id)
    lib.close()
