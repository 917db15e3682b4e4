"""Live enrolment over a WebSocket: the page streams camera frames, the server checks each
as it arrives (``consent.enrolment.open_live_enrolment``) and answers with the prompt to show
now, then the verdict.

``POST /api/people/{id}/enrolment/live`` draws a live session (its schedule is never sent);
the page then opens ``/api/people/{id}/enrolment/live/{session}`` (a WebSocket) with the
session cookie and, as a query parameter, the CSRF token (a WebSocket cannot carry headers),
from a page of this server (its ``Origin``): a page on another site cannot open it in the
owner's name. Each binary message is one frame: its time in the camera's stream in seconds
(8 bytes, little-endian float64), then a JPEG of at most ``MAX_FRAME_BYTES`` and
``MAX_FRAME_SIDE`` pixels a side. Each frame is answered with ``{"prompt": ...}`` before the
page sends the next (so frames never queue: each is what the camera sees as it is sent);
the last answer is ``{"verdict": ...}``, the recorded enrolment, pass or fail.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from likeness import clock
from likeness.consent.enrolment import (
    SESSION_TTL,
    EnrolmentError,
    LiveEnrolment,
    open_live_enrolment,
    start_enrolment,
)
from likeness.errors import InvalidError
from likeness.server.deps import MAX_ID, PathId, library, require_csrf
from likeness.server.sessions import COOKIE_NAME, SignedIn
from likeness.store import Library

MAX_FRAME_BYTES = 2_000_000
MAX_FRAME_SIDE = 1920
FRAME_HEADER = struct.Struct("<d")

router = APIRouter(prefix="/api/people", tags=["enrolment"], responses={401: {}})


class LiveSession(BaseModel):
    session: str
    person: int
    expires_at: str


@router.post(
    "/{person_id}/enrolment/live",
    dependencies=[Depends(require_csrf)],
    responses={400: {}, 403: {}},
    status_code=201,
)
def start_live_enrolment(person_id: PathId, lib: Library = Depends(library)) -> LiveSession:
    """Draw a live enrolment session for the person (single use; its prompts are revealed
    one at a time over the WebSocket, never here)."""
    session = start_enrolment(lib, person_id, live=True)
    expires = session.created_at + SESSION_TTL
    return LiveSession(session=session.id, person=person_id, expires_at=expires.isoformat())


class FrameError(InvalidError):
    """A message that is not a frame this protocol accepts."""


def decode_frame(message: bytes) -> tuple[float, np.ndarray]:
    """(seconds, RGB pixels) of one frame message."""
    from PIL import Image, UnidentifiedImageError

    if len(message) <= FRAME_HEADER.size or len(message) > MAX_FRAME_BYTES:
        raise FrameError(f"a frame is 8 bytes of time then a JPEG of at most {MAX_FRAME_BYTES}")
    (t,) = FRAME_HEADER.unpack_from(message)
    try:
        image = Image.open(io.BytesIO(message[FRAME_HEADER.size :]))
        if image.format != "JPEG" or max(image.size) > MAX_FRAME_SIDE:
            raise FrameError(f"frames are JPEGs of at most {MAX_FRAME_SIDE} px a side")
        return t, np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        # Pillow's message names a Python object ("<_io.BytesIO object at 0x...>"): not
        # something to show anyone.
        raise FrameError("a frame is not a readable JPEG") from error


def _is_own_group(lib: Library, state: SignedIn, person_id: int) -> bool:
    """Whether a person's (or an invitee's) session acts for ``person_id``."""
    from likeness.people.records import person_id_of

    with lib.session() as s:
        return state.person_uid is not None and person_id_of(s, state.person_uid) == person_id


def _origin_ok(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    return origin is not None and host is not None and origin.split("://", 1)[-1] == host


@router.websocket("/{person_id}/enrolment/live/{session_id}")
async def live_enrolment(
    websocket: WebSocket, person_id: int, session_id: str, csrf: str = ""
) -> None:
    sessions = websocket.app.state.sessions
    signed_in = sessions.get(websocket.cookies.get(COOKIE_NAME))
    if signed_in is None or not signed_in.csrf_ok(csrf) or not _origin_ok(websocket):
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "sign in on this server first")
        return
    if not 1 <= person_id <= MAX_ID:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, f"no person with id {person_id}")
        return
    lib: Library = websocket.app.state.library
    if not signed_in.is_owner and not await run_in_threadpool(
        _is_own_group, lib, signed_in, person_id
    ):
        # The same words as for a person that does not exist: a person's session learns
        # nothing about other groups.
        await websocket.close(status.WS_1008_POLICY_VIOLATION, f"no person with id {person_id}")
        return
    await websocket.accept()
    try:
        live: LiveEnrolment = await run_in_threadpool(
            open_live_enrolment, lib, person_id, session_id
        )
    except EnrolmentError as error:
        await websocket.send_text(json.dumps({"error": str(error)}))
        await websocket.close(status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.send_text(json.dumps({"ready": True}))
    try:
        while not live.done:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            try:
                if message.get("bytes") is None:
                    raise FrameError("frames are binary messages, not text")
                t, image = decode_frame(message["bytes"])
            except FrameError as error:  # refused, and recorded as refused
                live.check.failure = f"a frame could not be read ({error})"
                break
            prompt = await run_in_threadpool(live.feed, t, image)
            await websocket.send_text(json.dumps({"prompt": prompt.as_json()}))
    except WebSocketDisconnect:
        pass  # the camera stopped: judged (and recorded) as such below
    finally:
        result = await run_in_threadpool(live.finish, clock.now())
    verdict = {**result.as_json(), "person": person_id}
    try:
        await websocket.send_text(json.dumps({"verdict": verdict}))
        await websocket.close()
    except (WebSocketDisconnect, RuntimeError):
        pass  # the page has gone; the enrolment is recorded all the same
