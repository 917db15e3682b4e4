"""How much a still head's pose reading moves from frame to frame: landmarks in whole pixels
against landmarks finer than a pixel (``DetectionSettings.landmark_upscale``).

Liveness reads every pose from the 5 landmarks (``faces.headpose``). dlib's shape predictor
gives whole pixels, and one pixel of the nose point is about 3 degrees of a 180 px face's
yaw: a bearded head standing still read 0 to 10 degrees turned from frame to frame, and
honest sessions were refused. Behind glasses it ends on the eye corners or on the rims,
from frame to frame: a still head read now and then 8 to 10 degrees up, a look up off the
session's clock (``benchmarks/liveness.py --live --head ellipsoid+hair+glasses``,
``amy_adams/1``). For each faces-dev photo that faces the camera and each head model, the
head is rendered still, facing the camera, turned 13 degrees (a turn's depth range,
``Thresholds.depth_max_degrees``) and looking up 22 (a session's look up), shot through the
camera (sensor noise and H.264, each frame with its own noise; ``--live``: noise and JPEG 90
frame by frame, read by the live check's tracking backend, as a live session reads the page's
frames) and read by both backends, which differ only in that setting, and by MediaPipe's face
mesh about the finer backend's box (``headpose.MeshPoses``: since liveness-20 in a crop sized
by the face's width), fitted in 3D (``headpose.mesh_head_pose``; absent when the mesh is not
installed). Printed per head: the standard deviation of yaw and pitch over the
frames of a pose (median and largest over the photos), the frames of a still head facing the
camera read turned past the centre's 7 degrees from the median of its own frames, the frames
of any pose read more than 6 degrees off its median (yaw or pitch: a session's turns are 9
and 10 degrees), and how far the turn and the look up read from the head facing the camera
(median and least over the photos, of each photo's medians: rendered 13 and 22 degrees).

    .venv/bin/python benchmarks/pose_jitter.py [--heads generic canonical+beard ...]
        [--frames 30] [--limit N] [--face-px 180] [--live]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from _common import one_face_pose, read_labels, require_faces_dev

POSES = ((0.0, 0.0), (13.0, 0.0), (0.0, 22.0))
#: A frame read this many degrees off its pose's median is a jump (a session's turn
#: thresholds are 9 and 10 degrees).
JUMP_DEGREES = 6.0


def main() -> None:
    from likeness.consent.liveness import THRESHOLDS, neutral_pose_problem
    from likeness.faces import face_mesh
    from likeness.faces.backends import tracking
    from likeness.faces.dlib_backend import DlibFaceBackend
    from likeness.faces.headpose import LandmarkPoses, MeshPoses
    from likeness.testing import clips
    from likeness.testing.camera import Camera
    from likeness.testing.heads import HEADS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    parser.add_argument("--frames", type=int, default=30, help="frames of each still pose")
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--face-px", type=int, default=180)
    parser.add_argument(
        "--live",
        action="store_true",
        help="noise and JPEG 90 frame by frame, read by the tracking backend (a live session)",
    )
    args = parser.parse_args()
    if args.frames < 2:
        parser.error("--frames must be at least 2: a spread needs two frames of a pose")

    fine = DlibFaceBackend.for_video_frames()
    whole = DlibFaceBackend(dataclasses.replace(fine.settings, landmark_upscale=1))
    # {name: (backend, what reads the pose of the face it finds)}
    landmarks = LandmarkPoses()
    readers = {
        "whole pixels": (whole, landmarks),
        f"x{fine.settings.landmark_upscale}": (fine, landmarks),
    }
    if (missing := face_mesh.unavailable_reason()) is None:
        readers["mesh, 3D"] = (fine, MeshPoses())
    else:
        print(f"the face mesh is not read: {missing}")
    camera = Camera(noise=3.0, jpeg=90) if args.live else Camera(noise=3.0, h264_crf=28)
    photos = []
    for path, person in sorted(read_labels(require_faces_dev()).items())[: args.limit]:
        try:
            pixels, face = clips.enrolment_sized(Image.open(path), fine, args.face_px)
        except ValueError:
            continue
        pose = landmarks(pixels, face)
        if neutral_pose_problem(pose) is None:
            photos.append((f"{person}/{Path(path).name}", pixels, face, -pose.yaw))
    print(
        f"{len(photos)} faces-dev photos facing the camera, faces {args.face_px} px, "
        f"{args.frames} frames a pose through {camera}"
        + (", frame by frame through the tracking backend" if args.live else "")
    )
    print(
        f"{'head':<24}{'landmarks':<18}{'pose':>9}{'yaw sd median/max':>20}"
        f"{'pitch sd median/max':>22}{'read turned':>14}{'jumps':>12}{'as read med/min':>17}"
    )
    for head in args.heads:
        # {reader: {pose: [(yaw sd, pitch sd)]}}, and frames of a still face read turned.
        spread: dict[str, dict[tuple[float, float], list[tuple[float, float]]]] = {
            r: {p: [] for p in POSES} for r in readers
        }
        turned = dict.fromkeys(readers, 0)
        jumps = {r: dict.fromkeys(POSES, 0) for r in readers}
        frames_read = {r: dict.fromkeys(POSES, 0) for r in readers}
        # {reader: {pose: [each photo's median pose read minus its median facing the camera]}}
        as_read: dict[str, dict[tuple[float, float], list[float]]] = {
            r: {p: [] for p in POSES} for r in readers
        }
        for _name, pixels, face, facing in photos:
            render = HEADS[head](pixels, face.landmarks)
            medians: dict[str, dict[tuple[float, float], np.ndarray]] = {r: {} for r in readers}
            for yaw, pitch in POSES:
                still = render(yaw + facing, pitch)
                if args.live:
                    live = camera.live()
                    shot = [live(still) for _ in range(args.frames)]
                else:
                    shot = [
                        f for _, f in camera.shoot([(i / 15, still) for i in range(args.frames)])
                    ]
                for reader_name, (reader, poses) in readers.items():
                    looking = tracking(reader) if args.live else reader  # one per clip
                    read = [
                        (p.yaw, p.pitch)
                        for p in (one_face_pose(looking, frame, poses) for frame in shot)
                        if p is not None
                    ]
                    if len(read) < 2:
                        continue
                    poses = np.array(read)
                    medians[reader_name][(yaw, pitch)] = np.median(poses, axis=0)
                    spread[reader_name][(yaw, pitch)].append(tuple(poses.std(axis=0)))
                    off = np.abs(poses - np.median(poses, axis=0)).max(axis=1)
                    jumps[reader_name][(yaw, pitch)] += int((off > JUMP_DEGREES).sum())
                    if (yaw, pitch) == (0.0, 0.0):
                        turned[reader_name] += int((off >= THRESHOLDS.centre_degrees).sum())
                    frames_read[reader_name][(yaw, pitch)] += len(read)
            for reader_name, read_at in medians.items():
                for pose in POSES[1:]:
                    if pose in read_at and POSES[0] in read_at:
                        axis = 0 if pose[0] else 1  # a turn's yaw, a look up's pitch
                        moved = read_at[pose][axis] - read_at[POSES[0]][axis]
                        as_read[reader_name][pose].append(float(moved))
        for reader_name in readers:
            for pose in POSES:
                sds = np.array(spread[reader_name][pose])
                if not len(sds):
                    continue
                yaw_sd, pitch_sd = sds[:, 0], sds[:, 1]
                of = f" of {frames_read[reader_name][pose]}"
                still = f"{turned[reader_name]}{of}" if pose == (0.0, 0.0) else ""
                moved = as_read[reader_name][pose]
                read_as = f"{np.median(moved):.1f} / {min(moved):.1f}" if moved else ""
                print(
                    f"{head:<24}{reader_name:<18}{pose[0]:>4.0f}/{pose[1]:<4.0f}"
                    f"{np.median(yaw_sd):>11.2f} / {yaw_sd.max():<6.2f}"
                    f"{np.median(pitch_sd):>13.2f} / {pitch_sd.max():<6.2f}{still:>14}"
                    f"{str(jumps[reader_name][pose]) + of:>12}{read_as:>17}"
                )


if __name__ == "__main__":
    main()
