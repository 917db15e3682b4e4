"""Photos the tests make: real faces from scikit-image's public-domain astronaut portrait."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def scenery(seed: int = 0, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A face-free photo: smooth random colour fields (distinct per seed)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def textured_scenery(size: tuple[int, int] = (4032, 3024)) -> Image.Image:
    """A face-free photo with detail at every scale: scikit-image's cat and coffee photos
    upscaled, over ground tiled from its native-resolution grass and gravel textures (where
    a cheap face detector finds things that look like faces)."""
    from skimage import data

    w, h = size
    scene = np.asarray(Image.fromarray(data.chelsea()).resize(size)).copy()
    for row, texture in enumerate((data.grass(), data.gravel())):
        tile = np.tile(texture[..., None], (1, 1, 3))
        y0 = h // 2 + row * h // 4
        for y in range(y0, min(h, y0 + h // 4), tile.shape[0]):
            for x in range(0, w, tile.shape[1]):
                part = tile[: min(h, y0 + h // 4) - y, : w - x]
                scene[y : y + part.shape[0], x : x + part.shape[1]] = part
    coffee = data.coffee()
    scene[: coffee.shape[0], -coffee.shape[1] :] = coffee
    return Image.fromarray(scene)


def jpeg_bytes(image: Image.Image, exif: Image.Exif | None = None, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, exif=exif if exif is not None else b"")
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def face_photos(folder: Path, count: int = 4) -> list[Path]:
    """Distinct photos of the same person (crops/scales/exposure of the astronaut)."""
    from PIL import ImageEnhance

    base = astronaut()
    variants = [
        base,
        base.crop((40, 0, 400, 380)),
        base.resize((400, 400)),
        ImageEnhance.Brightness(base).enhance(1.3),
        base.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        ImageEnhance.Contrast(base).enhance(0.8),
    ]
    return [write(folder / f"face-{i}.jpg", jpeg_bytes(v)) for i, v in enumerate(variants[:count])]
