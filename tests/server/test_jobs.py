"""The server's job queue: a real import in its own (spawned) process, its progress as
server-sent events, a full queue answered with 429, and jobs a stopped server left behind."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from likeness.server import create_app
from likeness.server.jobs import INTERRUPTED, RUNNING, JobQueue, QueueFullError
from likeness.server.owner import set_owner_passphrase
from likeness.server.tables import ServerJob
from likeness.store import Library
from likeness.testing.libraries import astronaut_variants
from likeness.testing.photos import jpeg_bytes, write
from likeness.testing.server import LOCAL, PASSPHRASE, events, signed_in


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "home") as lib:
        set_owner_passphrase(lib, PASSPHRASE)
        yield lib


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    for i, image in enumerate(astronaut_variants()[:2]):
        write(folder / f"astronaut-{i}.jpg", jpeg_bytes(image))
    write(folder / "broken.jpg", b"not a jpeg at all")
    return folder


def test_an_import_job_runs_and_streams_its_progress(lib, photos):
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        queued = client.post("/api/jobs/import", json={"path": str(photos)}, headers=headers)
        assert queued.status_code == 202 and queued.json()["state"] == "queued"
        seen = events(client, queued.json()["id"])
        assert seen[-1]["state"] == "done", seen[-1]
        report = seen[-1]["result"]
        assert report["added"] == 2 and len(report["problems"]) == 1
        # A reloaded page finds the job again.
        assert client.get(f"/api/jobs/{queued.json()['id']}").json()["state"] == "done"
        assert [j["id"] for j in client.get("/api/jobs").json()] == [queued.json()["id"]]
        assert len(client.get("/api/people").json()) == 1


def test_bad_job_requests_are_refused_before_queueing(lib, tmp_path):
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        missing = client.post(
            "/api/jobs/import", json={"path": str(tmp_path / "nowhere")}, headers=headers
        )
        assert missing.status_code == 400 and "no such folder" in missing.json()["detail"]
        # Paths no folder can have: ~ of a user this machine lacks (pathlib raises a bare
        # RuntimeError; schemathesis found it) and a NUL byte (the file system's ValueError).
        for path, says in (("~0", "~0 names no user"), ("photos\x00", "NUL byte")):
            bad = client.post("/api/jobs/import", json={"path": path}, headers=headers)
            assert bad.status_code == 400 and says in bad.json()["detail"], bad.text
        no_csrf = client.post("/api/jobs/import", json={"path": str(tmp_path)})
        assert no_csrf.status_code == 403
        assert client.get("/api/jobs/" + "0" * 32).status_code == 404
        assert client.get("/api/jobs/" + "0" * 32 + "/events").status_code == 404
        assert client.get("/api/jobs/nope").status_code == 422
        assert client.get("/api/jobs").json() == []


def test_a_full_queue_answers_429_and_drops_nothing(lib, photos):
    queue = JobQueue(lib, max_pending=1)  # not started: jobs stay queued
    first = queue.submit("import", {"path": str(photos)})
    with pytest.raises(QueueFullError) as refused:
        queue.submit("import", {"path": str(photos)})
    assert refused.value.retry_after_s > 0
    assert [j.id for j in queue.list()] == [first.id]
    with TestClient(create_app(lib, max_pending_jobs=1), base_url=LOCAL) as client:
        headers = signed_in(client)
        # Starting the app marked the queued job of the "previous server" interrupted.
        assert client.get(f"/api/jobs/{first.id}").json()["state"] == INTERRUPTED
        accepted = client.post("/api/jobs/import", json={"path": str(photos)}, headers=headers)
        full = client.post("/api/jobs/import", json={"path": str(photos)}, headers=headers)
        assert accepted.status_code == 202
        assert full.status_code == 429 and int(full.headers["Retry-After"]) > 0
        assert events(client, accepted.json()["id"])[-1]["state"] == "done"


def test_a_restart_marks_unfinished_jobs_interrupted(lib, photos):
    from datetime import datetime

    with lib.session() as s:
        s.add(
            ServerJob(
                id="a" * 32,
                kind="import",
                params=json.dumps({"path": str(photos), "thorough": False}),
                state=RUNNING,
                done=1,
                total=3,
                created_at=datetime.now(),
            )
        )
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        signed_in(client)
        job = client.get("/api/jobs/" + "a" * 32).json()
        assert job["state"] == INTERRUPTED and "run it again to resume" in job["message"]


def test_jobs_queued_in_the_same_second_list_newest_first(lib, photos):
    queue = JobQueue(lib)  # not started: jobs stay queued
    ids = [queue.submit("import", {"path": str(photos)}).id for _ in range(6)]
    assert [j.id for j in queue.list()] == ids[::-1]


def test_a_running_job_is_cancelled_its_images_removed_and_the_next_one_runs(lib, photos):
    from likeness.server.jobs import outputs_folder

    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        long = {"prompt": "a lighthouse at dusk", "style": "watercolor", "count": 8, "steps": 150}
        running = client.post("/api/jobs/generate", json=long, headers=headers).json()["id"]
        after = client.post("/api/jobs/import", json={"path": str(photos)}, headers=headers)
        deadline = time.monotonic() + 300
        while (job := client.get(f"/api/jobs/{running}").json())["done"] < 2:
            assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
            time.sleep(0.2)
        cancelled = client.post(f"/api/jobs/{running}/cancel", headers=headers).json()
        assert cancelled["state"] == "cancelled" and cancelled["message"]
        # The next job runs: the cancelled one's process is gone, and so are its images.
        assert events(client, after.json()["id"])[-1]["state"] == "done"
        assert client.get(f"/api/jobs/{running}").json()["state"] == "cancelled"
        assert not outputs_folder(lib, running).exists()
        # A finished job is left as it is.
        done = client.post(f"/api/jobs/{after.json()['id']}/cancel", headers=headers).json()
        assert done["state"] == "done"


def test_a_finished_job_is_deleted_with_its_images_and_a_live_one_is_not(lib, photos):
    from likeness.server.jobs import outputs_folder

    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers = signed_in(client)
        made = client.post(
            "/api/jobs/generate",
            json={"prompt": "a lighthouse at dusk", "style": "watercolor", "steps": 2},
            headers=headers,
        ).json()["id"]
        waiting = client.post("/api/jobs/import", json={"path": str(photos)}, headers=headers)
        waiting_id = waiting.json()["id"]
        # Queued behind the generation (one job runs at a time): it must be cancelled first.
        refused = client.delete(f"/api/jobs/{waiting_id}", headers=headers)
        assert refused.status_code == 409 and "cancel it first" in refused.json()["detail"]
        assert events(client, made)[-1]["state"] == "done"
        assert any(outputs_folder(lib, made).iterdir())
        assert client.delete(f"/api/jobs/{made}").status_code == 403  # no CSRF token
        assert client.delete(f"/api/jobs/{made}", headers=headers).status_code == 204
        assert not outputs_folder(lib, made).exists()
        assert client.get(f"/api/jobs/{made}").status_code == 404
        assert client.delete(f"/api/jobs/{made}", headers=headers).status_code == 404
        assert events(client, waiting_id)[-1]["state"] == "done"


def test_a_generation_says_which_image_and_step_it_is_on():
    from datetime import UTC, datetime

    from likeness.server.jobs import QUEUED, JobView

    def view(state, done, total):
        params = {"prompt": "a cat", "options": {"count": 3, "steps": 20}}
        at = datetime.now(UTC)
        return JobView("j", "generate", params, state, done, total, None, None, at, at, None)

    assert view(QUEUED, 0, None).progress_words() == "waiting for the jobs before it"
    assert view(RUNNING, 0, 60).progress_words() == "image 1 of 3 · step 0 of 20"
    assert view(RUNNING, 20, 60).progress_words() == "image 1 of 3 · step 20 of 20"
    assert view(RUNNING, 31, 60).progress_words() == "image 2 of 3 · step 11 of 20"
    assert view(RUNNING, 60, 60).as_json()["progress"] == "image 3 of 3 · step 20 of 20"
    assert view("done", 60, 60).progress_words() is None


def test_an_unexpected_failure_is_told_in_words_without_its_details(lib):
    """A job that fails on a bug records what to do, the exception's kind, and nothing of the
    exception's text (a path, a name), whichever front end shows it."""
    import errno
    import uuid

    from likeness import clock
    from likeness.server.jobs import FAILED, INTERNAL_ERROR, QUEUED, failure_words, run_job

    job = uuid.uuid4().hex
    with lib.session() as s:  # a request no route would queue: the import's path is a number
        s.add(
            ServerJob(
                id=job,
                kind="import",
                params=json.dumps({"path": 31337}),
                state=QUEUED,
                created_at=clock.now(),
            )
        )
    with pytest.raises(TypeError):
        run_job(str(lib.home), job)
    with lib.session() as s:
        row = s.get(ServerJob, job)
        assert row.state == FAILED and row.message.startswith(INTERNAL_ERROR)
        assert "(TypeError)" in row.message and "31337" not in row.message
        assert "server's log" in row.message
    assert "disk is full" in failure_words(OSError(errno.ENOSPC, "No space left", "/secret"))
    assert "ran out of memory" in failure_words(MemoryError())
    assert "/secret" not in failure_words(PermissionError(13, "denied", "/secret"))
