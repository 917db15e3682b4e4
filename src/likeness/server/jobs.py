"""The server's queue of long jobs: each runs in a process of its own, one at a time.

Why a process per job: the importer forks its worker processes, which is safe only from a
process that runs no threads, and a web server runs many; a job's process is started with
``spawn`` (a fresh interpreter), opens the library itself and writes its progress to the
job's row, which the server reads back (``/api/jobs/{id}/events`` streams it). The row is the
truth: a reloaded page finds its job again, and a server that stops or crashes leaves rows that
the next start marks ``interrupted`` (an import run again resumes: unchanged files are
skipped, nothing is imported twice).

The queue is bounded per requester: past ``max_pending`` of the owner's jobs waiting or
running, or ``max_pending_per_app`` of one app's, a new one of theirs is refused
(``QueueFullError``, 429 with Retry-After), never dropped; one app filling its share leaves
the owner's and other apps' untouched, and the owner's queued jobs run before any app's. A
job can be cancelled, queued or running (its process is stopped; a cancelled generation's
images are removed); revoking an app cancels its jobs, and revoking a grant cancels the jobs
of the app that rest on it.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update

from likeness import clock
from likeness.errors import BusyError, ConflictError, InvalidError, LikenessError, NotFoundError
from likeness.paths import typed_path
from likeness.server.tables import ServerJob, ServerRunner
from likeness.store import Library, hold_write_lock

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
INTERRUPTED, CANCELLED = "interrupted", "cancelled"
FINAL = frozenset({DONE, FAILED, INTERRUPTED, CANCELLED})
#: The owner's jobs waiting or running, at most.
MAX_PENDING = 8
#: One app's jobs waiting or running, at most.
MAX_PENDING_PER_APP = 2
OWNER = "owner"
#: What a refused submission is told to wait (seconds).
RETRY_AFTER_S = 30
#: A job writes its progress to its row at most this often (seconds).
PROGRESS_EVERY_S = 0.5
#: How a job's failure that is a bug of likeness begins (``failure_words``).
INTERNAL_ERROR = "something went wrong inside likeness"
INTERRUPTED_MESSAGE = "the server stopped before this job finished; run it again to resume"
#: A server running jobs says it is alive this often (seconds) ...
HEARTBEAT_S = 5.0
#: ... and one not heard from for this long has stopped: its jobs are interrupted.
RUNNER_STALE_S = 30.0

Progress = Callable[[int, int], None]


class JobError(InvalidError):
    """A job that cannot be queued as asked (unknown kind, a path that is not there)."""


class JobNotFoundError(NotFoundError):
    """No job with that id (or none this requester may see)."""


class JobRunningError(ConflictError):
    """The job is queued or running: it cannot be deleted yet."""


class QueueFullError(BusyError):
    """The requester has as many jobs waiting or running as it may; try again after
    ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float = RETRY_AFTER_S) -> None:
        super().__init__(message, retry_after_s=retry_after_s)


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    params: dict
    state: str
    done: int
    total: int | None
    message: str | None
    result: dict | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    requester: str = OWNER

    @classmethod
    def of(cls, row: ServerJob) -> JobView:
        return cls(
            row.id,
            row.kind,
            json.loads(row.params),
            row.state,
            row.done,
            row.total,
            row.message,
            json.loads(row.result) if row.result else None,
            row.created_at,
            row.started_at,
            row.finished_at,
            row.requester or OWNER,
        )

    def as_json(self) -> dict:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "id": self.id,
            "kind": self.kind,
            "params": self.params,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "result": self.result,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "requester": self.requester,
            "progress": self.progress_words(),
        }

    def progress_words(self) -> str | None:
        """Where the job is, in words: a generation by image and step ("image 2 of 4 ·
        step 10 of 20"), a training by step, an import by photo; None before it has any."""
        if self.state == QUEUED:
            return "waiting for the jobs before it"
        if not self.total or self.state != RUNNING:
            return None
        if self.kind in OUTPUT_KINDS:
            options = self.params.get("options", {})
            steps, count = int(options.get("steps") or 1), int(options.get("count") or 1)
            if steps * count == self.total:
                image = (max(self.done, 1) - 1) // steps + 1
                step = self.done - (image - 1) * steps
                what = OUTPUT_KINDS[self.kind]
                return f"{what} {image} of {count} · step {step} of {steps}"
        unit = {"train": "step", "import": "photo"}.get(self.kind)
        done, total = f"{self.done:,}", f"{self.total:,}"
        return f"{unit} {done} of {total}" if unit else f"{done} of {total}"


