"""Libraries the server tests share (built once for the run, copied per test)."""

from __future__ import annotations

import pytest

from tests.support.apps import app_world, idle_app_world  # noqa: F401 (fixtures)


@pytest.fixture(scope="package")
def prepared(two_people_home):
    """Alice (the owner) and Grace Hopper: (home, alice, grace)."""
    return two_people_home


@pytest.fixture(scope="package")
def trained(trained_two_people_home):
    """The same two people with a tiny-sd15 adapter each: (home, alice, grace)."""
    return trained_two_people_home
