"""Job routes: queue an import, a generation, a clip or a training, list jobs, one job, its
progress as server-sent events, cancel one."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from likeness.generate.run import GenerationOptions
from likeness.generate.video import VideoOptions
from likeness.server.deps import BodyId, library, require_csrf, require_session
from likeness.server.jobs import (
    DONE,
    FINAL,
    OUTPUT_KINDS,
    JobNotFoundError,
    JobQueue,
    outputs_folder,
)
from likeness.store import Library
from likeness.workflows import TrainRequest

JobId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}, 429: {}}
#: How often the event stream looks at the job's row (seconds).
EVENT_POLL_S = 0.3

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses={401: {}})


class ImportJob(BaseModel):
    path: str
    thorough: bool = False


class GenerateJob(BaseModel):
    """A prompt with @mentions and the generation options of ``likeness generate``."""

    prompt: str = Field(min_length=1, max_length=1000)
    model: str = Field(default=GenerationOptions.model, max_length=200)
    count: int = Field(default=GenerationOptions.count, ge=1, le=8)
    seed: int = Field(default=GenerationOptions.seed, ge=0, le=2**32 - 1)
    steps: int = Field(default=GenerationOptions.steps, ge=1, le=150)
    guidance: float = Field(default=GenerationOptions.guidance, ge=0.0, le=30.0)
    style: str | None = Field(default=None, max_length=64)
    width: int | None = Field(default=None, ge=64, le=2048, multiple_of=8)
    height: int | None = Field(default=None, ge=64, le=2048, multiple_of=8)


class VideoJob(BaseModel):
    """A clip's prompt with @mentions and the options of ``likeness video``, as an app may
    send them (the motion module is the library's: the built-in one for the tiny models)."""

    prompt: str = Field(min_length=1, max_length=1000)
    model: str = Field(default=VideoOptions.model, max_length=200)
    frames: int = Field(default=VideoOptions.frames, ge=2, le=64)
    fps: int = Field(default=VideoOptions.fps, ge=1, le=60)
    count: int = Field(default=VideoOptions.count, ge=1, le=4)
    seed: int = Field(default=VideoOptions.seed, ge=0, le=2**32 - 1)
    steps: int = Field(default=VideoOptions.steps, ge=1, le=150)
    guidance: float = Field(default=VideoOptions.guidance, ge=0.0, le=30.0)
    style: str | None = Field(default=None, max_length=64)
    width: int | None = Field(default=None, ge=64, le=1024, multiple_of=8)
    height: int | None = Field(default=None, ge=64, le=1024, multiple_of=8)
    format: Literal["mp4", "webp"] = "mp4"


class OwnerVideoJob(VideoJob):
    """The owner's clip may name a motion module on this machine (``likeness video
    --motion``)."""

    motion: str | None = Field(default=None, max_length=1000)


class TrainJob(BaseModel):
    """``likeness adapter train``'s options (defaults by model when left out)."""

    person: BodyId
    model: str = Field(default=TrainRequest.model, max_length=200)
    steps: int | None = Field(default=None, ge=1, le=20000)
    learning_rate: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    min_photos: int = Field(default=TrainRequest.min_photos, ge=1, le=1000)
    max_photos: int = Field(default=TrainRequest.max_photos, ge=1, le=1000)
    resume: bool = TrainRequest.resume
    evaluate: bool = TrainRequest.evaluate


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
    requester: str
    #: Where a running job is, in words ("image 2 of 4 · step 10 of 20").
    progress: str | None = None


#: What an output may be served as.
OUTPUT_TYPES: dict = {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "video/mp4": {}}


def jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


@router.post("/import", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=202)
def queue_import(body: ImportJob, queue: JobQueue = Depends(jobs)) -> JobOut:
    """Queue an import of a folder or Takeout export on this machine (429 when the queue is
    full, with Retry-After)."""
    return JobOut(**queue.submit("import", body.model_dump()).as_json())


@router.post("/generate", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=202)
def queue_generation(
    body: GenerateJob, queue: JobQueue = Depends(jobs), lib: Library = Depends(library)
) -> JobOut:
    """Queue a generation. The gate decides now (403 with its reason: nothing is queued)
    and again when the job runs (consent withdrawn meanwhile stops it)."""
    from likeness.generate.run import GenerationOptions
    from likeness.workflows import GenerateRequest, authorize_generate

    options = GenerationOptions(**body.model_dump(exclude={"prompt"}))
    request = GenerateRequest(body.prompt, options)
    authorize_generate(lib, request)
    return JobOut(**queue.submit("generate", request.as_json()).as_json())


@router.post("/video", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=202)
def queue_video(
    body: OwnerVideoJob, queue: JobQueue = Depends(jobs), lib: Library = Depends(library)
) -> JobOut:
    """Queue a clip. The gate decides now (``generate-video``: 403 with its reason, nothing
    is queued) and again before every step when the job runs."""
    from likeness.workflows import VideoRequest, authorize_video

    request = VideoRequest(body.prompt, VideoOptions(**body.model_dump(exclude={"prompt"})))
    authorize_video(lib, request)
    return JobOut(**queue.submit("video", request.as_json()).as_json())


@router.post("/train", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=202)
def queue_training(
    body: TrainJob, queue: JobQueue = Depends(jobs), lib: Library = Depends(library)
) -> JobOut:
    """Queue training of a person's adapter. The gate decides now (403 with its reason:
    nothing is queued), again when the job runs, and before every step."""
    from likeness.workflows import TrainRequest, authorize_train

    request = TrainRequest(**body.model_dump())
    authorize_train(lib, request)
    return JobOut(**queue.submit("train", asdict(request)).as_json())


@router.get("", dependencies=[Depends(require_session)])
def list_jobs(queue: JobQueue = Depends(jobs)) -> list[JobOut]:
    """The latest jobs, newest first."""
    return [JobOut(**j.as_json()) for j in queue.list()]


@router.get("/{job_id}", dependencies=[Depends(require_session)], responses=ERRORS)
def get_job(job_id: JobId, queue: JobQueue = Depends(jobs)) -> JobOut:
    return JobOut(**queue.get(job_id).as_json())


@router.post("/{job_id}/cancel", dependencies=[Depends(require_csrf)], responses=ERRORS)
def cancel_job(job_id: JobId, queue: JobQueue = Depends(jobs)) -> JobOut:
    """Cancel a job, queued or running, the owner's or an app's (a finished one is left as
    it is; a cancelled generation's images are removed; a cancelled training keeps its last
    checkpoint, for ``resume``)."""
    return JobOut(**queue.cancel(job_id, "cancelled by the owner").as_json())


@router.delete(
    "/{job_id}",
    dependencies=[Depends(require_csrf)],
    responses={**ERRORS, 409: {}},
    status_code=204,
)
def delete_job(job_id: JobId, queue: JobQueue = Depends(jobs)) -> None:
    """Delete a finished job and its images (a queued or running one: 409, cancel it)."""
    queue.delete(job_id)


@router.get(
    "/{job_id}/events",
    dependencies=[Depends(require_session)],
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
    response_class=StreamingResponse,
)
def job_events(job_id: JobId, request: Request, queue: JobQueue = Depends(jobs)):
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


def generated_image(
    job_id: JobId,
    index: Annotated[int, Path(ge=0, le=7)],
    queue: JobQueue = Depends(jobs),
    lib: Library = Depends(library),
) -> FilePath:
    """A generation job's written image or clip: the path comes from the job's own record,
    and must lie in its outputs folder (nothing in the request names a file)."""
    job = queue.get(job_id)
    images = (job.result or {}).get("images", []) if job.kind in OUTPUT_KINDS else []
    if job.state != DONE or not 0 <= index < len(images) or not images[index]["path"]:
        raise JobNotFoundError(f"job {job_id} has no image {index}")
    path = FilePath(images[index]["path"]).resolve()
    if not path.is_relative_to(outputs_folder(lib, job_id).resolve()) or not path.is_file():
        raise JobNotFoundError(f"job {job_id}: image {index} is no longer there")
    return path


@router.get(
    "/{job_id}/images/{index}",
    dependencies=[Depends(require_session)],
    responses={**ERRORS, 200: {"content": OUTPUT_TYPES}},
    response_class=FileResponse,
)
def job_image(image: FilePath = Depends(generated_image)):
    """One image (or clip) a generation job wrote (signed and watermarked)."""
    return FileResponse(image)


@router.get(
    "/{job_id}/images/{index}/provenance",
    dependencies=[Depends(require_session)],
    responses=ERRORS,
)
def job_image_provenance(
    image: FilePath = Depends(generated_image), lib: Library = Depends(library)
) -> dict:
    """The image's provenance report (``likeness provenance verify``): its Content
    Credentials, watermark and fingerprint, and the local manifest they lead to."""
    from likeness.provenance.stamp import find_provenance

    return find_provenance(lib, image).as_json()
