"""People routes: list, name, hide, mark as me or as a minor, merge (previewed, undoable),
split, and who looks like whom.

Each is a thin call into ``likeness.people.manage`` or ``likeness.people.merges``, as the
``likeness people`` commands are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from likeness.consent.grants import Scope
from likeness.people import manage, merges
from likeness.server.deps import MAX_ID, BodyId, PathId, library, require_csrf, require_session
from likeness.store import Library

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}}

router = APIRouter(prefix="/api/people", tags=["people"], responses={401: {}})


class PersonOut(BaseModel):
    id: int
    name: str | None
    face_count: int
    photo_count: int
    hidden: bool
    is_owner: bool
    is_minor: bool
    #: Erased their biometric data: never generated (``consent.erasure``).
    do_not_generate: bool = False
    suggested_names: list[str]


class PersonEdit(BaseModel):
    """Fields to change; those left out stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    hidden: bool | None = None
    minor: bool | None = None


class Merge(BaseModel):
    other: BodyId


class Split(BaseModel):
    face_ids: list[BodyId] = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)


def _summary(lib: Library, person_id: int) -> PersonOut:
    return PersonOut(**manage.person_summary(lib, person_id).as_json())


@router.get("", dependencies=[Depends(require_session)])
def list_people(
    response: Response,
    include_hidden: bool = False,
    search: str | None = Query(None, max_length=200),
    sort: manage.PeopleSort = manage.PeopleSort.PHOTOS,
    offset: int = Query(0, ge=0, le=MAX_ID),
    limit: int | None = Query(None, ge=1, le=1000),
    lib: Library = Depends(library),
) -> list[PersonOut]:
    """People in the library, most photos first (or by name, or the latest photo taken),
    those whose name contains ``search``, a page at a time; ``X-Total-Count`` says how many
    match on every page together."""
    found = manage.find_people(lib, search, sort, offset, limit, include_hidden)
    response.headers["X-Total-Count"] = str(found.total)
    return [PersonOut(**p.as_json()) for p in found.people]


class MergeOut(BaseModel):
    id: int
    target: int
    target_name: str | None
    other: int
    other_name: str | None
    faces_moved: int
    merged_at: str
    undone_at: str | None


class UndoneOut(BaseModel):
    person: PersonOut
    faces_restored: int
    faces_elsewhere: int


class SimilarOut(BaseModel):
    id: int
    name: str
    face: int | None
    distance: float


@router.get("/merges", dependencies=[Depends(require_session)])
def list_merges(lib: Library = Depends(library)) -> list[MergeOut]:
    """The merges of the last week that can still be undone, newest first."""
    return [MergeOut(**m.as_json()) for m in merges.recent_merges(lib)]


@router.post(
    "/merges/{merge_id}/undo", dependencies=[Depends(require_csrf)], responses=ERRORS | {409: {}}
)
def undo_merge(merge_id: PathId, lib: Library = Depends(library)) -> UndoneOut:
    """Bring a merged person back with their faces (those not moved since), permissions and
    adapters."""
    undone = merges.undo_merge(lib, merge_id)
    return UndoneOut(
        person=_summary(lib, undone.person_id),
        faces_restored=undone.faces_restored,
        faces_elsewhere=undone.faces_elsewhere,
    )


@router.get("/{person_id}", dependencies=[Depends(require_session)], responses=ERRORS)
def get_person(person_id: PathId, lib: Library = Depends(library)) -> PersonOut:
    return _summary(lib, person_id)


@router.patch("/{person_id}", dependencies=[Depends(require_csrf)], responses=ERRORS)
def edit_person(person_id: PathId, edit: PersonEdit, lib: Library = Depends(library)) -> PersonOut:
    """Name, hide or unhide, mark or unmark as a minor."""
    if edit.name is not None:
        manage.name_person(lib, person_id, edit.name)
    if edit.hidden is not None:
        manage.hide_person(lib, person_id, edit.hidden)
    if edit.minor is not None:
        manage.set_minor(lib, person_id, edit.minor)
    return _summary(lib, person_id)


@router.post("/{person_id}/me", dependencies=[Depends(require_csrf)], responses=ERRORS)
def mark_as_me(person_id: PathId, lib: Library = Depends(library)) -> PersonOut:
    """Mark this person as the library's owner (one at a time)."""
    manage.set_owner(lib, person_id)
    return _summary(lib, person_id)


