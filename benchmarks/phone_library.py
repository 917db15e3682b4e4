"""Indexing a phone library: 12 MP photos with small faces, groups, sideways and HEIC copies.

Builds a corpus shaped like a phone's camera roll from ../shared/data/faces-dev (never copied
into the repository; written to a temporary folder), then runs ``likeness import`` and the
``face_recognition`` CLI (``--cpus 2``) on each kind of photo, in the same run:

- ``small``: one face 40-150 px wide pasted into a 4032x3024 scene;
- ``group``: 3-8 faces of different people, 70-200 px wide, in a 4032x3024 scene;
- ``sideways``: copies of small/group scenes stored rotated with an EXIF orientation tag;
- ``heic``: HEIC copies of small/group scenes;
- ``none``: 4032x3024 scenes without a face;
- ``ordinary``: the faces-dev photos themselves (1-2 MP portraits).

Scenes are scikit-image's and matplotlib's sample photos, upscaled and tiled with noise. Faces
are cut from the faces-dev photos (around the face the likeness backend finds, with context)
and scaled to the target width. Recall counts, per photo, min(faces found, faces pasted).
Prints photos/s and recall per kind and for the whole mix, the peak memory of the import's
largest process, and a projection for 50,000 phone photos.

Needs the face_recognition CLI beside dlib-bin: ``make bench-setup``.

    .venv/bin/python benchmarks/phone_library.py [--per-kind 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _common import read_labels, require_faces_dev
from indexing_throughput import run_face_recognition, run_likeness

SCENE = (4032, 3024)


def face_cutouts(root: Path) -> list[tuple[str, Image.Image, float]]:
    """(person, crop around the face with context, face width / crop width) per labelled
    single-person photo."""
    from likeness.faces.dlib_backend import DlibFaceBackend

    backend = DlibFaceBackend()
    out = []
    for path, person in sorted(read_labels(root).items()):
        image = Image.open(path).convert("RGB")
        faces = backend.analyze(np.asarray(image))
        if not faces:
            continue
        x0, y0, x1, y1 = max(faces, key=lambda f: f.box[2] - f.box[0]).box
        w = x1 - x0
        pad = int(w * 0.6)
        box = (
            max(0, x0 - pad),
            max(0, y0 - pad),
            min(image.width, x1 + pad),
            min(image.height, y1 + pad),
        )
        crop = image.crop(box)
        out.append((person, crop, w / crop.width))
    return out


def scenes(rng: np.random.Generator) -> list[Image.Image]:
    from skimage import data

    sources = [
        data.coffee(),
        data.chelsea(),
        data.rocket(),
        data.hubble_deep_field(),
        data.astronaut()[:, 300:],
    ]
    out = []
    for src in sources:
        big = Image.fromarray(src).resize(SCENE, Image.Resampling.BICUBIC)
        noise = rng.normal(0, 6, (SCENE[1], SCENE[0], 3))
        out.append(Image.fromarray(np.clip(np.asarray(big) + noise, 0, 255).astype(np.uint8)))
    return out


def paste(scene: Image.Image, cutouts, widths, rng) -> tuple[Image.Image, set[str]]:
    """Paste one face per width at random places that do not overlap."""
    image = scene.copy()
    taken: list[tuple[int, int, int, int]] = []
    people = set()
    for (person, crop, frac), width in zip(cutouts, widths, strict=False):
        scale = width / (frac * crop.width)
        patch = crop.resize((max(8, int(crop.width * scale)), max(8, int(crop.height * scale))))
        for _ in range(50):
            x = int(rng.integers(0, SCENE[0] - patch.width))
            y = int(rng.integers(0, SCENE[1] - patch.height))
            box = (x, y, x + patch.width, y + patch.height)
            if all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3] for t in taken):
                break
        taken.append(box)
        image.paste(patch, box[:2])
        people.add(person)
    return image, people


def build_corpus(root: Path, out: Path, per_kind: int, seed: int) -> dict[str, dict[str, int]]:
    """Write the photos into out/<kind>/; returns {kind: {file name: faces in it}}."""
    rng = np.random.default_rng(seed)
    cutouts = face_cutouts(root)
    backgrounds = scenes(rng)
    expected: dict[str, dict[str, int]] = {}

    def save(kind: str, name: str, image: Image.Image, faces: int, **kw) -> None:
        (out / kind).mkdir(parents=True, exist_ok=True)
        image.save(out / kind / name, **kw)
        expected.setdefault(kind, {})[name] = faces

    def pick(n: int):
        idx = rng.choice(len(cutouts), size=n, replace=False)
        chosen, people = [], set()
        for i in idx:  # different people in one photo
            if cutouts[i][0] not in people:
                chosen.append(cutouts[i])
                people.add(cutouts[i][0])
        return chosen

    made = []
    for i in range(per_kind):
        scene = backgrounds[i % len(backgrounds)]
        image, _ = paste(scene, pick(1), [int(rng.integers(40, 151))], rng)
        save("small", f"small-{i}.jpg", image, 1, quality=90)
        made.append((image, 1))
        chosen = pick(int(rng.integers(3, 9)))
        image, _ = paste(scene, chosen, rng.integers(70, 201, len(chosen)).tolist(), rng)
        save("group", f"group-{i}.jpg", image, len(chosen), quality=90)
        made.append((image, len(chosen)))
        save("none", f"none-{i}.jpg", scene, 0, quality=90)
    for i in range(per_kind):
        image, faces = made[i]
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 to view
        save(
            "sideways",
            f"sideways-{i}.jpg",
            image.transpose(Image.Transpose.ROTATE_90),
            faces,
            quality=90,
            exif=exif,
        )
        image, faces = made[-1 - i]
        save("heic", f"heic-{i}.heic", image, faces, quality=85)
    for path, _ in sorted(read_labels(root).items())[: per_kind * 2]:
        save("ordinary", Path(path).name, Image.open(path).convert("RGB"), 1, quality=92)
    return expected


def scored(found: Counter, expected: dict[str, int]) -> float | None:
    total = sum(expected.values())
    if not total:
        return None
    return sum(min(found.get(f, 0), n) for f, n in expected.items()) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-kind", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import pillow_heif

    pillow_heif.register_heif_opener()
    root = require_faces_dev()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        expected = build_corpus(root, tmp / "photos", args.per_kind, args.seed)
        known = tmp / "known"
        known.mkdir()
        seen = set()
        for path, person in sorted(read_labels(root).items()):
            if person not in seen:
                seen.add(person)
                shutil.copy(path, known / f"{person}{Path(path).suffix}")
        rows = []
        totals = {"fr": [0.0, 0, 0], "lk": [0.0, 0, 0]}  # seconds, hits, faces
        for kind, files in expected.items():
            folder = tmp / "photos" / kind
            fr_t, fr_found = run_face_recognition(known, folder)
            lk_t, lk_found = run_likeness(folder, tmp / f"home-{kind}")
            rows.append(
                (kind, len(files), fr_t, scored(fr_found, files), lk_t, scored(lk_found, files))
            )
            for key, t, found in (("fr", fr_t, fr_found), ("lk", lk_t, lk_found)):
                totals[key][0] += t
                totals[key][1] += sum(min(found.get(f, 0), n) for f, n in files.items())
                totals[key][2] += sum(files.values())
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    fmt = lambda r: "-" if r is None else f"{r:.3f}"  # noqa: E731
    print(f"phone-library corpus: {args.per_kind} scenes per 12 MP kind, 2 cores")
    print(
        f"{'kind':10}{'photos':>7}{'fr photos/s':>13}{'fr recall':>10}"
        f"{'lk photos/s':>13}{'lk recall':>10}{'speed-up':>10}"
    )
    n_all = 0
    for kind, n, fr_t, fr_r, lk_t, lk_r in rows:
        n_all += n
        print(
            f"{kind:10}{n:7d}{n / fr_t:13.2f}{fmt(fr_r):>10}"
            f"{n / lk_t:13.2f}{fmt(lk_r):>10}{fr_t / lk_t:10.2f}"
        )
    fr, lk = totals["fr"], totals["lk"]
    print(
        f"{'mix':10}{n_all:7d}{n_all / fr[0]:13.2f}{fr[1] / fr[2]:10.3f}{n_all / lk[0]:13.2f}"
        f"{lk[1] / lk[2]:10.3f}{fr[0] / lk[0]:10.2f}   (target >= 3x, recall >= 0.98)"
    )
    print(f"peak memory of the largest child process: {peak:.0f} MiB (target < 1.5 GiB a worker)")
    print(
        f"projection for 50,000 phone photos: {50_000 / (n_all / lk[0]) / 3600:.1f} h (likeness), "
        f"{50_000 / (n_all / fr[0]) / 3600:.1f} h (face_recognition)"
    )


if __name__ == "__main__":
    main()
