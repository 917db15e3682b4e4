"""Photo routes: the library by date (or one person's photos), one photo with its faces, and
photo thumbnails. Thin calls into ``likeness.people.photos`` and ``library.thumbnails``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel

from likeness.library.thumbnails import SIZES, photo_thumbnail
from likeness.people import photos
from likeness.server.deps import MAX_ID, PathId, library, require_session
from likeness.store import Library

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}}

router = APIRouter(prefix="/api/photos", tags=["photos"], responses={401: {}})


class FaceOnPhotoOut(BaseModel):
    id: int
    box: list[int]
    person: int | None
    name: str | None


class PhotoOut(BaseModel):
    id: int
    width: int
    height: int
    taken_at: str | None
    path: str | None
    camera: str | None
    faces: list[FaceOnPhotoOut]


class PhotoPageOut(BaseModel):
    photos: list[PhotoOut]
    #: Photos in the whole listing, every page together.
    total: int
    offset: int
    limit: int


@router.get("", dependencies=[Depends(require_session)], responses=ERRORS)
def list_photos(
    person: int | None = Query(None, ge=1, le=MAX_ID),
    offset: int = Query(0, ge=0, le=MAX_ID),
    limit: int = Query(60, ge=1, le=500),
    lib: Library = Depends(library),
) -> PhotoPageOut:
    """Photos newest first by date taken, or those showing ``person`` (with only that
    person's faces), a page at a time."""
    page = photos.list_photos(lib, person, offset, limit)
    return PhotoPageOut(
        photos=[PhotoOut(**p.as_json()) for p in page.photos],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@router.get("/{photo_id}", dependencies=[Depends(require_session)], responses=ERRORS)
def get_photo(photo_id: PathId, lib: Library = Depends(library)) -> PhotoOut:
    """One photo with every face on it and whose each is."""
    return PhotoOut(**photos.photo_detail(lib, photo_id).as_json())


@router.get(
    "/{photo_id}/thumbnail",
    dependencies=[Depends(require_session)],
    responses={**ERRORS, 200: {"content": {"image/jpeg": {}}}},
    response_class=Response,
)
def thumbnail(
    photo_id: PathId,
    size: int = Query(SIZES[0], description=f"one of {SIZES}"),
    lib: Library = Depends(library),
) -> Response:
    """The photo as a JPEG, its longest side ``size`` pixels (made once, then kept)."""
    if size not in SIZES:
        raise HTTPException(422, f"a thumbnail is {' or '.join(map(str, SIZES))} pixels")
    return Response(
        photo_thumbnail(lib, photo_id, size),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )
