"""Export my data: a zip of what the library holds about one person, for that person.

What goes in: a crop of each of their faces (the face and a quarter of its size around it,
256 px, read from the owner's photo; never the whole photo, nor its path, which is the
owner's), each face's box, quality and photo date; every grant about them as signed (the
document, its Ed25519 signature, and the library's public key to check it with); their
activity in words (``consent.activity``); and a README saying what is and is not there.
What stays out: the owner's photos and their file names, other people, and the face
embeddings and liveness templates (biometric templates: the library keeps them to
recognise the person, and a copy in a zip on a phone would be one more place to leak from).
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import IO

from sqlalchemy import select

from likeness import clock
from likeness.consent import activity, audit
from likeness.consent.tables import ConsentGrantRecord
from likeness.faces.tables import Face
from likeness.library.photos import read_photos
from likeness.library.tables import Photo
from likeness.people.contact_sheet import face_crop
from likeness.people.records import get_person
from likeness.store import Library

CROP_PX = 256

_README = """What the likeness library at {name!r} holds about you, exported {at}.

faces/      a crop of each of your faces found in the library's photos ({faces} faces;
            {missing} could not be read because the photo is gone or unreadable)
faces.json  each face: its id, where it lies in its photo (pixels), its quality, and the
            date the photo was taken where the photo says
grants.json every permission about you, as signed: the document, its Ed25519 signature
            (base64) and its state; public_key.txt is the library's key that checks them
activity.txt / activity.json   everything the audit log records about you, in words

Not here: the owner's photos and their file names, anything about other people, and the
face embeddings and liveness templates the library keeps to recognise you.
"""


def export_person_data(
    lib: Library, person_id: int, out: IO[bytes], by: str = audit.OWNER
) -> dict[str, int]:
    """Write the person's zip to ``out``; counts of what went in. The export is recorded in
    the audit log with who asked (``by``)."""
    with lib.session() as s:
        person = get_person(s, person_id)
        uid = person.uid
        faces = list(s.scalars(select(Face).where(Face.person_id == person_id).order_by(Face.id)))
        for face in faces:
            s.expunge(face)
        taken = dict(
            s.execute(
                select(Photo.id, Photo.taken_at).where(Photo.id.in_({f.photo_id for f in faces}))
            ).all()
        )
        records = list(
            s.scalars(select(ConsentGrantRecord).where(ConsentGrantRecord.subject_uid == uid))
        )
    by_photo: dict[int, list[Face]] = {}
    for face in faces:
        by_photo.setdefault(face.photo_id, []).append(face)
    written, missing = 0, 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for photo_id, pixels in read_photos(lib, by_photo):
            if isinstance(pixels, str):
                missing += len(by_photo[photo_id])
                continue
            for face in by_photo[photo_id]:
                jpeg = io.BytesIO()
                face_crop(pixels, face, CROP_PX).save(jpeg, format="JPEG", quality=90)
                z.writestr(f"faces/face-{face.id}.jpg", jpeg.getvalue())
                written += 1
        z.writestr(
            "faces.json",
            json.dumps(
                [
                    {
                        "id": f.id,
                        "box": [f.x0, f.y0, f.x1, f.y1],
                        "quality": round(f.quality, 4),
                        "taken_at": taken[f.photo_id].isoformat()
                        if taken.get(f.photo_id)
                        else None,
                    }
                    for f in faces
                ],
                indent=2,
            ),
        )
        z.writestr(
            "grants.json",
            json.dumps(
                [
                    {
                        "id": r.id,
                        "document": r.document.decode(),
                        "signature": base64.b64encode(r.signature).decode(),
                        "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                    }
                    for r in records
                ],
                indent=2,
            ),
        )
        z.writestr("public_key.txt", lib.keys.public_key_bytes().hex() + "\n")
        items = activity.activity(lib, person_id, limit=100_000)
        z.writestr("activity.json", json.dumps([i.as_json() for i in items], indent=2))
        z.writestr(
            "activity.txt",
            "".join(
                f"{i.at:%Y-%m-%d %H:%M} {(i.actor + ' ') if i.actor else ''}{i.words}\n"
                for i in items
            ),
        )
        z.writestr(
            "README.txt",
            _README.format(
                name=person.name or f"person {person_id}",
                at=clock.now().isoformat(timespec="seconds"),
                faces=written,
                missing=missing,
            ),
        )
    with lib.session() as s:
        audit.append(lib, s, "person-export", {"subject": uid, "faces": written, "by": by})
    return {"faces": written, "unreadable": missing, "grants": len(records), "activity": len(items)}