# -- the work itself (run in the job's own process) ------------------------------------------


def _check_import(params: dict) -> dict:
    path = params.get("path")
    if not isinstance(path, str) or not path:
        raise JobError("an import needs a path")
    where = typed_path(path, "path")
    if not where.exists():
        raise JobError(f"no such folder or archive: {path}")
    return {"path": str(where.absolute()), "thorough": bool(params.get("thorough"))}


def _run_import(lib: Library, _job_id: str, params: dict, progress: Progress) -> dict:
    from likeness.workflows import ImportRequest, import_

    return import_(lib, ImportRequest(**params), progress=progress).as_json()


def outputs_folder(lib: Library, job_id: str) -> Path:
    """Where a generation job writes its images (inside the library home)."""
    return lib.home / "outputs" / job_id


def _check_generate(params: dict) -> dict:
    """The route has validated the fields and taken the gate's decision already (a refusal
    queues nothing); the job asks the gate again when it runs: consent withdrawn meanwhile
    stops it."""
    return params


def _run_generate(lib: Library, job_id: str, params: dict, progress: Progress) -> dict:
    from likeness.workflows import GenerateRequest, generate

    return _run_outputs(lib, job_id, GenerateRequest.from_json(params), generate, progress)


def _run_video(lib: Library, job_id: str, params: dict, progress: Progress) -> dict:
    from likeness.workflows import VideoRequest, generate_video

    return _run_outputs(lib, job_id, VideoRequest.from_json(params), generate_video, progress)


def _run_outputs(lib: Library, job_id: str, request, work, progress: Progress) -> dict:
    """Run a generation task (``work(lib, request, out, progress)``) into the job's outputs
    folder, its steps counted over all its outputs."""
    out = outputs_folder(lib, job_id)
    out.mkdir(parents=True, exist_ok=True)
    total = request.options.count * request.options.steps

    def step(index: int, done: int, steps: int) -> None:
        progress(index * steps + done, total)

    result = work(lib, request, out, progress=step)
    return {**result.as_json(), "prompt": request.prompt}


def _check_train(params: dict) -> dict:
    """As for a generation, the route has validated the fields and asked the gate."""
    return params


def _run_train(lib: Library, _job_id: str, params: dict, progress: Progress) -> dict:
    """Train the person's adapter and score it, as ``likeness adapter train`` does; the gate
    is asked again now, and before every step. An interrupted run is continued by queueing
    it again with ``resume``."""
    from likeness.workflows import TrainRequest, train

    outcome = train(lib, TrainRequest(**params), lambda step, steps, _loss: progress(step, steps))
    return outcome.as_json()


#: kind -> (check and normalise the parameters when queued, run the job).
KINDS: dict[str, tuple[Callable[[dict], dict], Callable[[Library, str, dict, Progress], dict]]] = {
    "import": (_check_import, _run_import),
    "generate": (_check_generate, _run_generate),
    "video": (_check_generate, _run_video),
    "train": (_check_train, _run_train),
}
#: The kinds of job that write outputs (into ``outputs_folder``), and what each output is.
OUTPUT_KINDS = {"generate": "image", "video": "clip"}


