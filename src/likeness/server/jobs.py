"""The server's queue of long jobs: each runs in a process of its own, one at a time.

Why a process per job: the importer forks its worker processes, which is safe only from a
process that runs no threads, and a web server runs many; a job's process is started with
``spawn`` (a fresh interpreter), opens the library itself and writes its progress to the
job's row, which the server reads back (``/api/jobs/{id}/events`` streams it). The row is the
truth: a reloaded page finds its job again, and a server that stops or crashes leaves rows that
the next start marks ``interrupted`` (an import run again resumes: unchanged files are
skipped, nothing is imported twice).

The queue is bounded: past ``max_pending`` jobs waiting or running, a new one is refused
(``QueueFullError``, 429 with Retry-After), never dropped.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update

from likeness.errors import LikenessError
from likeness.store import Library
from likeness.store.models import ServerJob

QUEUED, RUNNING, DONE, FAILED, INTERRUPTED = "queued", "running", "done", "failed", "interrupted"
FINAL = frozenset({DONE, FAILED, INTERRUPTED})
#: Jobs waiting or running, at most.
MAX_PENDING = 8
#: What a refused submission is told to wait (seconds).
RETRY_AFTER_S = 30
#: A job writes its progress to its row at most this often (seconds).
PROGRESS_EVERY_S = 0.5
INTERRUPTED_MESSAGE = "the server stopped before this job finished; run it again to resume"

Progress = Callable[[int, int], None]


class JobError(LikenessError, ValueError):
    """A job that cannot be queued as asked (unknown kind, a path that is not there)."""


class JobNotFoundError(LikenessError, LookupError):
    pass


class QueueFullError(LikenessError):
    """The queue holds ``MAX_PENDING`` jobs already; try again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


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
        }


# -- the work itself (run in the job's own process) ------------------------------------------


def _check_import(params: dict) -> dict:
    path = params.get("path")
    if not isinstance(path, str) or not path:
        raise JobError("an import needs a path")
    where = Path(path).expanduser()
    if not where.exists():
        raise JobError(f"no such folder or archive: {path}")
    return {"path": str(where.absolute()), "thorough": bool(params.get("thorough"))}


def _run_import(lib: Library, _job_id: str, params: dict, progress: Progress) -> dict:
    from likeness.faces.dlib_backend import DetectionSettings
    from likeness.importing import import_photos

    settings = DetectionSettings(thorough=params["thorough"])
    report = import_photos(lib, params["path"], settings=settings, progress=progress)
    return report.as_json()


def outputs_folder(lib: Library, job_id: str) -> Path:
    """Where a generation job writes its images (inside the library home)."""
    return lib.home / "outputs" / job_id


def _check_generate(params: dict) -> dict:
    """The route has validated the fields and taken the gate's decision already (a refusal
    queues nothing); the job asks the gate again when it runs: consent withdrawn meanwhile
    stops it."""
    return params


def _run_generate(lib: Library, job_id: str, params: dict, progress: Progress) -> dict:
    from likeness.consent.grants import OWNER
    from likeness.consent.policy import GateError
    from likeness.generate.run import GenerationOptions, authorize_generation, generate_images

    options = GenerationOptions(**params["options"])
    # An app's job (server.oauth) is asked for as the app, again when it runs.
    requester = params.get("requester", OWNER)
    decision = authorize_generation(lib, params["prompt"], options, requester)
    if not decision.allowed:
        raise GateError(f"generation refused: {decision.reason}")
    out = outputs_folder(lib, job_id)
    out.mkdir(parents=True, exist_ok=True)
    total = options.count * options.steps

    def step(index: int, done: int, steps: int) -> None:
        progress(index * steps + done, total)

    result = generate_images(lib, decision, params["prompt"], out, options, progress=step)
    return {**result.as_json(), "prompt": params["prompt"]}


def _check_train(params: dict) -> dict:
    """As for a generation, the route has validated the fields and asked the gate."""
    return params


