"""Face routes: list faces (of a person, or unassigned), a face's thumbnail, move faces."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from likeness.faces.listing import list_faces
from likeness.people import manage
from likeness.people.contact_sheet import face_thumbnail
from likeness.server.deps import MAX_ID, BodyId, PathId, library, require_csrf, require_session
from likeness.store import Library

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}}

router = APIRouter(prefix="/api/faces", tags=["faces"], responses={401: {}})


class FaceOut(BaseModel):
    id: int
    photo: str | None
    photo_id: int
    box: list[int]
    person: int | None
    quality: float
    sharpness: float
    frontalness: float
    locked: bool


class Move(BaseModel):
    """Faces to put in ``person`` (null: nobody), locked against re-clustering."""

    face_ids: list[BodyId] = Field(min_length=1)
    person: BodyId | None


@router.get("", dependencies=[Depends(require_session)])
def faces(
    person: int | None = Query(None, ge=1, le=MAX_ID),
    unassigned: bool = False,
    lib: Library = Depends(library),
) -> list[FaceOut]:
    """Faces of one person, or those assigned to nobody (``unassigned=true``), or all."""
    return [FaceOut(**f) for f in list_faces(lib, person, unassigned)]


@router.get(
    "/{face_id}/thumbnail",
    dependencies=[Depends(require_session)],
    responses={**ERRORS, 200: {"content": {"image/jpeg": {}}}},
    response_class=Response,
)
def thumbnail(
    face_id: PathId, size: int = Query(160, ge=32, le=512), lib: Library = Depends(library)
) -> Response:
    """The face cropped from its photo, as a JPEG."""
    return Response(
        face_thumbnail(lib, face_id, size),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=300"},
    )


class NewPerson(BaseModel):
    """Faces to make a new person of, and the person's name (optional)."""

    face_ids: list[BodyId] = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)


@router.post("/new-person", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=201)
def new_person(body: NewPerson, lib: Library = Depends(library)) -> dict[str, int]:
    """Make a new person of the selected faces (locked against re-clusters)."""
    return {"person": manage.new_person_from_faces(lib, body.face_ids, body.name)}


@router.post("/move", dependencies=[Depends(require_csrf)], responses=ERRORS)
def move(body: Move, lib: Library = Depends(library)) -> dict[str, int]:
    return {"moved": manage.move_faces(lib, body.face_ids, body.person)}
