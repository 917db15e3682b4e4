"""Libraries the server tests share (built once for the run, copied per test)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.testing.libraries import copy_home
from likeness.testing.server import LOCAL, PASSPHRASE
from tests.support.apps import app_world, idle_app_world  # noqa: F401 (fixtures)


@pytest.fixture(scope="package")
def prepared(two_people_home):
    """Alice (the owner) and Grace Hopper: (home, alice, grace)."""
    return two_people_home


@pytest.fixture(scope="package")
def trained(trained_two_people_home):
    """The same two people with a tiny-sd15 adapter each: (home, alice, grace)."""
    return trained_two_people_home


@pytest.fixture
def world(prepared, tmp_path):
    """A copy of the prepared library with the owner's passphrase, and a test client of its
    server: (client, lib, alice, grace). Modules that need another world define their own."""
    home, alice, grace = prepared
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        yield client, lib, alice, grace
    lib.close()
