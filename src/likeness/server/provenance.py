"""Provenance routes: check an image the owner has (found online, sent by someone) against
this library's Content Credentials, watermarks, fingerprints and corners. A thin call into
``likeness.provenance.stamp.find_provenance_in_bytes``."""

from __future__ import annotations

import threading
import unicodedata
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from likeness.errors import BusyError
from likeness.server.deps import library, require_csrf
from likeness.store import Library

#: An image to check may be larger than a form: a screenshot, a phone photo (bytes).
CHECK_BODY_BYTES = 40 * 1024 * 1024
#: The most of a file name kept for the report (a longer one is cut, not refused).
NAME_CHARS = 120
#: Checks run one at a time: a small file can claim 60 million pixels (1.4 GB to look at)
#: or hold millions of tiny chunks (seconds of parsing); several at once would add up.
_checking = threading.BoundedSemaphore(1)

router = APIRouter(prefix="/api/provenance", tags=["provenance"], responses={401: {}})


def shown_name(raw: str | None) -> str:
    """The sender's file name as the report shows it (sent percent-encoded: a header is
    Latin-1), printable characters only, cut to ``NAME_CHARS``; "the image" without one."""
    decoded = unquote(raw or "", errors="replace")
    kept = "".join(c for c in decoded if unicodedata.category(c)[0] not in "CZ" or c == " ")
    return kept.strip()[:NAME_CHARS] or "the image"


@router.post(
    "/check",
    dependencies=[Depends(require_csrf)],
    responses={400: {}, 403: {}, 413: {}, 429: {}},
    max_body_size=CHECK_BODY_BYTES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/png", "image/jpeg", "image/webp")
            },
        }
    },
)
async def check_image(
    request: Request,
    lib: Library = Depends(library),
    file_name: Annotated[str | None, Header(max_length=8000)] = None,
) -> dict:
    """The provenance report of the image sent as the request body (PNG, JPEG or WebP,
    told by its first bytes): its embedded Content Credentials, and the stored output its
    watermark, fingerprint or corners lead to, as ``likeness provenance verify --json``
    prints it. The file is not kept. ``File-Name`` names it in the report. One check at a
    time: 429 while another runs."""
    from likeness.provenance.stamp import find_provenance_in_bytes

    data = await request.body()
    if not _checking.acquire(blocking=False):
        raise BusyError("another image is being checked: try again in a moment", retry_after_s=2)
    try:
        report = await run_in_threadpool(find_provenance_in_bytes, lib, data, shown_name(file_name))
    finally:
        _checking.release()
    return report.as_json()
