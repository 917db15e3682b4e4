"""Generation over HTTP: the gate decides before anything is queued, the job runs the same
``generate_images`` in its own process, its images come back signed and watermarked, with
their provenance report; and the Create page in the browser."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.testing.libraries import copy_home
from likeness.testing.server import LOCAL, PASSPHRASE, events, signed_in


@pytest.fixture
def world(trained, tmp_path):
    home, alice, grace = trained
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    grant = issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    yield lib, alice, grace, grant.id
    lib.close()


def test_a_consented_generation_runs_as_a_job_and_comes_back_signed(world):
    lib, _, _, grant = world
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        queued = client.post(
            "/api/jobs/generate",
            json={
                "prompt": "@alice reading in a garden",
                "style": "watercolor",
                "steps": 4,
                "seed": 3,
            },
            headers=headers,
        )
        assert queued.status_code == 202, queued.text
        job = queued.json()["id"]
        seen = events(client, job)
        assert seen[-1]["state"] == "done", seen[-1]
        assert seen[-1]["done"] == seen[-1]["total"] == 4  # one image of four steps
        [image] = seen[-1]["result"]["images"]
        assert image["allowed"] and image["seed"] == 3
        png = client.get(f"/api/jobs/{job}/images/0")
        assert png.status_code == 200 and Image.open(io.BytesIO(png.content)).format == "PNG"
        report = client.get(f"/api/jobs/{job}/images/0/provenance").json()
        assert report["credentials"]["state"] == "trusted"
        assert report["watermark"]["id"] == image["watermark_id"]
        assert report["credentials"]["assertions"]["org.likeness.consent"]["grants"] == [grant]
        assert client.get(f"/api/jobs/{job}/images/1").status_code == 404


def test_a_refused_generation_queues_nothing_and_says_why(world):
    lib, _, _, _ = world
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        refused = client.post(
            "/api/jobs/generate",
            json={"prompt": "@grace_hopper on stage", "style": "watercolor", "steps": 4},
            headers=headers,
        )
        assert refused.status_code == 403
        assert "no grant in force for generate-stylized" in refused.json()["detail"]
        unknown = client.post(
            "/api/jobs/generate", json={"prompt": "@nobody_here at sea"}, headers=headers
        )
        assert unknown.status_code == 400 and "nobody_here" in unknown.json()["detail"]
        bad_style = client.post(
            "/api/jobs/generate", json={"prompt": "@alice", "style": "nope"}, headers=headers
        )
        assert bad_style.status_code == 400 and "unknown style" in bad_style.json()["detail"]
        # A NUL in a looked-up name was a 500 on PostgreSQL (schemathesis found it in CI).
        nul = client.post(
            "/api/jobs/generate", json={"prompt": "@alice", "model": "\x00"}, headers=headers
        )
        assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
        assert client.get("/api/jobs").json() == []
        assert not (lib.home / "outputs").exists()


def test_consent_revoked_while_queued_stops_the_job(world):
    """The job asks the gate again when it runs."""
    from likeness.consent.grants import revoke_grant
    from likeness.server.jobs import JobQueue, run_job

    lib, _, _, grant = world
    queue = JobQueue(lib)  # not started: the job waits
    with TestClient(create_app(lib), base_url=LOCAL):
        pass
    from likeness.generate.run import GenerationOptions

    options = GenerationOptions(steps=4, style="watercolor").__dict__
    view = queue.submit("generate", {"prompt": "@alice by the sea", "options": options})
    revoke_grant(lib, grant)
    run_job(str(lib.home), view.id)
    after = queue.get(view.id)
    assert after.state == "failed" and "generation refused" in after.message
    assert not any((lib.home / "outputs" / view.id).glob("*.png"))