def run_job(home: str, job_id: str) -> None:
    """The job's process, once its server has claimed the job (``JobQueue.claim_next``; a
    job still queued is claimed here): run it, writing progress and the outcome to its row
    (unless it was cancelled meanwhile)."""
    with Library.open(home) as lib:
        with lib.session() as s:
            # Run directly, not through a queue (a test, a tool): it is claimed here.
            s.execute(
                update(ServerJob)
                .where(ServerJob.id == job_id, ServerJob.state == QUEUED)
                .values(state=RUNNING, started_at=clock.now())
            )
            row = s.get(ServerJob, job_id)
            if row is None or row.state != RUNNING:
                return  # cancelled (or deleted) between its claim and this process's start
            kind, params = row.kind, json.loads(row.params)
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] < PROGRESS_EVERY_S and done < total:
                return
            last[0] = now
            with lib.session() as s:
                s.execute(
                    update(ServerJob).where(ServerJob.id == job_id).values(done=done, total=total)
                )

        try:
            result = KINDS[kind][1](lib, job_id, params, progress)
        except LikenessError as exc:
            _finish(lib, job_id, FAILED, str(exc))
        except Exception as exc:
            _finish(lib, job_id, FAILED, failure_words(exc))
            raise  # the traceback goes to the server's log (this process's standard error)
        else:
            _finish(lib, job_id, DONE, None, result)


def failure_words(exc: BaseException) -> str:
    """What an unexpected failure means to the person who asked, in words, with what to do.
    A refusal or a bad request (a ``LikenessError``) says so itself; this is for the rest.
    Never the exception's text: it may hold paths or names the requester should not see."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        where = "the graphics card" if type(exc).__name__ == "OutOfMemoryError" else "this computer"
        return f"{where} ran out of memory: ask for fewer images, fewer steps or a smaller size"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full: free some space, then run the job again"
    if isinstance(exc, PermissionError):
        return (
            "likeness was not allowed to read or write a file it needed: check that the "
            "library's folder belongs to the user running the server"
        )
    return (
        f"{INTERNAL_ERROR} ({type(exc).__name__}): the details are in the server's log. Run "
        "the job again; if it fails again, please report it with the log"
    )


def _finish(
    lib: Library, job_id: str, state: str, message: str | None, result: dict | None = None
) -> None:
    """Record a running job's outcome (a job cancelled meanwhile stays cancelled)."""
    with lib.session() as s:
        row = s.get(ServerJob, job_id)
        if row.state != RUNNING:
            return
        row.state, row.message, row.finished_at = state, message, clock.now()
        if result is not None:
            row.result = json.dumps(result)
            if row.total is None:
                row.total = row.done


def alive_runners(lib: Library, stale_s: float = RUNNER_STALE_S) -> set[str]:
    """The servers (``ServerRunner`` ids) seen in the last ``stale_s`` seconds."""
    since = clock.now() - timedelta(seconds=stale_s)
    with lib.session() as s:
        return set(s.scalars(select(ServerRunner.id).where(ServerRunner.seen_at >= since)))


def interrupt_abandoned(lib: Library, stale_s: float = RUNNER_STALE_S) -> int:
    """Mark as interrupted the jobs, queued or running, of servers that stopped (cleanly, or
    not seen for ``stale_s`` seconds: a crash, a machine gone): nobody will finish them. The
    jobs of servers still alive on the same catalog are theirs. How many were marked."""
    alive = alive_runners(lib, stale_s)
    with lib.session() as s:
        abandoned = ServerJob.state.in_([QUEUED, RUNNING]) & (
            ServerJob.runner.is_(None) | ServerJob.runner.not_in(alive)
        )
        marked = s.execute(
            update(ServerJob)
            .where(abandoned)
            .values(state=INTERRUPTED, message=INTERRUPTED_MESSAGE, finished_at=clock.now())
        ).rowcount
        s.execute(delete(ServerRunner).where(ServerRunner.id.not_in(alive)))
    return marked


