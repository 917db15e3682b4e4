"""Faces as scripts see them (``likeness faces --json``)."""

from __future__ import annotations

from sqlalchemy import select

from likeness.faces.tables import Face
from likeness.library.photos import photo_paths
from likeness.library.tables import Photo
from likeness.store import Library


def list_faces(lib: Library, person_id: int | None = None, unassigned: bool = False) -> list[dict]:
    """One dict per face: photo path, when the photo was taken (ISO 8601, the camera's wall
    clock; None when unknown), upright box, person, quality. The shape is stable."""
    with lib.session() as s:
        stmt = select(Face, Photo.taken_at).join(Photo, Photo.id == Face.photo_id).order_by(Face.id)
        if person_id is not None:
            stmt = stmt.where(Face.person_id == person_id)
        if unassigned:
            stmt = stmt.where(Face.person_id.is_(None))
        faces = s.execute(stmt).all()
        paths = photo_paths(s)
        return [
            {
                "id": f.id,
                "photo": paths.get(f.photo_id),
                "photo_id": f.photo_id,
                "taken_at": taken_at.isoformat() if taken_at else None,
                "box": [f.x0, f.y0, f.x1, f.y1],
                "person": f.person_id,
                "quality": round(f.quality, 4),
                "sharpness": round(f.sharpness, 4),
                "frontalness": round(f.frontalness, 4),
                "locked": f.locked,
            }
            for f, taken_at in faces
        ]
