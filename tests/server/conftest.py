"""Libraries the server tests share (built once for the package, copied per test)."""

from __future__ import annotations

import pytest

from likeness.testing.libraries import trained_two_people_library, two_people_library
from tests.support.apps import app_world, idle_app_world  # noqa: F401 (fixtures)


@pytest.fixture(scope="package")
def prepared(tmp_path_factory):
    """Alice (the owner) and Grace Hopper: (home, alice, grace)."""
    return two_people_library(tmp_path_factory.mktemp("server-two-people"))


@pytest.fixture(scope="package")
def trained(tmp_path_factory):
    """The same two people with a tiny-sd15 adapter each: (home, alice, grace)."""
    return trained_two_people_library(tmp_path_factory.mktemp("server-trained"))
