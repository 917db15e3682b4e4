"""Clips over HTTP: the owner's video job and an app's, each through the gate's
``generate-video`` (never implied by an image scope), written signed as MP4, served with
their provenance; the Create page lists them."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.testing.libraries import copy_home
from likeness.testing.server import LOCAL, PASSPHRASE, events, signed_in
from tests.support.apps import as_app, token_for

CLIP = {"style": "watercolor", "steps": 2, "frames": 8, "fps": 4}


@pytest.fixture
def world(trained, tmp_path):
    home, alice, grace = trained
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    yield lib, alice, grace
    lib.close()


def test_the_owners_clip_needs_a_video_grant_and_comes_back_signed(world):
    lib, alice, _ = world
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        body = {"prompt": "@alice waving", **CLIP}
        refused = client.post("/api/jobs/video", json=body, headers=headers)
        assert refused.status_code == 403 and "generate-video" in refused.json()["detail"]
        assert client.get("/api/jobs").json() == []  # nothing queued
        page = client.get("/create")
        assert "Video clips are locked" in page.text

        grant = issue_grant(lib, alice, [Scope.GENERATE_VIDEO], Trust.ATTESTED).id
        queued = client.post("/api/jobs/video", json=body, headers=headers)
        assert queued.status_code == 202, queued.text
        job = queued.json()["id"]
        seen = events(client, job)
        assert seen[-1]["state"] == "done", seen[-1]
        [clip] = seen[-1]["result"]["images"]
        assert clip["allowed"] and clip["path"].endswith(".mp4")
        video = client.get(f"/api/jobs/{job}/images/0")
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        report = client.get(f"/api/jobs/{job}/images/0/provenance").json()
        assert report["credentials"]["state"] == "trusted"
        assert report["credentials"]["assertions"]["org.likeness.consent"]["grants"] == [grant]
        assert report["watermark"]["id"] == clip["watermark_id"] and report["frames"] == 8
        page = client.get("/create")
        assert f'<video src="/api/jobs/{job}/images/0"' in page.text
        assert "Video clips: Alice." in page.text
        assert "<video" in client.get(f"/jobs/{job}/images/0").text  # its report page
        # A motion module on this machine is the owner's to name; one that is not there
        # fails the job with the reason.
        bad = client.post(
            "/api/jobs/video", json={**body, "motion": "/no/such/module"}, headers=headers
        )
        failed = events(client, bad.json()["id"])[-1]
        assert failed["state"] == "failed" and "no motion module at" in failed["message"]


def test_an_app_needs_the_video_scope_for_a_clip(app_world):
    client, _lib, alice, _grace, app_id, headers = app_world
    stylized = token_for(client, headers, app_id, [alice])
    app = as_app(client)
    body = {"prompt": f"@{alice} waving", **CLIP}
    refused = app.post("/api/app/v1/video", json=body, headers=stylized)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]

    signed = signed_in(client)
    video = token_for(client, signed, app_id, [alice], scope="generate-video")
    app = as_app(client)
    # An app may not name a motion module (a file of this machine): the field is not read.
    queued = app.post("/api/app/v1/video", json={**body, "motion": "/etc/passwd"}, headers=video)
    assert queued.status_code == 202, queued.text
    assert queued.json()["params"]["options"]["motion"] is None
    job_id = queued.json()["id"]
    deadline = time.monotonic() + 300
    while (job := app.get(f"/api/app/v1/jobs/{job_id}", headers=video).json())["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert job["state"] == "done", job
    assert all("path" not in c for c in job["result"]["images"])
    clip = app.get(f"/api/app/v1/jobs/{job_id}/images/0", headers=video)
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    # The app's image token still cannot queue a clip.
    assert app.post("/api/app/v1/video", json=body, headers=stylized).status_code == 403
