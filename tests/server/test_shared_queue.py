"""Several servers on one catalog (a shared install on PostgreSQL; the same holds on one
SQLite file): they share the queue, never run a job twice, and leave each other's jobs alone
until a server stops answering. Run under --postgresql as well as on SQLite."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import update

from likeness import clock
from likeness.generate.run import GenerationOptions
from likeness.server.jobs import (
    CANCELLED,
    DONE,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    JobQueue,
    outputs_folder,
)
from likeness.server.tables import ServerJob, ServerRunner
from likeness.store import Library
from likeness.testing.libraries import astronaut_variants
from likeness.testing.photos import jpeg_bytes, write
from likeness.workflows import GenerateRequest


def wait_for(queue: JobQueue, job_id: str, states: set[str], seconds: float = 300) -> str:
    deadline = time.monotonic() + seconds
    while (state := queue.get(job_id).state) not in states:
        assert time.monotonic() < deadline, f"job {job_id} still {state}"
        time.sleep(0.2)
    return state


def test_two_servers_claiming_at_once_take_each_job_exactly_once(tmp_path):
    home = tmp_path / "home"
    with Library.open(home) as one, Library.open(home) as two:
        first, second = JobQueue(one, max_pending=100), JobQueue(two, max_pending=100)
        ids = {first.submit("import", {"path": str(tmp_path)}).id for _ in range(30)}
        taken: dict[str, list[str]] = {first.runner_id: [], second.runner_id: []}

        def claim_all(queue: JobQueue) -> None:
            while (job_id := queue.claim_next()) is not None:
                taken[queue.runner_id].append(job_id)

        threads = [threading.Thread(target=claim_all, args=(q,)) for q in (first, second) * 2]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claims = taken[first.runner_id] + taken[second.runner_id]
        assert sorted(claims) == sorted(ids)  # every job once, none twice
        with one.session() as s:
            for job_id in ids:
                row = s.get(ServerJob, job_id)
                assert row.state == RUNNING and job_id in taken[row.runner]


def test_two_running_servers_share_the_queue(tmp_path):
    photos = tmp_path / "photos"
    for i, image in enumerate(astronaut_variants()[:2]):
        write(photos / f"astronaut-{i}.jpg", jpeg_bytes(image))
    home = tmp_path / "home"
    with Library.open(home) as one, Library.open(home) as two:
        first, second = JobQueue(one), JobQueue(two)
        first.start()
        second.start()  # the first's runner is alive: starting leaves its jobs alone
        try:
            ids = [first.submit("import", {"path": str(photos)}).id for _ in range(4)]
            assert [wait_for(second, job_id, {DONE, "failed"}) for job_id in ids] == [DONE] * 4
            with one.session() as s:
                runners = {s.get(ServerJob, job_id).runner for job_id in ids}
            assert runners == {first.runner_id, second.runner_id}
        finally:
            second.stop()
            first.stop()
        with one.session() as s:
            assert s.query(ServerRunner).count() == 0  # a clean stop says so


def test_a_silent_server_s_jobs_are_interrupted_by_another_and_a_live_one_s_are_not(tmp_path):
    home = tmp_path / "home"
    with Library.open(home) as one, Library.open(home) as two:
        live = JobQueue(one)
        now = clock.now()
        with one.session() as s:
            s.add(ServerRunner(id=live.runner_id, host="a", pid=1, started_at=now, seen_at=now))
            s.add(ServerRunner(id="b" * 32, host="b", pid=2, started_at=now, seen_at=now))
            for job_id, runner in (("1" * 32, live.runner_id), ("2" * 32, "b" * 32)):
                s.add(
                    ServerJob(
                        id=job_id,
                        kind="import",
                        params="{}",
                        state=RUNNING,
                        done=0,
                        created_at=now,
                        requester="owner",
                        runner=runner,
                    )
                )
        queued = live.submit("import", {"path": str(tmp_path)})
        other = JobQueue(two, heartbeat_s=0.2, stale_s=3.0)
        other.start()
        try:
            # Both servers were seen just now: their jobs are theirs.
            assert other.get("1" * 32).state == RUNNING
            assert other.get("2" * 32).state == RUNNING
            assert other.get(queued.id).state != INTERRUPTED  # queued there, or taken here
            # The server "b" stops answering (a crash, a machine gone); "live" goes on.
            with one.session() as s:
                s.execute(
                    update(ServerRunner)
                    .where(ServerRunner.id == "b" * 32)
                    .values(seen_at=now - timedelta(minutes=5))
                )
                s.execute(
                    update(ServerRunner)
                    .where(ServerRunner.id == live.runner_id)
                    .values(seen_at=clock.now() + timedelta(minutes=5))
                )
            assert wait_for(other, "2" * 32, {INTERRUPTED}, seconds=10) == INTERRUPTED
            assert "run it again" in other.get("2" * 32).message
            assert other.get("1" * 32).state == RUNNING
        finally:
            other.stop()


def test_a_job_cancelled_through_another_server_stops_where_it_runs(tmp_path):
    home = tmp_path / "home"
    with Library.open(home) as one, Library.open(home) as two:
        runs, elsewhere = JobQueue(one), JobQueue(two)  # ``elsewhere`` only answers requests
        runs.start()
        try:
            long = GenerateRequest("a lighthouse at dusk", GenerationOptions(count=8, steps=150))
            job_id = runs.submit("generate", long.as_json()).id
            deadline = time.monotonic() + 300
            while runs.get(job_id).done < 2:
                assert runs.get(job_id).state in (QUEUED, RUNNING)
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert elsewhere.cancel(job_id).state == CANCELLED
            deadline = time.monotonic() + 30
            while runs._process is not None:  # the running server stops the job's process
                assert time.monotonic() < deadline, "the job's process was not stopped"
                time.sleep(0.2)
            assert runs.get(job_id).state == CANCELLED
            assert not outputs_folder(one, job_id).exists()
        finally:
            runs.stop()


def test_two_serve_processes_on_one_postgresql_catalog_share_the_jobs(postgres_server, tmp_path):
    """Two ``likeness serve`` processes, as two machines of a shared install run them, on one
    home whose catalog is in PostgreSQL: jobs queued through one are taken by both, each job by
    one of them, and either server reports every job's end."""
    import httpx

    from likeness.testing.server import free_port, serve_command

    photos = tmp_path / "photos"
    for i, image in enumerate(astronaut_variants()[:2]):
        write(photos / f"astronaut-{i}.jpg", jpeg_bytes(image))
    home = tmp_path / "home"
    Library.open(home, database_url=postgres_server.create_database()).close()
    secret = tmp_path / "passphrase"
    secret.write_text("a shared install\n")
    secret.chmod(0o600)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    args = [
        ["--port", str(port), "--home", str(home), "--passphrase-file", str(secret)]
        for port in ports
    ]
    with serve_command(args[0], urls[0]), serve_command(args[1], urls[1]):
        clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
        headers = []
        for client in clients:
            signed = client.post("/api/sign-in", json={"passphrase": "a shared install"})
            assert signed.status_code == 200, signed.text
            headers.append({"X-CSRF-Token": signed.json()["csrf_token"]})
        ids = []
        for _ in range(6):
            queued = clients[0].post(
                "/api/jobs/import", json={"path": str(photos)}, headers=headers[0]
            )
            assert queued.status_code == 202, queued.text
            ids.append(queued.json()["id"])
        deadline = time.monotonic() + 300
        while True:  # asked of the other server: it reads the same catalog
            states = {job["id"]: job["state"] for job in clients[1].get("/api/jobs").json()}
            if all(states.get(job_id) in (DONE, "failed") for job_id in ids):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.5)
        assert [states[job_id] for job_id in ids] == [DONE] * 6
        for client in clients:
            client.close()
    with Library.open(home) as lib, lib.session() as s:
        runners = [s.get(ServerJob, job_id).runner for job_id in ids]
        assert len(set(runners)) == 2 and None not in runners  # both servers ran some
        assert s.query(ServerRunner).count() == 0  # both stopped cleanly
        from likeness.library.tables import Photo

        assert s.query(Photo).count() == 2  # six imports of two photos: each recorded once
