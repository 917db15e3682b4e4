"""The tasks every front end runs (``likeness.workflows``): one refusal, one set of defaults,
requests that travel as JSON."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest
from typer.main import get_command

from likeness.cli import app
from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.consent.policy import GateError, authorize
from likeness.generate.run import GenerationOptions
from likeness.server.jobs_routes import GenerateJob, TrainJob
from likeness.testing.libraries import copy_home
from likeness.workflows import (
    GenerateRequest,
    TrainRequest,
    authorize_generate,
    authorize_train,
    generate,
)


@pytest.fixture(scope="module")
def prepared(two_people_home):
    """Alice (the owner) and Grace Hopper, no grants: (home, alice, grace)."""
    return two_people_home


def test_a_refusal_raises_with_its_reason_and_an_allowing_decision_passes(prepared, tmp_path):
    home, alice, grace = prepared
    lib = copy_home(home, tmp_path / "home")
    with pytest.raises(GateError, match=f"training refused: person {alice}"):
        authorize_train(lib, TrainRequest(alice))
    issue_grant(lib, alice, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    decision = authorize_train(lib, TrainRequest(alice))
    assert decision.allowed and decision.subjects == (alice,)
    denied = authorize(lib, decision.action, [grace])
    with pytest.raises(GateError, match="evaluation refused"):
        denied.raise_if_denied("evaluation")
    lib.close()


def test_a_refused_generation_writes_nothing(prepared, tmp_path):
    home, _, _ = prepared
    lib = copy_home(home, tmp_path / "home")
    out = tmp_path / "out"
    request = GenerateRequest("@grace_hopper on stage", GenerationOptions(steps=2))
    with pytest.raises(GateError, match="generation refused"):
        generate(lib, request, out)
    assert not out.exists()
    with pytest.raises(Exception, match="unknown style 'neon'"):
        authorize_generate(lib, GenerateRequest("@alice", GenerationOptions(style="neon")))
    lib.close()


def test_requests_travel_as_json():
    request = GenerateRequest(
        "@alice at the beach",
        GenerationOptions(count=2, seed=9, style="watercolor"),
        requester="app:3",
        among=(1, 2),
        within=("g1",),
    )
    assert GenerateRequest.from_json(json.loads(json.dumps(request.as_json()))) == request
    train = TrainRequest(4, steps=20, resume=True)
    assert TrainRequest(**json.loads(json.dumps(dataclasses.asdict(train)))) == train


def _cli_defaults(*path: str) -> dict[str, object]:
    command = get_command(app)
    for name in path:
        command = command.commands[name]
    return {p.name: p.default for p in command.params}


def test_every_front_end_takes_its_defaults_from_the_request():
    """The command line's options and the server's request bodies default to the values the
    workflow's request dataclasses hold: one place to change a default."""
    options = GenerationOptions()
    cli = _cli_defaults("generate")
    assert (cli["model"], cli["n"], cli["seed"], cli["steps"], cli["guidance"], cli["fmt"]) == (
        options.model,
        options.count,
        options.seed,
        options.steps,
        options.guidance,
        options.format,
    )
    body = GenerateJob(prompt="x")
    for name in ("model", "count", "seed", "steps", "guidance"):
        assert getattr(body, name) == getattr(options, name)

    train = inspect.signature(TrainRequest).parameters
    cli = _cli_defaults("adapter", "train")
    for name in ("model", "min_photos", "max_photos", "evaluate", "eval_steps", "resume"):
        assert cli[name] == train[name].default, name
    body = TrainJob(person=1)
    for name in ("model", "min_photos", "max_photos", "evaluate", "resume"):
        assert getattr(body, name) == train[name].default, name
