"""Training over HTTP: the gate decides before anything is queued, and the job trains the
person's adapter in its own process, its progress streamed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from likeness.adapters.manage import list_adapters
from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.testing.libraries import copy_home
from likeness.testing.server import LOCAL, PASSPHRASE, events, signed_in


@pytest.mark.slow  # 27 s; `make test-all`
def test_training_runs_as_a_job_under_a_grant(trained, tmp_path):
    home, alice, _ = trained
    lib = copy_home(home, tmp_path / "home")  # Alice holds an attested train-adapter grant
    set_owner_passphrase(lib, PASSPHRASE)
    before = {a.id for a in list_adapters(lib)}
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        body = {"person": alice, "steps": 6, "learning_rate": 2e-3, "min_photos": 2}
        queued = client.post("/api/jobs/train", json=body, headers=headers)
        assert queued.status_code == 202, queued.text
        seen = events(client, queued.json()["id"])
    assert seen[-1]["state"] == "done", seen[-1]
    assert seen[-1]["done"] == seen[-1]["total"] == 6
    result = seen[-1]["result"]
    assert result["person"] == alice and result["steps"] == 6
    # Scored as `likeness adapter train` scores it (the tiny model draws no face: 0 found).
    assert result["identity"]["images"] == 8 and result["identity"]["with_face"] == 0
    assert {a.id for a in list_adapters(lib)} - before == {result["id"]}
    lib.close()


def test_training_without_a_grant_queues_nothing_and_says_why(prepared, tmp_path):
    home, alice, _ = prepared
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        refused = client.post("/api/jobs/train", json={"person": alice}, headers=headers)
        assert refused.status_code == 403 and "training refused" in refused.json()["detail"]
        assert client.get("/api/jobs").json() == []
        unknown = client.post(
            "/api/jobs/train", json={"person": alice, "model": "nope"}, headers=headers
        )
        assert unknown.status_code == 404 and "no base model" in unknown.json()["detail"]
    lib.close()
