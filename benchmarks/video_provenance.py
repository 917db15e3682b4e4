"""Video provenance through what video sites and people do to a clip: for each stamped clip,
is the right manifest found (by watermark, by fingerprint, by either) after each edit, and is
a wrong one ever named? Unrelated clips must match nothing.

Clips are shaped like AnimateDiff's: 512x512 (and 768x512 landscape), 24 frames at 8 fps
(3 s), made by panning and zooming slowly across real photos (faces-dev's, and scikit-image's
samples when faces-dev is absent). Each is stamped by ``stamp_clip`` (watermark in every
frame, per-frame PDQ, H.264 at CRF 17, C2PA), then copied as:

- crf28: re-encoded as H.264 at CRF 28 (what video sites do; the manifest is lost);
- 480p: scaled to 480 px high, H.264 CRF 23;
- trim1s: the first second cut, re-encoded at CRF 23;
- gif: an animated GIF (256 colours a frame);
- webp: an animated WebP at quality 75;
- crf28+480p+trim: all three at once.

The targets (issue 27): the right manifest for >= 95% of clips after each edit, 0 wrong.

    .venv/bin/python benchmarks/video_provenance.py [--clips 20] [--unrelated 20]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from _common import FACES_DEV

SIZES = ((512, 512), (768, 512))
FPS = 8
FRAMES = 24


def _photos() -> list[np.ndarray]:
    from PIL import Image

    found = sorted(FACES_DEV.glob("people/*/*")) + sorted(FACES_DEV.glob("groups/*"))
    if found:
        return [np.asarray(Image.open(p).convert("RGB")) for p in found]
    from skimage import data

    return [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]


def make_clip(photo: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A slow pan and zoom across ``photo``: (FRAMES, h, w, 3) uint8."""
    import cv2

    w, h = size
    ph, pw = photo.shape[:2]
    scale = max(w / pw, h / ph) * rng.uniform(1.15, 1.4)
    big = cv2.resize(photo, (round(pw * scale) + 2, round(ph * scale) + 2))
    bh, bw = big.shape[:2]
    x0, y0 = rng.uniform(0, bw - w), rng.uniform(0, bh - h)
    x1, y1 = rng.uniform(0, bw - w), rng.uniform(0, bh - h)
    frames = []
    for i in range(FRAMES):
        t = i / (FRAMES - 1)
        x, y = round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0))
        frames.append(big[y : y + h, x : x + w])
    return np.stack(frames)


def _h264(frames: list[np.ndarray], crf: int, size: tuple[int, int] | None = None) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"crf": str(crf)})
        h, w = frames[0].shape[:2]
        stream.width, stream.height = size or (w // 2 * 2, h // 2 * 2)
        stream.pix_fmt = "yuv420p"
        for f in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            if size is not None:
                frame = frame.reformat(width=size[0], height=size[1])
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


def _animated(frames: list[np.ndarray], fmt: str) -> bytes:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    options = {"quality": 75} if fmt == "WEBP" else {}
    images[0].save(
        buf, fmt, save_all=True, append_images=images[1:], duration=125, loop=0, **options
    )
    return buf.getvalue()


def copies(frames: list[np.ndarray]) -> dict[str, tuple[str, bytes]]:
    """{edit: (suffix, file bytes)} of a stamped clip's decoded frames."""
    h, w = frames[0].shape[:2]
    p480 = (round(w * 480 / h) // 2 * 2, 480)
    return {
        "crf28": (".mp4", _h264(frames, 28)),
        "480p": (".mp4", _h264(frames, 23, p480)),
        "trim1s": (".mp4", _h264(frames[FPS:], 23)),
        "gif": (".gif", _animated(frames, "GIF")),
        "webp": (".webp", _animated(frames, "WEBP")),
        "crf28+480p+trim": (".mp4", _h264(frames[FPS:], 28, p480)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--unrelated", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from likeness.provenance.clips import read_clip_frames, stamp_clip
    from likeness.provenance.credentials import GenerationRecord
    from likeness.provenance.stamp import find_provenance
    from likeness.store import Library

    rng = np.random.default_rng(args.seed)
    photos = _photos()
    order = rng.permutation(len(photos))
    # Unrelated clips pan across photos no stamped clip shows (a second pan across the same
    # photo is the same picture, not an unrelated one).
    half = len(photos) // 2
    stamped_photos, other_photos = order[:half], order[half:]
    record = GenerationRecord("clip.mp4", "benchmark", "0" * 64)
    found: dict[str, Counter] = {}
    stamp_s, verify_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lib = Library.open(tmp / "home")
        for i in range(args.clips):
            photo = photos[stamped_photos[i % len(stamped_photos)]]
            clip = make_clip(photo, SIZES[i % len(SIZES)], rng)
            started = time.perf_counter()
            stamped = stamp_clip(lib, clip, FPS, "mp4", record)
            stamp_s.append((time.perf_counter() - started) / FRAMES)
            original = tmp / f"clip-{i}.mp4"
            original.write_bytes(stamped.data)
            frames = read_clip_frames(original)
            for edit, (suffix, data) in copies(frames).items():
                path = tmp / f"copy-{i}-{edit}{suffix}"
                path.write_bytes(data)
                started = time.perf_counter()
                report = find_provenance(lib, path)
                verify_s.append(time.perf_counter() - started)
                tally = found.setdefault(edit, Counter())
                for key, value in (
                    ("watermark", report.watermark_id),
                    ("fingerprint", report.fingerprint_match),
                ):
                    if value == stamped.watermark_id:
                        tally[key] += 1
                    elif value is not None:
                        tally[f"{key} wrong"] += 1
                tally["either"] += stamped.watermark_id in report.keys
                tally["wrong"] += any(k != stamped.watermark_id for k in report.keys)
                path.unlink()
        false: Counter = Counter()
        for i in range(args.unrelated):
            photo = photos[other_photos[i % len(other_photos)]]
            clip = make_clip(photo, SIZES[i % len(SIZES)], np.random.default_rng(10**6 + i))
            path = tmp / f"unrelated-{i}.mp4"
            path.write_bytes(_h264(list(clip), 23))
            report = find_provenance(lib, path)
            false["watermark"] += report.watermark_id is not None
            false["fingerprint"] += report.fingerprint_match is not None

    n = args.clips
    print(
        f"{n} stamped clips ({FRAMES} frames at {FPS} fps, 512x512 and 768x512, pans across "
        f"{'faces-dev' if FACES_DEV.exists() else 'scikit-image'} photos), seed {args.seed}"
    )
    print(f"{'edit':18} {'watermark':>10} {'fingerprint':>12} {'either':>8} {'wrong':>6}")
    for edit, tally in found.items():
        wm, fp, either = (100 * tally[k] / n for k in ("watermark", "fingerprint", "either"))
        print(f"{edit:18} {wm:9.0f}% {fp:11.0f}% {either:7.0f}% {tally['wrong']:6d}")
    print(
        f"unrelated clips (pans across {len(other_photos)} photos no stamped clip shows) named "
        f"as a stored one: by watermark {false['watermark']}, by fingerprint "
        f"{false['fingerprint']}, of {args.unrelated}"
    )
    print(
        f"(stamped clips pan across {len(stamped_photos)} photos: two clips of one photo are "
        "told apart by their watermark; a wrong key would count above)"
    )
    print(
        f"stamping {1000 * float(np.median(stamp_s)):.1f} ms a frame (median); verifying a "
        f"copy {1000 * float(np.median(verify_s)):.0f} ms (median)"
    )
    print("target: either >= 95% after every edit, 0 wrong, 0 unrelated named")


if __name__ == "__main__":
    main()
