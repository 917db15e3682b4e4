"""Contact sheets: one image showing a person's faces, so a person can check a group by eye."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import select

from likeness.library.decode import DecodeError, decode_photo
from likeness.library.sources import SourceItem, read_items
from likeness.store import Library
from likeness.store.models import Face, PhotoFile

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
        files = {}
        for f in faces:
            row = s.scalar(
                select(PhotoFile).where(PhotoFile.photo_id == f.photo_id).order_by(PhotoFile.id)
            )
            if row is not None:
                item = SourceItem.from_location(
                    row.location, row.display_path, row.size, row.mtime_ns, row.source
                )
                files.setdefault(row.location, (item, []))[1].append(f)
    tiles: list[tuple[int, Image.Image]] = []
    for item, data in read_items([v[0] for v in files.values()]):
        if isinstance(data, OSError):
            continue
        try:
            pixels = decode_photo(data).pixels
        except DecodeError:
            continue
        for f in files[item.location][1]:
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
