"""Read photos back from the catalog: from photo ids to upright pixels, through the files
(or Takeout archive members) the import recorded."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from likeness.library.decode import DecodeError, decode_photo
from likeness.library.sources import SourceItem, read_items
from likeness.library.tables import PhotoFile
from likeness.store import Library


def read_photos(lib: Library, photo_ids: Iterable[int]) -> Iterator[tuple[int, np.ndarray | str]]:
    """Yield ``(photo_id, pixels)`` for each photo that can still be read, or
    ``(photo_id, reason)`` for one that cannot (moved, deleted, now corrupt)."""
    wanted = list(dict.fromkeys(photo_ids))
    items: dict[bytes, tuple[SourceItem, list[int]]] = {}
    with lib.session() as s:
        for photo_id in wanted:
            row = s.scalar(
                select(PhotoFile).where(PhotoFile.photo_id == photo_id).order_by(PhotoFile.id)
            )
            if row is None:
                yield photo_id, "no file of this photo is known"
                continue
            item = SourceItem.from_location(
                row.location, row.display_path, row.size, row.mtime_ns, row.source
            )
            items.setdefault(row.location, (item, []))[1].append(photo_id)
    for item, data in read_items([v[0] for v in items.values()]):
        ids = items[item.location][1]
        if isinstance(data, OSError):
            for photo_id in ids:
                yield photo_id, f"{item.display_path}: cannot read: {data}"
            continue
        try:
            pixels = decode_photo(data).pixels
        except DecodeError as exc:
            for photo_id in ids:
                yield photo_id, f"{item.display_path}: {exc}"
            continue
        for photo_id in ids:
            yield photo_id, pixels


def photo_paths(session: Session, photo_ids: Collection[int] | None = None) -> dict[int, str]:
    """Each photo's path as shown to people: the file it was first seen as (of ``photo_ids``,
    or of every photo)."""
    query = select(PhotoFile.photo_id, PhotoFile.display_path).where(
        PhotoFile.photo_id.is_not(None)
        if photo_ids is None
        else PhotoFile.photo_id.in_(list(photo_ids))
    )
    # Newest first, so the first-seen file is written last and wins.
    return {pid: path for pid, path in session.execute(query.order_by(PhotoFile.id.desc()))}