class JobQueue:
    """Queued jobs of one library, run one at a time by a dispatcher thread."""

    def __init__(
        self,
        lib: Library,
        max_pending: int = MAX_PENDING,
        max_pending_per_app: int = MAX_PENDING_PER_APP,
        heartbeat_s: float = HEARTBEAT_S,
        stale_s: float = RUNNER_STALE_S,
    ) -> None:
        self._lib = lib
        self.max_pending = max_pending
        self.max_pending_per_app = max_pending_per_app
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._running: str | None = None
        #: This server among those that may share the catalog (``ServerRunner``).
        self.runner_id = uuid.uuid4().hex
        self.heartbeat_s, self.stale_s = heartbeat_s, stale_s
        self._beaten = 0.0

    def start(self) -> None:
        """Say this server is alive, mark the jobs of servers that stopped as interrupted,
        and start taking jobs."""
        now = clock.now()
        with self._lib.session() as s:
            s.merge(  # started again (an app's lifespan entered twice): the same runner
                ServerRunner(
                    id=self.runner_id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=now,
                    seen_at=now,
                )
            )
        self._beaten = time.monotonic()
        interrupt_abandoned(self._lib, self.stale_s)
        self._thread = threading.Thread(target=self._dispatch, name="likeness-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop taking jobs; a running one is stopped and marked interrupted, and so are the
        jobs queued here (other servers on the catalog keep theirs)."""
        self._stopping.set()
        self._wake.set()
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lib.session() as s:
            s.execute(delete(ServerRunner).where(ServerRunner.id == self.runner_id))
        interrupt_abandoned(self._lib, self.stale_s)

    def _beat(self) -> None:
        """Every ``heartbeat_s``: say this server is alive, and interrupt the jobs of any
        that is not (so a crashed server's running job does not look alive for ever)."""
        if time.monotonic() - self._beaten < self.heartbeat_s:
            return
        self._beaten = time.monotonic()
        with self._lib.session() as s:
            s.execute(
                update(ServerRunner)
                .where(ServerRunner.id == self.runner_id)
                .values(seen_at=clock.now())
            )
        interrupt_abandoned(self._lib, self.stale_s)

    def submit(self, kind: str, params: dict, requester: str = OWNER) -> JobView:
        """Queue a job for ``requester`` (the owner, or ``app:<id>``); ``QueueFullError``
        when that requester has its share of jobs waiting or running already."""
        if kind not in KINDS:
            raise JobError(f"unknown job kind {kind!r} (known: {', '.join(KINDS)})")
        params = KINDS[kind][0](params)
        limit = self.max_pending if requester == OWNER else self.max_pending_per_app
        with self._lock, self._lib.session() as s:
            hold_write_lock(s)  # the count and the new row as one step, across servers too
            pending = s.scalar(
                select(func.count())
                .select_from(ServerJob)
                .where(ServerJob.state.in_([QUEUED, RUNNING]), ServerJob.requester == requester)
            )
            if pending >= limit:
                whose = "your" if requester == OWNER else "this app's"
                raise QueueFullError(
                    f"{pending} of {whose} jobs are waiting or running (at most {limit}); "
                    "try again when one has finished"
                )
            row = ServerJob(
                id=uuid.uuid4().hex,
                kind=kind,
                params=json.dumps(params),
                state=QUEUED,
                done=0,
                created_at=clock.precise_now(),  # to the microsecond: jobs list in order
                requester=requester,
                runner=self.runner_id,
            )
            s.add(row)
            s.flush()
            view = JobView.of(row)
        self._wake.set()
        return view

    def cancel(self, job_id: str, reason: str = "cancelled") -> JobView:
        """Cancel a queued or running job (a running one's process is stopped; a cancelled
        generation's images are removed). A finished job is left as it is."""
        with self._lock:
            with self._lib.session() as s:
                row = s.get(ServerJob, job_id)
                if row is None:
                    raise JobNotFoundError(f"no job with id {job_id}")
                was = row.state
                if was in (QUEUED, RUNNING):
                    row.state, row.message, row.finished_at = CANCELLED, reason, clock.now()
                kind = row.kind
            process = self._process if self._running == job_id else None
        if was == RUNNING and process is not None and process.is_alive():
            process.terminate()  # the dispatcher, which waits for it, removes its images
        elif was == RUNNING and kind in OUTPUT_KINDS:
            shutil.rmtree(outputs_folder(self._lib, job_id), ignore_errors=True)
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        """Forget a finished job and remove what it wrote (a generation's images; their
        manifests stay in the provenance store, which keeps a record of every output made).
        A queued or running job is cancelled first, not deleted."""
        with self._lock, self._lib.session() as s:
            row = s.get(ServerJob, job_id)
            if row is None:
                raise JobNotFoundError(f"no job with id {job_id}")
            if row.state not in FINAL:
                raise JobRunningError(f"job {job_id} is {row.state}: cancel it first")
            s.delete(row)
        shutil.rmtree(outputs_folder(self._lib, job_id), ignore_errors=True)

    def cancel_for(self, requester: str, reason: str, grant: str | None = None) -> list[str]:
        """Cancel ``requester``'s queued and running jobs (with ``grant``: only those that
        rest on it). The ids cancelled."""
        with self._lib.session() as s:
            rows = s.scalars(
                select(ServerJob).where(
                    ServerJob.requester == requester, ServerJob.state.in_([QUEUED, RUNNING])
                )
            ).all()
            ids = [
                r.id
                for r in rows
                if grant is None or grant in (json.loads(r.params).get("within") or [])
            ]
        for job_id in ids:
            self.cancel(job_id, reason)
        return ids

    def get(self, job_id: str) -> JobView:
        with self._lib.session() as s:
            row = s.get(ServerJob, job_id)
            if row is None:
                raise JobNotFoundError(f"no job with id {job_id}")
            return JobView.of(row)

    def list(self, limit: int = 50) -> list[JobView]:
        with self._lib.session() as s:
            rows = s.scalars(
                select(ServerJob).order_by(ServerJob.created_at.desc(), ServerJob.id).limit(limit)
            ).all()
            return [JobView.of(r) for r in rows]

    def next_to_run(self) -> str | None:
        """The next job to run: the owner's oldest queued one, else the oldest of any app."""
        with self._lib.session() as s:
            return s.scalar(
                select(ServerJob.id)
                .where(ServerJob.state == QUEUED)
                .order_by((ServerJob.requester != OWNER), ServerJob.created_at, ServerJob.id)
                .limit(1)
            )

    def claim_next(self) -> str | None:
        """Take the next job to run (``next_to_run``) for this server: it becomes running,
        held by this runner. The change is conditional on the job still being queued, so of
        several servers on one catalog exactly one takes it; the others look again."""
        while True:
            job_id = self.next_to_run()
            if job_id is None:
                return None
            with self._lib.session() as s:
                taken = s.execute(
                    update(ServerJob)
                    .where(ServerJob.id == job_id, ServerJob.state == QUEUED)
                    .values(state=RUNNING, started_at=clock.now(), runner=self.runner_id)
                ).rowcount
            if taken:
                return job_id

    def _state(self, job_id: str) -> str | None:
        with self._lib.session() as s:
            return s.scalar(select(ServerJob.state).where(ServerJob.id == job_id))

    def _dispatch(self) -> None:
        context = multiprocessing.get_context("spawn")
        while not self._stopping.is_set():
            self._beat()
            job_id = self.claim_next()
            if job_id is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            process = context.Process(
                target=run_job, args=(str(self._lib.home), job_id), name=f"likeness-job-{job_id}"
            )
            with self._lock:
                self._process, self._running = process, job_id
            process.start()
            while process.is_alive():
                process.join(timeout=1.0)
                self._beat()
                # Cancelled through another server on the catalog: stop it here.
                if process.is_alive() and self._state(job_id) == CANCELLED:
                    process.terminate()
            with self._lock:
                self._process, self._running = None, None
            try:
                view = self.get(job_id)
            except JobNotFoundError:
                continue  # deleted as soon as it finished (``delete`` removed its images)
            if view.state == CANCELLED and view.kind in OUTPUT_KINDS:
                shutil.rmtree(outputs_folder(self._lib, job_id), ignore_errors=True)
            if self._stopping.is_set():
                return
            if view.state not in FINAL:
                _finish(
                    self._lib,
                    job_id,
                    FAILED,
                    f"the job's process ended with exit code {process.exitcode}",
                )
