"""Job routes: queue an import, list jobs, one job, its progress as server-sent events."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from likeness.server.deps import require_csrf, require_session
from likeness.server.jobs import FINAL, JobQueue

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}, 429: {}}
#: How often the event stream looks at the job's row (seconds).
EVENT_POLL_S = 0.3

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses={401: {}})


class ImportJob(BaseModel):
    path: str
    thorough: bool = False


class JobOut(BaseModel):
    id: str
    kind: str
    params: dict
    state: str
    done: int
    total: int | None
    message: str | None
    result: dict | None
    created_at: str
    started_at: str | None
    finished_at: str | None


def jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


@router.post("/import", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=202)
def queue_import(body: ImportJob, queue: JobQueue = Depends(jobs)) -> JobOut:
    """Queue an import of a folder or Takeout export on this machine (429 when the queue is
    full, with Retry-After)."""
    return JobOut(**queue.submit("import", body.model_dump()).as_json())


@router.get("", dependencies=[Depends(require_session)])
def list_jobs(queue: JobQueue = Depends(jobs)) -> list[JobOut]:
    """The latest jobs, newest first."""
    return [JobOut(**j.as_json()) for j in queue.list()]


@router.get("/{job_id}", dependencies=[Depends(require_session)], responses=ERRORS)
def get_job(job_id: str, queue: JobQueue = Depends(jobs)) -> JobOut:
    return JobOut(**queue.get(job_id).as_json())


@router.get(
    "/{job_id}/events",
    dependencies=[Depends(require_session)],
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
    response_class=StreamingResponse,
)
def job_events(job_id: str, request: Request, queue: JobQueue = Depends(jobs)):
    """The job as server-sent events: one ``job`` event each time it changes, the last when
    it is done, failed or interrupted."""
    queue.get(job_id)  # 404 before the stream starts

    async def stream():
        last = None
        while True:
            doc = (await run_in_threadpool(queue.get, job_id)).as_json()
            if doc != last:
                yield f"event: job\ndata: {json.dumps(doc)}\n\n"
                last = doc
            if doc["state"] in FINAL or await request.is_disconnected():
                return
            await asyncio.sleep(EVENT_POLL_S)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
