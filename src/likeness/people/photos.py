"""Photos as people browse them: the library by date, one person's photos, and one photo with
its faces and who they are (the web app's Photos and person pages, the API's ``/api/photos``).

Photos sit in the library room and know nothing of people; this room puts the two together.
Dates are the photo's own (``Photo.taken_at``, local wall time from EXIF or Takeout); photos
without one come after every dated photo, newest import first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likeness.faces.tables import Face
from likeness.library.photos import photo_paths
from likeness.library.tables import Photo
from likeness.library.thumbnails import PhotoNotFoundError
from likeness.people.records import get_person
from likeness.people.tables import Person
from likeness.store import Library


@dataclass
class FaceOnPhoto:
    """A face on a photo: where (upright photo pixels), and whose it is, if anyone's."""

    id: int
    box: tuple[int, int, int, int]
    person: int | None
    #: The person's name; None for a face of nobody or of an unnamed person.
    name: str | None

    def as_json(self) -> dict:
        return {"id": self.id, "box": list(self.box), "person": self.person, "name": self.name}


@dataclass
class PhotoEntry:
    """One photo of a listing or a photo page."""

    id: int
    width: int
    height: int
    taken_at: datetime | None
    #: The file it was first seen as (a folder path or an archive member).
    path: str | None
    faces: list[FaceOnPhoto] = field(default_factory=list)
    camera: str | None = None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "width": self.width,
            "height": self.height,
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "path": self.path,
            "camera": self.camera,
            "faces": [f.as_json() for f in self.faces],
        }


@dataclass
class PhotoPage:
    """A page of photos, and the count of all photos the listing holds."""

    photos: list[PhotoEntry]
    total: int
    offset: int
    limit: int


def list_photos(
    lib: Library, person_id: int | None = None, offset: int = 0, limit: int = 60
) -> PhotoPage:
    """The library's photos newest first (by date taken), or those showing ``person_id``,
    ``limit`` from ``offset``, each with its faces (a person's photos list only their faces:
    what the page outlines). Near-duplicates are listed as the photos they are."""
    if offset < 0 or limit < 1:
        raise ValueError("a page starts at 0 or later and holds at least one photo")
    with lib.session() as s:
        if person_id is not None:
            get_person(s, person_id)  # PersonNotFoundError
        query = select(Photo.id)
        if person_id is not None:
            query = query.where(
                Photo.id.in_(select(Face.photo_id).where(Face.person_id == person_id))
            )
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        ids = s.scalars(
            query.order_by(Photo.taken_at.is_(None), Photo.taken_at.desc(), Photo.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        photos = _entries(s, list(ids), person_id)
    return PhotoPage(photos, total, offset, limit)


def photo_detail(lib: Library, photo_id: int) -> PhotoEntry:
    """One photo with every face on it and who each is."""
    with lib.session() as s:
        found = _entries(s, [photo_id], None)
    if not found:
        raise PhotoNotFoundError(f"no photo with id {photo_id}", field="photo")
    return found[0]


def _entries(s: Session, ids: list[int], person_id: int | None) -> list[PhotoEntry]:
    """The photos ``ids`` in that order, with their faces (only ``person_id``'s if given)."""
    if not ids:
        return []
    photos = {p.id: p for p in s.scalars(select(Photo).where(Photo.id.in_(ids)))}
    paths = photo_paths(s, ids)
    faces_query = (
        select(Face.id, Face.photo_id, Face.x0, Face.y0, Face.x1, Face.y1, Face.person_id)
        .add_columns(Person.name)
        .outerjoin(Person, Person.id == Face.person_id)
        .where(Face.photo_id.in_(ids))
        .order_by(Face.x0, Face.id)
    )
    if person_id is not None:
        faces_query = faces_query.where(Face.person_id == person_id)
    faces: dict[int, list[FaceOnPhoto]] = {}
    for face_id, photo_id, x0, y0, x1, y1, person, name in s.execute(faces_query):
        faces.setdefault(photo_id, []).append(FaceOnPhoto(face_id, (x0, y0, x1, y1), person, name))
    return [
        PhotoEntry(
            p.id,
            p.width,
            p.height,
            p.taken_at,
            paths.get(p.id),
            faces.get(p.id, []),
            " ".join(x for x in (p.camera_make, p.camera_model) if x) or None,
        )
        for i in ids
        if (p := photos.get(i)) is not None
    ]