class EraseIn(BaseModel):
    """The word ``erase``, typed: it cannot be undone."""

    confirm: str = Field(pattern="^erase$")


class ErasureOut(BaseModel):
    person: int
    faces_deleted: int
    unassigned_faces_deleted: int
    enrolments_deleted: int
    adapters_deleted: int
    grants_revoked: int
    key_destroyed: bool
    templates_kept: list[str]
    templates_missing: list[str]


@router.post("/{person_id}/erase", dependencies=[Depends(require_csrf)], responses=ERRORS)
def erase(person_id: PathId, body: EraseIn, lib: Library = Depends(library)) -> ErasureOut:
    """Erase a person's biometric data at their request and mark them do-not-generate (a
    person without an account; one with an account erases on their own page)."""
    from likeness import workflows

    return ErasureOut(**workflows.erase(lib, person_id).as_json())


class GuardianIn(BaseModel):
    #: The guardian's person id (someone with an account); null removes the guardian.
    guardian: int | None = Field(ge=1, le=2**63 - 1)


@router.put("/{person_id}/guardian", dependencies=[Depends(require_csrf)], responses=ERRORS)
def set_guardian(person_id: PathId, body: GuardianIn, lib: Library = Depends(library)) -> dict:
    """Name a minor's guardian, who approves the permissions the minor gives (and lets the
    minor be invited), or remove them."""
    from likeness.consent.guardians import guardian_of, name_guardian

    name_guardian(lib, person_id, body.guardian)
    return {"person": person_id, "guardian": guardian_of(lib, person_id)}


class GrantRequestIn(BaseModel):
    """A permission asked of a person who consents for themselves."""

    scopes: list[Scope] = Field(min_length=1)
    days: int | None = Field(default=None, ge=1, le=36500)


@router.post(
    "/{person_id}/grant-requests",
    dependencies=[Depends(require_csrf)],
    responses=ERRORS,
    status_code=201,
)
def request_grant(person_id: PathId, body: GrantRequestIn, lib: Library = Depends(library)) -> dict:
    """Ask a person with an account for a permission to the owner: it waits on their page
    (``consent.requests``); the owner cannot sign one for them."""
    from likeness.consent.grants import OWNER
    from likeness.consent.requests import request_grant as ask

    return ask(lib, person_id, OWNER, body.scopes, body.days).as_json()


@router.get("/{person_id}/merge-preview", dependencies=[Depends(require_session)], responses=ERRORS)
def merge_preview(
    person_id: PathId,
    other: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Query(min_length=1, max_length=50),
    lib: Library = Depends(library),
) -> list[dict]:
    """What merging each ``other`` (``?other=2&other=3``) into this person, in that order,
    would do: faces and photos moving, the name after, permissions and adapters that stop
    applying, a minor's mark carried over, or why it would be refused."""
    from likeness.workflows import preview_merge

    return [p.as_json() for p in preview_merge(lib, person_id, other)]


@router.post("/{person_id}/merge", dependencies=[Depends(require_csrf)], responses=ERRORS)
def merge(
    person_id: PathId, body: Merge, response: Response, lib: Library = Depends(library)
) -> PersonOut:
    """Move every face of ``other`` into this person and delete ``other``; ``X-Merge-Id``
    names the merge, for ``POST /api/people/merges/ID/undo``."""
    merged = merges.merge_people(lib, person_id, body.other)
    response.headers["X-Merge-Id"] = str(merged.id)
    return _summary(lib, person_id)


@router.get("/{person_id}/similar", dependencies=[Depends(require_session)], responses=ERRORS)
def similar(person_id: PathId, lib: Library = Depends(library)) -> list[SimilarOut]:
    """Named people who may be this person ("is this Alice?"), nearest first."""
    return [SimilarOut(**p.as_json()) for p in merges.similar_people(lib, person_id)]


@router.post(
    "/{person_id}/split", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=201
)
def split(person_id: PathId, body: Split, lib: Library = Depends(library)) -> PersonOut:
    """Move the selected faces of this person into a new person."""
    new_id = manage.split_person(lib, person_id, body.face_ids, body.name)
    return _summary(lib, new_id)
