"""Indexing throughput: likeness import vs the face_recognition CLI, on the same photos.

The photo set is ../shared/data/faces-dev plus synthetic copies of every photo (rescaled to
0.6x, 1.5x and 2.5x, mirrored, brighter, darker, re-encoded at JPEG quality 60, stored sideways
with an EXIF orientation tag): several hundred photos, some of several megapixels. Both tools
run as a user runs them, as subprocesses over both cores:

    likeness import DIR --json             (2 worker processes)
    face_recognition --cpus 2 KNOWN DIR    (KNOWN: one photo of each labelled person)

Face recall is scored against the people known to be in each photo (1 for single-person and
hard photos, 2 for the named group photos; the unlabelled crowd photo counts for speed only):
a photo contributes min(faces found, people in it).

Needs the face_recognition CLI beside dlib-bin: ``make bench-setup`` (pip --no-deps).

    .venv/bin/python benchmarks/indexing_throughput.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from _common import read_labels, require_faces_dev

PEOPLE_IN_GROUP = {"kit_with_rose": 2, "longoria_cooper": 2, "obama_and_biden": 2, "two_people": 2}


def expected_people(original: Path) -> int | None:
    if original.parent.name == "groups":
        return PEOPLE_IN_GROUP.get(original.stem)  # None: the unlabelled crowd photo
    return 1


def make_photo_set(root: Path, out: Path) -> dict[str, int | None]:
    """Write originals and synthetic copies to ``out``; returns {file name: people in it}."""
    originals = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png") and p.is_file()
    )
    expected: dict[str, int | None] = {}
    for i, src in enumerate(originals):
        base = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
        w, h = base.size
        variants = {
            "orig": base,
            "small": base.resize((int(w * 0.6), int(h * 0.6)), Image.Resampling.LANCZOS),
            "large": base.resize((int(w * 1.5), int(h * 1.5)), Image.Resampling.LANCZOS),
            "huge": base.resize((int(w * 2.5), int(h * 2.5)), Image.Resampling.LANCZOS),
            "mirror": base.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            "bright": ImageEnhance.Brightness(base).enhance(1.3),
            "dark": ImageEnhance.Brightness(base).enhance(0.7),
        }
        for name, image in variants.items():
            file = f"{i:03d}-{src.stem}-{name}.jpg"
            image.save(out / file, quality=90)
            expected[file] = expected_people(src)
        file = f"{i:03d}-{src.stem}-q60.jpg"
        base.save(out / file, quality=60)
        expected[file] = expected_people(src)
        # Sideways phone photo: face_recognition ignores EXIF orientation, likeness applies it.
        exif = Image.Exif()
        exif[0x0112] = 6
        file = f"{i:03d}-{src.stem}-sideways.jpg"
        base.transpose(Image.Transpose.ROTATE_90).save(out / file, quality=90, exif=exif)
        expected[file] = expected_people(src)
    return expected


def recall(found: Counter, expected: dict[str, int | None]) -> tuple[float, int]:
    scored = {f: n for f, n in expected.items() if n}
    hits = sum(min(found.get(f, 0), n) for f, n in scored.items())
    return hits / sum(scored.values()), sum(found.values())


def run_likeness(photos: Path, home: Path, *options: str) -> tuple[float, Counter]:
    env = {**os.environ, "LIKENESS_HOME": str(home)}
    bindir = Path(sys.executable).parent
    start = time.perf_counter()
    result = subprocess.run(
        [str(bindir / "likeness"), "import", str(photos), "--json", "--workers", "2", *options],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 3):
        sys.exit(f"likeness import failed: {result.stderr}")
    faces = json.loads(
        subprocess.run(
            [str(bindir / "likeness"), "faces", "--json"], env=env, capture_output=True, text=True
        ).stdout
    )
    return elapsed, Counter(Path(f["photo"]).name for f in faces)


def require_face_recognition() -> Path:
    """The face_recognition CLI beside this Python, or exit saying how to install it (call
    it before building a corpus: a run should not fail minutes in)."""
    exe = Path(sys.executable).parent / "face_recognition"
    if not exe.exists():
        sys.exit("face_recognition CLI not installed: run `make bench-setup`")
    return exe


def run_face_recognition(known: Path, photos: Path) -> tuple[float, Counter]:
    exe = require_face_recognition()
    start = time.perf_counter()
    result = subprocess.run(
        [str(exe), "--cpus", "2", str(known), str(photos)], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"face_recognition failed: {result.stderr[-2000:]}")
    found: Counter = Counter()
    for line in result.stdout.splitlines():
        path, _, name = line.rpartition(",")
        if path and name != "no_persons_found":
            found[Path(path).name] += 1
    return elapsed, found


def main() -> None:
    root = require_faces_dev()
    labels = read_labels(root)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos, known = tmp / "photos", tmp / "known"
        photos.mkdir()
        known.mkdir()
        expected = make_photo_set(root, photos)
        seen_people = set()
        for path, person in sorted(labels.items()):
            if person not in seen_people:
                seen_people.add(person)
                shutil.copy(path, known / f"{person}{Path(path).suffix}")
        pixels = sum(
            Image.open(photos / f).size[0] * Image.open(photos / f).size[1] for f in expected
        )
        n = len(expected)
        print(
            f"photo set: {n} photos ({pixels / n / 1e6:.1f} MP average), "
            f"{sum(v for v in expected.values() if v)} known faces; 2 cores"
        )

        fr_time, fr_found = run_face_recognition(known, photos)
        lk_time, lk_found = run_likeness(photos, tmp / "home")
        fr_recall, fr_faces = recall(fr_found, expected)
        lk_recall, lk_faces = recall(lk_found, expected)
        print(f"{'':28}{'photos/s':>10}{'faces/s':>10}{'recall':>9}{'faces':>8}{'seconds':>9}")
        for name, t, faces, rec in (
            ("face_recognition --cpus 2", fr_time, fr_faces, fr_recall),
            ("likeness import", lk_time, lk_faces, lk_recall),
        ):
            print(f"{name:28}{n / t:10.2f}{faces / t:10.2f}{rec:9.3f}{faces:8d}{t:9.1f}")
        print(
            f"speed-up: {fr_time / lk_time:.2f}x photos/s "
            f"(target >= 3x at equal or better recall: "
            f"{'met' if fr_time / lk_time >= 3 and lk_recall >= fr_recall else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