def _run_train(lib: Library, _job_id: str, params: dict, progress: Progress) -> dict:
    """Train the person's adapter; the gate is asked again now, and before every step.
    An interrupted run is continued by queueing it again with ``resume``."""
    from likeness.adapters.curation import CurationRules
    from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
    from likeness.consent.policy import GateError
    from likeness.models.registry import get_model

    person, model = params["person"], params["model"]
    decision = authorize_training(lib, person, model)
    if not decision.allowed:
        raise GateError(f"training refused: {decision.reason}")
    training = TrainingParams.for_model(
        get_model(lib, model),
        steps=params.get("steps"),
        learning_rate=params.get("learning_rate"),
        seed=params.get("seed"),
    )
    rules = CurationRules(min_photos=params["min_photos"], max_photos=params["max_photos"])
    trained = train_adapter(
        lib,
        decision,
        person,
        model,
        training,
        rules=rules,
        resume=params["resume"],
        progress=lambda step, steps, _loss: progress(step, steps),
    )
    return trained.as_json()


#: kind -> (check and normalise the parameters when queued, run the job).
KINDS: dict[str, tuple[Callable[[dict], dict], Callable[[Library, str, dict, Progress], dict]]] = {
    "import": (_check_import, _run_import),
    "generate": (_check_generate, _run_generate),
    "train": (_check_train, _run_train),
}


def run_job(home: str, job_id: str) -> None:
    """The job's process: run it, writing progress and the outcome to its row."""
    with Library.open(home) as lib:
        with lib.session() as s:
            row = s.get(ServerJob, job_id)
            kind, params = row.kind, json.loads(row.params)
            row.state, row.started_at = RUNNING, _now()
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
            _finish(lib, job_id, FAILED, f"internal error: {exc!r}")
            raise
        else:
            _finish(lib, job_id, DONE, None, result)


def _finish(
    lib: Library, job_id: str, state: str, message: str | None, result: dict | None = None
) -> None:
    with lib.session() as s:
        row = s.get(ServerJob, job_id)
        row.state, row.message, row.finished_at = state, message, _now()
        if result is not None:
            row.result = json.dumps(result)
            if row.total is None:
                row.total = row.done


def interrupt_unfinished(lib: Library) -> int:
    """Mark jobs left queued or running (by a server that stopped) as interrupted."""
    with lib.session() as s:
        return s.execute(
            update(ServerJob)
            .where(ServerJob.state.in_([QUEUED, RUNNING]))
            .values(state=INTERRUPTED, message=INTERRUPTED_MESSAGE, finished_at=_now())
        ).rowcount


class JobQueue:
    """Queued jobs of one library, run one at a time by a dispatcher thread."""

    def __init__(self, lib: Library, max_pending: int = MAX_PENDING) -> None:
        self._lib = lib
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> None:
        interrupt_unfinished(self._lib)
        self._thread = threading.Thread(target=self._dispatch, name="likeness-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop taking jobs; a running one is stopped and marked interrupted."""
        self._stopping.set()
        self._wake.set()
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
        if self._thread is not None:
            self._thread.join(timeout=30)
        interrupt_unfinished(self._lib)

    def submit(self, kind: str, params: dict) -> JobView:
        if kind not in KINDS:
            raise JobError(f"unknown job kind {kind!r} (known: {', '.join(KINDS)})")
        params = KINDS[kind][0](params)
        with self._lock, self._lib.session() as s:
            pending = s.scalar(
                select(func.count())
                .select_from(ServerJob)
                .where(ServerJob.state.in_([QUEUED, RUNNING]))
            )
            if pending >= self.max_pending:
                raise QueueFullError(
                    f"{pending} jobs are waiting or running (at most {self.max_pending}); "
                    "try again when one has finished"
                )
            row = ServerJob(
                id=uuid.uuid4().hex,
                kind=kind,
                params=json.dumps(params),
                state=QUEUED,
                done=0,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            view = JobView.of(row)
        self._wake.set()
        return view

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

    def _next(self) -> str | None:
        with self._lib.session() as s:
            return s.scalar(
                select(ServerJob.id)
                .where(ServerJob.state == QUEUED)
                .order_by(ServerJob.created_at, ServerJob.id)
                .limit(1)
            )

    def _dispatch(self) -> None:
        context = multiprocessing.get_context("spawn")
        while not self._stopping.is_set():
            job_id = self._next()
            if job_id is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            process = context.Process(
                target=run_job, args=(str(self._lib.home), job_id), name=f"likeness-job-{job_id}"
            )
            self._process = process
            process.start()
            process.join()
            self._process = None
            if self._stopping.is_set():
                return
            view = self.get(job_id)
            if view.state not in FINAL:
                _finish(
                    self._lib,
                    job_id,
                    FAILED,
                    f"the job's process ended with exit code {process.exitcode}",
                )
