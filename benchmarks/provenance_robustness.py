"""Does ``provenance verify`` find the right manifest after what social networks do to images?

Real photos from faces-dev stand in for generated images: the first photo of each person and
the group photos are cropped square, scaled to 512 px, stamped (watermark, fingerprint,
Content Credentials, local manifest store) and transformed: JPEG 90, 75 and 50, resized to 50%
and back, a 10% crop, a PNG re-save, mirrored, turned a quarter, 5% cut off one side, and
turned 2 degrees (the last two are not recovered yet: issue 29). For each transform the
script prints how often the right manifest is found through the fingerprint, through the
watermark, through either, and how often ``provenance verify`` points to a wrong one. False
matches are counted over unrelated images (>= 1000 random crops, scales and flips of the
photos that were not stamped: the other faces-dev photos, scikit-image's and matplotlib's
samples and rendered scenes), with how near the nearest came to a stored fingerprint.
Signing and verifying time per image is printed, then verifying with ``--store`` more
outputs in the store (random fingerprints), through the chunk index and, as the baseline in
the same run, by reading every stored hash.

    .venv/bin/python benchmarks/provenance_robustness.py [--unrelated 1000] [--store 100000]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def square_512(im: Image.Image) -> np.ndarray:
    w, h = im.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return np.asarray(im.convert("RGB").crop(box).resize((512, 512), Image.Resampling.LANCZOS))


def encode(pixels: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, **kw)
    return buf.getvalue()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def transforms(data: bytes) -> dict[str, tuple[bytes, str]]:
    """(file bytes, suffix) of each transform of a stamped file."""
    px = decoded(data)
    h, w = px.shape[:2]
    half = Image.fromarray(px).resize((w // 2, h // 2), Image.Resampling.BICUBIC)
    back = np.asarray(half.resize((w, h), Image.Resampling.BICUBIC))
    dx, dy = w // 20, h // 20  # 10% of each side cut, 5% from each edge
    crop = px[dy : h - dy, dx : w - dx]
    one_side = px[:, : w - w // 20]  # 5% off the right edge only

    def rotated(degrees: float) -> np.ndarray:  # turned, then cut to the image's own size
        return np.asarray(
            Image.fromarray(px).rotate(degrees, Image.Resampling.BICUBIC, fillcolor=(255,) * 3)
        )

    return {
        "mirrored": (encode(np.ascontiguousarray(px[:, ::-1]), "JPEG", quality=90), ".jpg"),
        "turned a quarter": (
            encode(np.ascontiguousarray(np.rot90(px)), "JPEG", quality=90),
            ".jpg",
        ),
        "crop 5% one side": (encode(np.ascontiguousarray(one_side), "JPEG", quality=90), ".jpg"),
        "rotate 2 degrees": (encode(rotated(2), "JPEG", quality=90), ".jpg"),
        "jpeg 90": (encode(px, "JPEG", quality=90), ".jpg"),
        "jpeg 75": (encode(px, "JPEG", quality=75), ".jpg"),
        "jpeg 50": (encode(px, "JPEG", quality=50), ".jpg"),
        "resize 50% and back": (encode(back, "PNG"), ".png"),
        "crop 10%": (encode(np.ascontiguousarray(crop), "JPEG", quality=90), ".jpg"),
        "png re-save": (encode(px, "PNG"), ".png"),
    }


def unrelated_images(count: int, sources: list[np.ndarray], seed: int = 0):
    """Random crops (30-100% of a side), flips and scales of the source photos."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        src = sources[int(rng.integers(len(sources)))]
        h, w = src.shape[:2]
        side = int(min(h, w) * rng.uniform(0.3, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        im = Image.fromarray(src[y : y + side, x : x + side])
        if rng.random() < 0.5:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        size = int(rng.choice([256, 384, 512, 640]))
        yield np.asarray(im.resize((size, size), Image.Resampling.BICUBIC))


def sample_images() -> list[np.ndarray]:
    """Pictures of other kinds than faces-dev's: scikit-image's and matplotlib's samples,
    and 40 rendered scenes (smooth random colour fields)."""
    import matplotlib.cbook
    from skimage import data as skdata

    from likeness.testing.photos import scenery

    names = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "camera")
    found = [np.asarray(Image.fromarray(getattr(skdata, k)()).convert("RGB")) for k in names]
    folder = Path(matplotlib.cbook._get_data_path("sample_data"))
    for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png"):
        found.append(np.asarray(Image.open(folder / name).convert("RGB")))
    found += [np.asarray(scenery(seed, (640, 480))) for seed in range(100, 140)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--unrelated", type=int, default=1000)
    parser.add_argument(
        "--store", type=int, default=100_000, help="stored outputs for the timing at scale"
    )
    args = parser.parse_args()
    from _common import require_faces_dev
    from likeness.provenance import fingerprint
    from likeness.provenance.credentials import GenerationRecord
    from likeness.provenance.stamp import find_provenance, stamp_image
    from likeness.store import Library

    faces_dev = require_faces_dev()
    paths = sorted(p for p in faces_dev.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    marked = [p for p in paths if p.parent.name == "groups" or p.stem == "1"]
    photos = [square_512(Image.open(p)) for p in marked]
    others = [square_512(Image.open(p)) for p in paths if p not in marked]
    record = GenerationRecord("bench.png", "tiny-sd15", "0" * 64)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lib = Library.open(tmp / "home")
        stamped, sign_s = [], []
        for pixels in photos:
            start = time.perf_counter()
            stamped.append(stamp_image(lib, pixels, "png", record))
            sign_s.append(time.perf_counter() - start)
        rows: dict[str, list[int]] = {}
        verify_s = []
        for i, s in enumerate(stamped):
            for name, (blob, suffix) in transforms(s.data).items():
                path = tmp / f"t{i}{suffix}"
                path.write_bytes(blob)
                start = time.perf_counter()
                report = find_provenance(lib, path)
                verify_s.append(time.perf_counter() - start)
                right = s.watermark_id
                fp, wm = report.fingerprint_match, report.watermark_id
                points_to = wm if wm is not None else fp  # the manifest verify reports
                counts = rows.setdefault(name, [0, 0, 0, 0])
                counts[0] += fp == right
                counts[1] += wm == right
                counts[2] += points_to == right
                counts[3] += points_to is not None and points_to != right
        n = len(stamped)
        print(f"{n} faces-dev photos at 512 px, stamped and transformed")
        print(f"{'transform':22} {'fingerprint':>12} {'watermark':>10} {'verify':>7} {'wrong':>6}")
        for name, (fp, wm, either, wrong) in rows.items():
            print(f"{name:22} {fp / n:12.0%} {wm / n:10.0%} {either / n:7.0%} {wrong:6d}")
        sources = others + sample_images()
        false_wm = false_fp = 0
        closest = 256  # the nearest any unrelated image came to a stored fingerprint
        mine = [st.pdq for st in stamped]
        for j, pixels in enumerate(unrelated_images(args.unrelated, sources)):
            path = tmp / f"u{j % 10}.jpg"
            path.write_bytes(encode(pixels, "JPEG", quality=85))
            report = find_provenance(lib, path)
            false_wm += report.watermark_id is not None
            false_fp += report.fingerprint_match is not None
            variants = fingerprint.pdq_variants(decoded(path.read_bytes()))
            closest = min(closest, int(fingerprint.distances(variants, mine).min()))
        margin = closest / fingerprint.MATCH_BITS
        print(
            f"false matches over {args.unrelated} unrelated images ({len(sources)} sources): "
            f"watermark {false_wm}, fingerprint {false_fp}; the nearest came to {closest} "
            f"bits of a stored fingerprint, every flip and quarter turn tried (a match is "
            f"{fingerprint.MATCH_BITS} or fewer: {margin:.1f}x that)"
        )
        sign_ms, verify_ms = np.median(sign_s) * 1000, np.median(verify_s) * 1000
        print(
            f"per image (medians): stamp (watermark + fingerprint + sign + store) "
            f"{sign_ms:.0f} ms, verify {verify_ms:.0f} ms"
        )
        at_scale(lib, stamped, tmp, args.store)


def at_scale(lib, stamped, tmp: Path, count: int) -> None:
    """Verify with ``count`` more outputs in the store (random fingerprints, chunked as
    ``stamp.index_fingerprint`` does; the rest of each record a placeholder): the chunk index
    against reading every stored hash, in the same run, on JPEG 75 copies of the stamped
    photos."""
    from sqlalchemy import insert, select

    from likeness import clock
    from likeness.provenance import fingerprint
    from likeness.provenance.stamp import find_provenance, nearest_stored
    from likeness.provenance.tables import PdqChunk, ProvenanceRecord
    from likeness.testing.provenance import placeholder_record

    rng = np.random.default_rng(1)
    start = time.perf_counter()
    now = clock.now()
    for first in range(0, count, 10_000):  # in bulk: the ORM would take minutes
        ids = range(2**32 + first, 2**32 + min(count, first + 10_000))  # past any watermark id
        hashes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in ids]
        with lib.session() as s:
            s.execute(
                insert(ProvenanceRecord),
                [placeholder_record(mark, pdq, now) for mark, pdq in zip(ids, hashes, strict=True)],
            )
            s.execute(
                insert(PdqChunk),
                [
                    dict(chunk=i, value=value, watermark_id=mark)
                    for mark, pdq in zip(ids, hashes, strict=True)
                    for i, value in enumerate(fingerprint.chunks(pdq))
                ],
            )
    print(f"store grown by {count:,} outputs in {time.perf_counter() - start:.0f} s")
    verify_s, index_s, scan_s, agree = [], [], [], 0
    for i, st in enumerate(stamped):
        path = tmp / f"scale{i}.jpg"
        path.write_bytes(encode(decoded(st.data), "JPEG", quality=75))
        start = time.perf_counter()
        report = find_provenance(lib, path)
        verify_s.append(time.perf_counter() - start)
        variants = fingerprint.pdq_variants(decoded(path.read_bytes()))
        with lib.session() as s:
            start = time.perf_counter()
            by_index = nearest_stored(s, variants)
            index_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            every = s.execute(select(ProvenanceRecord.watermark_id, ProvenanceRecord.pdq)).all()
            by_scan = fingerprint.nearest(variants, [(m, bytes(p)) for m, p in every])
            scan_s.append(time.perf_counter() - start)
        agree += by_index == by_scan and report.fingerprint_match == st.watermark_id
    n = len(stamped)
    print(
        f"with {count + n:,} stored: verify {np.median(verify_s) * 1000:.0f} ms an image "
        f"(median; the fingerprint lookup {np.median(index_s) * 1000:.1f} ms through the "
        f"chunk index, {np.median(scan_s) * 1000:.0f} ms reading every stored hash: "
        f"{np.median(scan_s) / np.median(index_s):.0f}x); right and the same answer both "
        f"ways: {agree} of {n}"
    )


if __name__ == "__main__":
    main()
