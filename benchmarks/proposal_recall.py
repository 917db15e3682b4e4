"""How P-Net's threshold trades small-face recall against the candidates R-Net must look at.

MTCNN's first network (``faces.mtcnn``) keeps the windows whose face probability reaches
``PNET_THRESHOLD``; every window kept costs R-Net a 24 px crop, and on textured ground (grass,
gravel, brick) P-Net fires thousands of times a photo. A face whose probability stays under the
threshold is lost for good. This pastes every faces-dev face (cut out with context, as
``phone_library.py`` does) into 1600x1200 parts of that benchmark's textured 12 MP scenes at
small widths, degraded as phone photos of faces across a room are (blurred, dim and low in
contrast, heavily compressed), saves each photo as a JPEG, runs the whole proposer at each
threshold, and counts the faces proposed (a proposal centred on the face, 0.6-1.7 of its
width). It also counts, on whole 12 MP scenes without faces (JPEG too), the candidates P-Net
hands to R-Net and the time P-Net and R-Net take (one core; run it on a quiet machine).

    .venv/bin/python benchmarks/proposal_recall.py [--thresholds 0.8 0.9 0.95]
        [--factors 0.709] [--seed 0]

``--factors`` tries other steps between P-Net's pyramid levels (``PYRAMID_FACTOR``): a smaller
one runs P-Net over fewer pixels, and leaves faces of widths between two levels further from
P-Net's window.
"""

from __future__ import annotations

import argparse
import io
import itertools
import time
from collections import Counter

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from _common import require_faces_dev
from phone_library import face_cutouts, scenes

#: (face width in px, degradation) pasted for every faces-dev face: from the smallest face
#: looked for, through widths that fall between two pyramid levels (with a factor of 0.6 the
#: levels' faces are 40, 67 and 111 px wide: 52 and 86 are the furthest from both).
TRIALS = (
    (40, "blurred"),
    (44, "dim"),
    (48, "compressed"),
    (52, "dim"),
    (60, "blurred"),
    (70, "compressed"),
    (86, "dim"),
    (90, "blurred"),
    (140, "dim"),
)
PART = (1600, 1200)


def degraded(patch: Image.Image, how: str) -> Image.Image:
    if how == "blurred":
        return patch.filter(ImageFilter.GaussianBlur(1.2))
    if how == "dim":
        low = ImageEnhance.Contrast(patch).enhance(0.5)
        return ImageEnhance.Brightness(low).enhance(0.5)
    if how == "compressed":
        buffer = io.BytesIO()
        patch.save(buffer, "JPEG", quality=30)
        return Image.open(buffer).convert("RGB")
    raise ValueError(how)


def as_saved(image: Image.Image) -> np.ndarray:
    """The pixels of the photo saved as a phone saves it (JPEG at quality 90): the blocks of
    compressed noise and texture are what P-Net fires on."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return np.asarray(Image.open(buffer).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    parser.add_argument("--factors", type=float, nargs="+", default=None)
    parser.add_argument("--reach", type=float, nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=0, help="0: phone_library.py's scenes")
    args = parser.parse_args()

    import torch

    from likeness.heap import reuse_freed_memory

    reuse_freed_memory()  # as an import worker does

    from likeness.faces import mtcnn
    from likeness.faces.scaling import Halvings

    torch.set_num_threads(1)  # as in an import worker
    rng = np.random.default_rng(args.seed)
    cutouts = face_cutouts(require_faces_dev())
    backgrounds = scenes(rng)
    proposer = mtcnn.MtcnnProposer()

    photos = []  # (pixels, face box)
    for i, (_person, crop, frac) in enumerate(cutouts):
        for width, how in TRIALS:
            scene = backgrounds[(i + width) % len(backgrounds)]
            x = int(rng.integers(0, scene.width - PART[0]))
            y = int(rng.integers(scene.height // 3, scene.height - PART[1]))
            part = scene.crop((x, y, x + PART[0], y + PART[1]))
            scale = width / (frac * crop.width)
            size = (max(8, int(crop.width * scale)), max(8, int(crop.height * scale)))
            patch = degraded(crop.resize(size), how)
            px = int(rng.integers(0, PART[0] - patch.width))
            py = int(rng.integers(0, PART[1] - patch.height))
            part.paste(patch, (px, py))
            photos.append((as_saved(part), (px, py, px + patch.width, py + patch.height), width))

    saved_scenes = [as_saved(scene) for scene in backgrounds]
    default = mtcnn.PNET_THRESHOLD
    print(
        f"{len(photos)} faces ({len(cutouts)} faces-dev faces x {len(TRIALS)} widths 40-140 px, "
        "blurred, dim or compressed) in textured scenes"
    )
    default_factor, default_reach = mtcnn.PYRAMID_FACTOR, mtcnn.FIRST_LEVEL_REACH
    try:
        for factor, reach, threshold in itertools.product(
            args.factors or [default_factor], args.reach or [default_reach], args.thresholds
        ):
            mtcnn.PYRAMID_FACTOR, mtcnn.PNET_THRESHOLD = factor, threshold
            mtcnn.FIRST_LEVEL_REACH = reach
            misses: Counter = Counter()
            missed = 0
            with torch.inference_mode():
                for pixels, (x0, y0, x1, y1), width in photos:
                    proposed = proposer.propose(pixels, 40, 400)
                    if not any(
                        x0 <= (b[0] + b[2]) / 2 <= x1
                        and y0 <= (b[1] + b[3]) / 2 <= y1
                        and 0.6 * width <= b[2] - b[0] <= 1.7 * width
                        for b, _ in proposed
                    ):
                        missed += 1
                        misses[width] += 1
                candidates, seconds = [], []
                for pixels in saved_scenes:
                    started = time.perf_counter()
                    halvings = Halvings(pixels)
                    boxes = proposer._pyramid_candidates(halvings, 40, 400)
                    proposer._stage(proposer._rnet, halvings, boxes, 24, mtcnn.RNET_THRESHOLD)
                    seconds.append(time.perf_counter() - started)
                    candidates.append(len(boxes))
            current = (threshold, factor, reach) == (default, default_factor, default_reach)
            mark = " (current)" if current else ""
            where = ", ".join(f"{w} px {n}" for w, n in sorted(misses.items()))
            print(
                f"pyramid {factor:.3f}, reach {reach:.2f}, P-Net {threshold:.2f}{mark}: recall "
                f"{1 - missed / len(photos):.3f} ({missed} missed{': ' + where if where else ''}); "
                "on 12 MP scenes without faces, "
                f"{np.mean(candidates):.0f} candidates for R-Net (max {max(candidates)}), "
                f"P-Net + R-Net {np.mean(seconds):.2f} s a photo"
            )
    finally:
        mtcnn.PYRAMID_FACTOR, mtcnn.PNET_THRESHOLD = default_factor, default
        mtcnn.FIRST_LEVEL_REACH = default_reach


if __name__ == "__main__":
    main()
