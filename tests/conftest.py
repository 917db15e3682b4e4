from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from likeness.store import Library
from likeness.store.home import DATABASE_URL_ENV
from likeness.testing.libraries import (
    astronaut_library,
    trained_two_people_library,
    two_people_library,
)

FACES_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-dev"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test``: a process per core), each worker's torch gets that
    worker's share of the cores, not a thread per core (torch reads ``OMP_NUM_THREADS``
    when it is first imported, which no module imported before this hook does)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        share = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ.setdefault("OMP_NUM_THREADS", str(share))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgresql",
        action="store_true",
        help="put every new library's catalog in a real PostgreSQL server started for the "
        "run (one database a test), instead of the home's SQLite file",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --postgresql, skip (before any fixture is set up) the tests about the SQLite
    file itself, the browser tests and those that open no catalog: CI's time; the pages run
    in Chromium in the SQLite run, and every route they call is tried on PostgreSQL without a
    browser; a test that opens no catalog runs the same code on either."""
    if not config.getoption("--postgresql"):
        return
    reasons = {
        "sqlite": "about the SQLite catalog itself",
        "browser": "the web app in a browser runs in the SQLite run",
        "no_catalog": "opens no catalog: the SQLite run covers it",
    }
    for item in items:
        for marker, reason in reasons.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest):
    """The run's PostgreSQL server under --postgresql, else None."""
    if not request.config.getoption("--postgresql"):
        yield None
        return
    from likeness.testing.postgres import PostgresServer

    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(postgres):
    """A PostgreSQL server for tests about PostgreSQL itself, in every run: the run's under
    --postgresql, else one started for them (skipped where PostgreSQL is not installed)."""
    if postgres is not None:
        yield postgres
        return
    from likeness.testing.postgres import PostgresServer, find_binaries

    if find_binaries() is None:
        pytest.skip("needs PostgreSQL (Debian: apt-get install postgresql; make setup does it)")
    server = PostgresServer.start()
    yield server
    server.stop()


@contextmanager
def new_catalogs_in(url: str | None) -> Iterator[None]:
    """New library homes made inside get their catalog at ``url`` (None: SQLite)."""
    before = os.environ.pop(DATABASE_URL_ENV, None)
    if url is not None:
        os.environ[DATABASE_URL_ENV] = url
    try:
        yield
    finally:
        os.environ.pop(DATABASE_URL_ENV, None)
        if before is not None:
            os.environ[DATABASE_URL_ENV] = before


@pytest.fixture(autouse=True)
def catalog_database(postgres) -> Iterator[None]:
    """Under --postgresql, a new database for each test's new library homes."""
    with new_catalogs_in(None if postgres is None else postgres.create_database()):
        yield


@pytest.fixture(scope="session")
def prepared_catalog(postgres):
    """``prepared_catalog()``: a context in which a library prepared once for many tests is
    made (copied for each with ``copy_home``); under --postgresql its catalog gets a database
    of its own, which outlives the test that happened to build it."""
    return lambda: new_catalogs_in(None if postgres is None else postgres.create_database())


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
def astronaut_home(tmp_path_factory, prepared_catalog) -> tuple[Path, int]:
    """One person, six photos of the astronaut: (home, person id)."""
    with prepared_catalog():
        return astronaut_library(tmp_path_factory.mktemp("astronaut"))


@pytest.fixture(scope="session")
def two_people_home(tmp_path_factory, prepared_catalog) -> tuple[Path, int, int]:
    """Alice (the owner) and Grace Hopper, no grants: (home, alice, grace)."""
    with prepared_catalog():
        return two_people_library(tmp_path_factory.mktemp("two-people"))


@pytest.fixture(scope="session")
def trained_two_people_home(tmp_path_factory, prepared_catalog) -> tuple[Path, int, int]:
    """The same two people with a tiny-sd15 adapter each, trained under attested training
    grants (no other grant): (home, alice, grace)."""
    with prepared_catalog():
        return trained_two_people_library(tmp_path_factory.mktemp("trained-two-people"))
