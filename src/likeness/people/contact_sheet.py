"""Contact sheets: one image showing a person's faces, so a person can check a group by eye."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import select

from likeness.library.photos import read_photos
from likeness.store import Library
from likeness.store.models import Face

TILE = 128


def write_contact_sheet(
    lib: Library,
    person_id: int | None,
    out: Path,
    *,
    face_ids: list[int] | None = None,
    limit: int = 64,
) -> int:
    """Write a grid of a person's best faces (highest quality first), labelled with face ids.

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
            w, h = f.x1 - f.x0, f.y1 - f.y0
            m = int(0.25 * max(w, h))
            crop = pixels[max(0, f.y0 - m) : f.y1 + m, max(0, f.x0 - m) : f.x1 + m]
            tile = Image.fromarray(np.ascontiguousarray(crop)).resize((TILE, TILE))
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
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return len(tiles)
