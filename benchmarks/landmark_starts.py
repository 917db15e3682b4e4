"""Head pose jitter of a still head through a webcam, by how many boxes landmarks start from.

The liveness check reads each frame's head pose from five landmarks (``faces.headpose``),
which dlib's shape predictor refines from a mean shape placed by the face's box. Behind
glasses it ends on the eye corners or on the rims depending on where it starts and on the
frame's noise: a still head then reads a few degrees of pose apart from frame to frame, and
now and then a single frame jumps 8 to 10 degrees, which the session reads as a pose held
(a look up off its clock: ``benchmarks/liveness.py --live --head ellipsoid+hair+glasses``,
``amy_adams/1``). ``DetectionSettings.landmark_starts`` reads the landmarks from several
starting boxes (``dlib_backend.LANDMARK_STARTS``) and keeps each coordinate's median.

For each faces-dev photo facing the camera (180 px, as ``liveness.py`` sizes them), each head
model and each pose (facing the camera, turned 20 degrees each way, looking up 22), the same
head is shot ``--frames`` times through the live camera (sensor noise 3, JPEG 90: fresh noise
each frame) and read by the live check's backend (``faces.backends.tracking`` of
``video_frame_backend``) with 1 start (the baseline, as before) and with each count in
``--starts``. Printed per head and count: the spread of yaw and pitch about the pose's median
(standard deviation), the largest deviation, the frames deviating more than ``--jump``
degrees (a session's turn thresholds are 9 and 10 degrees from the neutral pose), and the
time a frame takes (the whole ``analyze``, detection and embedding included).

    .venv/bin/python benchmarks/landmark_starts.py [--limit 6] [--frames 30]
        [--heads generic canonical+glasses ...] [--starts 7 13] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import read_labels, require_faces_dev

POSES = {
    "facing": (0.0, 0.0),
    "left 20": (-20.0, 0.0),
    "right 20": (20.0, 0.0),
    "up 22": (0.0, 22.0),
}


def _shoot(job: tuple) -> list[tuple]:
    """(head, starts, pose, [(yaw, pitch)...], seconds a frame) for one photo and head."""
    import torch

    from likeness.faces import dlib_backend
    from likeness.faces.backends import tracking, video_frame_backend
    from likeness.faces.detection import DetectionSettings
    from likeness.faces.headpose import estimate_head_pose
    from likeness.testing import clips
    from likeness.testing.camera import Camera
    from likeness.testing.heads import HEADS

    torch.set_num_threads(1)  # one process per core
    path, head, counts, frames = job
    backend = video_frame_backend()
    default = backend.settings
    try:
        pixels, face, _ = clips.sized_as_read(Image.open(path), backend, HEADS[head], 0.0, 180)
    except ValueError:
        return []
    render = HEADS[head](pixels, face.landmarks)
    rows = []
    for pose, (yaw, pitch) in POSES.items():
        image = render(yaw, pitch)
        for starts in counts:
            backend.settings = DetectionSettings(**{**vars(default), "landmark_starts": starts})
            assert starts <= len(dlib_backend.LANDMARK_STARTS)
            shoot, reader = Camera(noise=3.0, jpeg=90, seed=1).live(), tracking(backend)
            poses, spent = [], 0.0
            for _ in range(frames):
                frame = shoot(image)
                began = time.perf_counter()
                faces = reader.analyze(frame)
                spent += time.perf_counter() - began
                if len(faces) == 1:
                    read = estimate_head_pose(faces[0].landmarks, image.shape[1::-1])
                    poses.append((read.yaw, read.pitch))
            rows.append((head, starts, pose, poses, spent / frames))
    backend.settings = default
    return rows


def main() -> None:
    from likeness.faces import dlib_backend
    from likeness.testing.heads import HEADS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=6, help="faces-dev photos (first N)")
    parser.add_argument("--frames", type=int, default=30, help="frames a pose")
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    most = len(dlib_backend.LANDMARK_STARTS)
    parser.add_argument(
        "--starts", nargs="+", type=int, default=[7, most], help=f"counts to try (1 to {most})"
    )
    parser.add_argument("--jump", type=float, default=6.0, help="degrees off the median")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if any(not 1 <= s <= most for s in args.starts):
        parser.error(f"--starts: 1 to {most}")
    counts = [1] + [s for s in args.starts if s != 1]
    photos = sorted(read_labels(require_faces_dev()))[: args.limit]
    jobs = [(path, head, counts, args.frames) for path in photos for head in args.heads]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        rows = [row for rows in pool.imap(_shoot, jobs) for row in rows]
    print(
        f"{len(photos)} faces-dev photos ({', '.join(Path(p).parent.name for p in photos)}), "
        f"{args.frames} frames a pose ({', '.join(POSES)}), noise 3 + JPEG 90, 180 px"
    )
    print(
        f"{'head':24} {'starts':>6} {'yaw sd':>7} {'pitch sd':>8} {'largest':>8} "
        f"{'jumps':>6} {'frames':>7} {'ms/frame':>9}"
    )
    for head in args.heads:
        for starts in counts:
            mine = [r for r in rows if r[0] == head and r[1] == starts and r[3]]
            if not mine:
                continue
            offs = np.concatenate(
                [np.asarray(r[3]) - np.median(np.asarray(r[3]), axis=0) for r in mine]
            )
            largest = float(np.abs(offs).max())
            jumps = int((np.abs(offs) > args.jump).any(axis=1).sum())
            ms = 1000 * float(np.mean([r[4] for r in mine]))
            print(
                f"{head:24} {starts:>6} {offs[:, 0].std():>7.2f} {offs[:, 1].std():>8.2f} "
                f"{largest:>8.1f} {jumps:>6} {len(offs):>7} {ms:>9.1f}"
            )
    print(
        f"yaw sd, pitch sd: degrees about each pose's median; largest: the largest deviation; "
        f"jumps: frames more than {args.jump:g} degrees off in yaw or pitch"
    )


if __name__ == "__main__":
    main()
