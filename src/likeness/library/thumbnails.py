"""Photo thumbnails: small JPEGs of library photos for the web app's grids, made once and kept.

A phone photo is 12 MP; decoding one takes a few tenths of a second, so a grid of sixty
decoded on every visit would take half a minute. As Immich does, each photo's thumbnail is
made on first request and kept on disk, under ``LIKENESS_HOME/cache/thumbnails/<size>/``,
named by the photo's content hash: the same content is the same thumbnail, and a photo whose
file changed is a new photo (a new hash), never a stale picture.

The cache holds the user's own photos, small: its folders are 0700 and its files 0600, as
everything in the home. Deleting the folder loses nothing; thumbnails are made again.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from likeness.errors import NotFoundError
from likeness.library.photos import read_photos
from likeness.library.tables import Photo
from likeness.store import Library
from likeness.store.keys import make_private_folder

#: The sizes a thumbnail is made in (longest side, pixels): a grid tile and a photo page.
SIZES = (320, 1600)


class PhotoNotFoundError(NotFoundError):
    """No photo with that id, or none of its files can still be read."""


def thumbnail_path(lib: Library, content_hash: str, size: int) -> Path:
    """Where the thumbnail of this content at this size is kept."""
    return lib.home / "cache" / "thumbnails" / str(size) / content_hash[:2] / f"{content_hash}.jpg"


def photo_thumbnail(lib: Library, photo_id: int, size: int = SIZES[0]) -> bytes:
    """A JPEG of the photo, upright, its longest side ``size`` (one of ``SIZES``) or the
    photo's own if smaller; made from the photo's file on first request, then read back."""
    if size not in SIZES:
        raise ValueError(f"a thumbnail is {' or '.join(map(str, SIZES))} pixels, not {size}")
    with lib.session() as s:
        photo = s.get(Photo, photo_id)
        if photo is None:
            raise PhotoNotFoundError(f"no photo with id {photo_id}", field="photo")
        content_hash = photo.content_hash
    path = thumbnail_path(lib, content_hash, size)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    [(_, pixels)] = read_photos(lib, [photo_id])
    if isinstance(pixels, str):
        raise PhotoNotFoundError(f"photo {photo_id}: {pixels}", field="photo")
    image = Image.fromarray(pixels)
    image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)
    data = out.getvalue()
    _keep(path, data)
    return data


def _keep(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a 0600 file, atomically; two requests making the same
    thumbnail at once each write their own temporary file and the last rename wins."""
    make_private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
