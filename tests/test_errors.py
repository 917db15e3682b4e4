"""Every error likeness defines is one of the kinds in ``likeness.errors``, and both front ends
answer each with that kind's exit code and HTTP status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import likeness
from likeness.cli.common import LikenessGroup
from likeness.errors import (
    EXIT_INTERNAL,
    BusyError,
    ConflictError,
    InvalidError,
    LikenessError,
    NotFoundError,
    RefusedError,
    UnavailableError,
    kind_of,
)
from likeness.testing.server import LOCAL

#: The contract, written out: (exit code, HTTP status) per kind.
EXPECTED = {
    InvalidError: (1, 400),
    NotFoundError: (1, 404),
    ConflictError: (1, 409),
    RefusedError: (4, 403),
    UnavailableError: (5, 503),
    BusyError: (5, 429),
}


def every_module() -> list[str]:
    names = [likeness.__name__]
    for info in pkgutil.walk_packages(likeness.__path__, prefix="likeness."):
        if ".store.migrations.versions." in info.name or info.name.endswith("__main__"):
            continue  # Alembic's scripts, and `python -m likeness.cli` (it runs the app)
        names.append(info.name)
    return names


def every_error_class() -> list[type[BaseException]]:
    found = {}
    for name in every_module():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("likeness."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[k] for k in sorted(found)]


ERRORS = every_error_class()
USER_ERRORS = [e for e in ERRORS if e is not LikenessError and e not in EXPECTED]


def test_the_walk_finds_the_rooms_errors():
    names = {e.__name__ for e in ERRORS}
    assert {"PersonNotFoundError", "AdapterNotFoundError", "DecodeError", "GateError"} <= names
    assert len(USER_ERRORS) >= 30


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: f"{e.__module__}.{e.__qualname__}")
def test_every_error_is_one_of_the_kinds(error):
    assert issubclass(error, LikenessError), f"{error} is outside likeness.errors' hierarchy"
    if error is LikenessError:
        return
    kind = kind_of(error)
    assert kind in EXPECTED
    assert (error.exit_code, error.http_status) == EXPECTED[kind], error
    assert error.__name__.endswith("Error"), "error classes are named ...Error"
    assert error.__doc__, "an error class says when it is raised"


def instance(error: type[LikenessError], message: str = "something is wrong") -> LikenessError:
    """An instance of ``error`` whatever its constructor takes (some compute their message)."""
    exc = error.__new__(error)
    LikenessError.__init__(exc, message, field="size")
    if issubclass(error, BusyError):
        exc.retry_after_s = 2.5
    return exc


def cli_raising(exc: BaseException) -> typer.Typer:
    app = typer.Typer(cls=LikenessGroup)

    @app.command()
    def fail(size: str = "1x1") -> None:
        raise exc

    @app.command()
    def other() -> None:  # two commands: Typer then keeps the group
        pass

    return app


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda e: e.__qualname__)
def test_the_command_line_exits_with_the_kind_s_code(error):
    result = CliRunner().invoke(cli_raising(instance(error)), ["fail"])
    assert result.exit_code == EXPECTED[kind_of(error)][0]
    assert "something is wrong (option --size)" in result.output
    assert "Traceback" not in result.output


def test_an_unexpected_error_is_one_line_and_a_log_file(tmp_path, monkeypatch):
    """A bug (here a KeyError) prints one line naming the log with the trace, exit 70."""
    monkeypatch.setattr("likeness.cli.common.crash_log_dir", lambda: tmp_path / "log")
    monkeypatch.delenv("LIKENESS_DEBUG", raising=False)
    result = CliRunner().invoke(cli_raising(KeyError("adapter.down.weight")), ["fail"])
    assert result.exit_code == EXIT_INTERNAL
    assert "Traceback" not in result.output
    [log] = (tmp_path / "log").iterdir()
    assert f"the full trace is in {log}" in " ".join(result.output.split())
    assert "Traceback" in log.read_text() and "adapter.down.weight" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600


def test_a_field_no_command_has_is_not_named_as_a_flag():
    exc = InvalidError("the size is odd", field="no_such_option")
    result = CliRunner().invoke(cli_raising(exc), ["fail"])
    assert result.exit_code == 1
    assert "the size is odd" in result.output and "option" not in result.output


@pytest.fixture(scope="module")
def server_raising(tmp_path_factory):
    """The real server, with one extra route that raises the error it is told to."""
    from likeness.server.app import create_app
    from likeness.store import Library

    lib = Library.open(tmp_path_factory.mktemp("errors-home"))
    app = create_app(lib)
    by_name = {e.__qualname__ + e.__module__: e for e in USER_ERRORS}

    def raising(name: str) -> None:
        raise instance(by_name[name])

    app.add_api_route("/api/raise/{name}", raising)
    with TestClient(app, base_url=LOCAL) as client:
        yield client


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda e: e.__qualname__)
def test_the_server_answers_with_the_kind_s_status(server_raising, error):
    status = EXPECTED[kind_of(error)][1]
    url = f"/api/raise/{error.__qualname__ + error.__module__}"
    response = server_raising.get(url)
    assert response.status_code == status
    assert response.json() == {"detail": "something is wrong", "field": "size"}
    if status == 429:
        assert response.headers["Retry-After"] == "3"
    page = server_raising.get(url, headers={"Accept": "text/html"})
    assert page.status_code == status
    assert "something is wrong" in page.text and "Traceback" not in page.text
