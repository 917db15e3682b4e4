"""How much a still head's pose reading moves from frame to frame: landmarks in whole pixels
against landmarks finer than a pixel (``DetectionSettings.landmark_upscale``).

Liveness reads every pose from the 5 landmarks (``faces.headpose``). dlib's shape predictor
gives whole pixels, and one pixel of the nose point is about 3 degrees of a 180 px face's
yaw: a bearded head standing still read 0 to 10 degrees turned from frame to frame, and
honest sessions were refused. For each faces-dev photo that faces the camera and each head
model, the head is rendered still, facing the camera and turned 13 degrees (a turn's depth
range, ``Thresholds.depth_max_degrees``), shot through the camera (sensor noise and H.264,
each frame with its own noise) and read by both backends, which differ only in that setting.
Printed per head: the standard deviation of yaw and pitch over the frames of a pose (median
and largest over the photos), and how many frames read a still head facing the camera as
turned past the centre's 7 degrees from the median of its own frames.

    .venv/bin/python benchmarks/pose_jitter.py [--heads generic canonical+beard ...]
        [--frames 30] [--limit N] [--face-px 180]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from _common import one_face_pose, read_labels, require_faces_dev

POSES = ((0.0, 0.0), (13.0, 0.0))


def main() -> None:
    from likeness.consent.liveness import THRESHOLDS, neutral_pose_problem
    from likeness.faces.dlib_backend import DlibFaceBackend
    from likeness.faces.headpose import estimate_head_pose
    from likeness.testing import clips
    from likeness.testing.camera import Camera
    from likeness.testing.heads import HEADS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    parser.add_argument("--frames", type=int, default=30, help="frames of each still pose")
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--face-px", type=int, default=180)
    args = parser.parse_args()
    if args.frames < 2:
        parser.error("--frames must be at least 2: a spread needs two frames of a pose")

    fine = DlibFaceBackend.for_video_frames()
    whole = DlibFaceBackend(dataclasses.replace(fine.settings, landmark_upscale=1))
    readers = {"whole pixels": whole, f"x{fine.settings.landmark_upscale}": fine}
    camera = Camera(noise=3.0, h264_crf=28)
    photos = []
    for path, person in sorted(read_labels(require_faces_dev()).items())[: args.limit]:
        try:
            pixels, face = clips.enrolment_sized(Image.open(path), fine, args.face_px)
        except ValueError:
            continue
        pose = estimate_head_pose(face.landmarks, pixels.shape[1::-1])
        if neutral_pose_problem(pose) is None:
            photos.append((f"{person}/{Path(path).name}", pixels, face, -pose.yaw))
    print(
        f"{len(photos)} faces-dev photos facing the camera, faces {args.face_px} px, "
        f"{args.frames} frames a pose through sensor noise 3 + H.264 CRF 28"
    )
    print(
        f"{'head':<24}{'landmarks':<14}{'pose':>6}{'yaw sd median/max':>20}"
        f"{'pitch sd median/max':>22}{'frames read turned':>20}"
    )
    for head in args.heads:
        # {reader: {pose: [(yaw sd, pitch sd)]}}, and frames of a still face read turned.
        spread: dict[str, dict[tuple[float, float], list[tuple[float, float]]]] = {
            r: {p: [] for p in POSES} for r in readers
        }
        turned = dict.fromkeys(readers, 0)
        frames_read = 0
        for _name, pixels, face, facing in photos:
            render = HEADS[head](pixels, face.landmarks)
            for yaw, pitch in POSES:
                still = render(yaw + facing, pitch)
                shot = [f for _, f in camera.shoot([(i / 15, still) for i in range(args.frames)])]
                for reader_name, reader in readers.items():
                    read = [
                        (p.yaw, p.pitch)
                        for p in (one_face_pose(reader, frame) for frame in shot)
                        if p is not None
                    ]
                    if len(read) < 2:
                        continue
                    poses = np.array(read)
                    spread[reader_name][(yaw, pitch)].append(tuple(poses.std(axis=0)))
                    if (yaw, pitch) == (0.0, 0.0):
                        off = np.abs(poses - np.median(poses, axis=0)).max(axis=1)
                        turned[reader_name] += int((off >= THRESHOLDS.centre_degrees).sum())
                        if reader is fine:
                            frames_read += len(read)
        for reader_name in readers:
            for pose in POSES:
                sds = np.array(spread[reader_name][pose])
                if not len(sds):
                    continue
                yaw_sd, pitch_sd = sds[:, 0], sds[:, 1]
                still = f"{turned[reader_name]} of {frames_read}" if pose == (0.0, 0.0) else ""
                print(
                    f"{head:<24}{reader_name:<14}{pose[0]:>6.0f}"
                    f"{np.median(yaw_sd):>11.2f} / {yaw_sd.max():<6.2f}"
                    f"{np.median(pitch_sd):>13.2f} / {pitch_sd.max():<6.2f}{still:>20}"
                )


if __name__ == "__main__":
    main()
