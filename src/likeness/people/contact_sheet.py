"""Contact sheets and face thumbnails: a person's faces shown so that one can check a group by
eye (the CLI's contact sheet, the server's thumbnails).

Faces are biometric data: a sheet is written readable by its owner only (0600), and any folder
made for it is 0700, wherever it goes (by default the library's vault, inside the 0700 home).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import select

from likeness.errors import NotFoundError
from likeness.faces.tables import Face
from likeness.library.photos import read_photos
from likeness.store import Library
from likeness.store.keys import make_private_folder, write_private

TILE = 128


def save_private_image(image: Image.Image, out: Path) -> Path:
    """Save ``image`` to ``out`` (format by its extension) readable by its owner only (0600),
    atomically; a folder made for it is 0700."""
    buf = io.BytesIO()
    image.save(buf, format=Image.registered_extensions().get(out.suffix.lower()))
    make_private_folder(out.parent)
    write_private(out, buf.getvalue())
    return out


class FaceNotFoundError(NotFoundError):
    """No face with that id, or its photo can no longer be read."""


def face_crop(pixels: np.ndarray, face: Face, size: int) -> Image.Image:
    """The face with a quarter of its size around it, resized to ``size`` x ``size``."""
    w, h = face.x1 - face.x0, face.y1 - face.y0
    m = int(0.25 * max(w, h))
    crop = pixels[max(0, face.y0 - m) : face.y1 + m, max(0, face.x0 - m) : face.x1 + m]
    return Image.fromarray(np.ascontiguousarray(crop)).resize((size, size))


def face_thumbnail(lib: Library, face_id: int, size: int = 160) -> bytes:
    """A JPEG of one face (``face_crop``), read from its photo."""
    with lib.session() as s:
        face = s.get(Face, face_id)
        if face is None:
            raise FaceNotFoundError(f"no face with id {face_id}")
        s.expunge(face)
    [(_, pixels)] = read_photos(lib, [face.photo_id])
    if isinstance(pixels, str):
        raise FaceNotFoundError(f"face {face_id}: {pixels}")
    out = io.BytesIO()
    face_crop(pixels, face, size).save(out, format="JPEG", quality=88)
    return out.getvalue()


def write_contact_sheet(
    lib: Library,
    person_id: int | None,
    out: Path,
    *,
    face_ids: list[int] | None = None,
    limit: int = 64,
) -> int:
    """Write a grid of a person's best faces (highest quality first), labelled with face ids,
    as a 0600 file (``save_private_image``).

    Returns the number of faces drawn. Photos that can no longer be read are skipped.
    """
    with lib.session() as s:
        stmt = select(Face).order_by(Face.quality.desc(), Face.id).limit(limit)
        stmt = (
            stmt.where(Face.id.in_(face_ids))
            if face_ids
            else stmt.where(Face.person_id == person_id)
        )
        faces = s.scalars(stmt).all()
    by_photo: dict[int, list[Face]] = {}
    for f in faces:
        by_photo.setdefault(f.photo_id, []).append(f)
    tiles: list[tuple[int, Image.Image]] = []
    for photo_id, pixels in read_photos(lib, by_photo):
        if isinstance(pixels, str):
            continue
        for f in by_photo[photo_id]:
            tile = face_crop(pixels, f, TILE)
            draw = ImageDraw.Draw(tile)
            label = f"#{f.id}"
            draw.rectangle(draw.textbbox((3, TILE - 13), label), fill=(0, 0, 0))
            draw.text((3, TILE - 13), label, fill=(255, 255, 0))
            tiles.append((f.id, tile))
    if not tiles:
        return 0
    tiles.sort()
    cols = min(8, math.ceil(math.sqrt(len(tiles))))
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new("RGB", (cols * TILE, rows * TILE), (32, 32, 32))
    for i, (_, tile) in enumerate(tiles):
        sheet.paste(tile, ((i % cols) * TILE, (i // cols) * TILE))
    save_private_image(sheet, out)
    return len(tiles)
