"""The depth check on a real recording of a head turning (not a liveness session).

No real enrolment footage exists here; a public head-pose project's sample clip does: a person
turning their head in front of a camera. This reads its faces and poses, takes the frame
facing the camera most closely as the neutral one and, as a session's reader does
(``liveness.reader.depth_band``), the first frame in each band of turn between the turn
threshold and the depth range's end, on the way round and on the way back of each turn (a
run of frames turned one way past the threshold; its most turned frame divides the two),
and prints each pair's relief and the median a session would be judged by. The clip is not a
session (no prompts, and the head also moves across the frame), so only the depth measure
is tried on it. ``--every-band`` also measures frames past the depth range (as liveness-13
did, the first frame in each band up to the turn's peak, all turns together).

    .venv/bin/python benchmarks/liveness_real_clip.py VIDEO [--scale 2] [--every-band]
        [--neutral-by pose|yaw] [--poses mesh|landmarks]

Poses are read as a session reads them (``reader.liveness_poses``: MediaPipe's face mesh,
liveness-18), or from dlib's 5 landmarks with ``--poses landmarks`` (up to liveness-17). It
also prints how far the read pose moves from one frame to the next: the clip's head turns
smoothly, so large jumps are the reader's noise.

Measured on two public clips, neither copied into this repository (see the README's
benchmark table): ``data/orlando_bloom.avi`` of github.com/SueGreen/face-pose-estimation
(320x240, 25 fps, faces about 100 px wide) and ``sample.gif`` of
github.com/shenasa-ai/head-pose-estimation (400x220, 10 fps, a 256-colour GIF, faces about 90
px wide; a woman wearing glasses turning, looking up and tilting her head). Both need
``--scale 2`` to reach a session's face size.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import astuple

import numpy as np


def main() -> None:
    import av
    import cv2

    from likeness.consent.depth import motion_directions, turn_depth
    from likeness.consent.liveness import THRESHOLDS
    from likeness.consent.liveness.reader import FaceRegion, liveness_poses, relative
    from likeness.faces.backends import video_frame_backend
    from likeness.faces.headpose import LandmarkPoses, PoseReader

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("video")
    parser.add_argument("--scale", type=float, default=1.0, help="upscale small frames")
    parser.add_argument(
        "--every-band", action="store_true", help="also past the depth range (liveness-13)"
    )
    parser.add_argument(
        "--neutral-by",
        choices=["pose", "yaw"],
        default="pose",
        help="the neutral frame: closest to facing in yaw, pitch and roll (as a session's), "
        "or in yaw alone (on sample.gif, a frame with the head tilted some 20 degrees sideways)",
    )
    parser.add_argument(
        "--poses",
        choices=["mesh", "landmarks"],
        default="mesh",
        help="read head poses from the face mesh (as sessions do) or dlib's 5 landmarks",
    )
    args = parser.parse_args()
    read_pose: PoseReader = LandmarkPoses() if args.poses == "landmarks" else liveness_poses()
    try:
        frames = [f.to_ndarray(format="rgb24") for f in av.open(args.video).decode(video=0)]
    except (OSError, av.error.FFmpegError) as exc:
        raise SystemExit(f"cannot read {args.video}: {exc}") from None
    if args.scale != 1.0:
        frames = [
            cv2.resize(f, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_CUBIC)
            for f in frames
        ]
    backend = video_frame_backend()
    faces, readings = [], {}
    crowded = 0
    for i, frame in enumerate(frames):
        found = backend.analyze(frame)
        if not found:
            continue
        # The person interviewed is the largest face; people pass behind them. Their poses
        # say how steadily the reader follows the head, but only frames with one face are
        # measured for depth, as a session skips the others.
        crowded += len(found) > 1
        face = max(found, key=lambda f: f.box[2] - f.box[0])
        readings[i] = read_pose.read(frame, face)
        if len(found) == 1:
            faces.append((i, face.box))
    poses = {i: r.pose for i, r in readings.items()}
    print(
        f"{len(frames)} frames, {len(poses)} with a face, {crowded} of them with others "
        f"behind (the largest is read); poses from the {read_pose.name}"
    )
    if not faces:
        return
    steps = [
        max(abs(poses[i + 1].yaw - p.yaw), abs(poses[i + 1].pitch - p.pitch))
        for i, p in poses.items()
        if i + 1 in poses
    ]
    if steps:
        print(
            f"pose change from frame to frame (degrees, the larger of yaw and pitch): median "
            f"{np.median(steps):.1f}, 90th percentile {np.percentile(steps, 90):.1f}, "
            f"largest {max(steps):.1f}; yaw read {min(p.yaw for p in poses.values()):+.0f} "
            f"to {max(p.yaw for p in poses.values()):+.0f}"
        )

    # The frame closest to facing the camera, roll included, as a session's neutral frame is
    # the lead-in's closest to its median pose, which does not roll. (A head tilted sideways
    # in the neutral frame and level in the turned ones rotated every tracked window by the
    # difference, which the tracker did not follow before liveness-24: ``depth.rolled_back``.)
    def off_facing(face: tuple) -> float:
        pose = poses[face[0]]
        return abs(pose.yaw) if args.neutral_by == "yaw" else math.hypot(*astuple(pose))

    n, box = min(faces, key=off_facing)
    width = box[2] - box[0]
    region = FaceRegion.around(box, frames[0].shape)
    # Depth is measured in the box the pose reader gives the neutral face (liveness-22).
    start, face_box = region.crop(frames[n]), region.box_in(readings[n].box)
    p0 = poses[n]
    print(
        f"neutral frame {n}: yaw {p0.yaw:+.0f}, pitch {p0.pitch:+.0f}, roll {p0.roll:+.0f}, "
        f"face {width} px wide"
    )
    # Turns read as the check reads them, in the neutral head's frame (liveness-26).
    kept = _depth_frames(
        [(i, b, relative(poses[i], p0).yaw) for i, b in faces if region.holds(b)], args.every_band
    )
    reliefs = []
    for i, turn in kept:
        par, r = turn_depth(
            start,
            region.crop(frames[i]),
            face_box,
            motion_directions(poses[n], poses[i]),
            poses[i].roll - p0.roll,
        )
        reliefs.append(r)
        print(
            f"  frame {i}: turned {turn:+.0f} degrees (roll {poses[i].roll - p0.roll:+.0f}), "
            f"relief {r:.2f} px, parallax {par:.2f} px"
        )
    if reliefs:
        print(
            f"median relief {np.median(reliefs):.2f} px over {len(reliefs)} turned frames "
            f"(threshold {THRESHOLDS.relief_min_px}; faces under {THRESHOLDS.min_face_px} px "
            "are refused before depth is measured)"
        )


def _depth_frames(
    faces: list[tuple[int, tuple, float]], every_band: bool
) -> list[tuple[int, float]]:
    """(frame index, turn) of the frames a session would measure: per turn (a run of frames
    turned one way past the threshold) and per half of it (before and after its most turned
    frame), the first in each ``depth_band``; with ``every_band``, liveness-13's choice."""
    from likeness.consent.liveness import THRESHOLDS
    from likeness.consent.liveness.reader import BEYOND, depth_band

    turned = [(i, turn) for i, _, turn in faces if abs(turn) >= THRESHOLDS.turn_degrees]
    if every_band:
        seen: set[int] = set()
        out = []
        for i, turn in turned:
            band = int((abs(turn) - THRESHOLDS.turn_degrees) // 4.0)
            if band not in seen:
                seen.add(band)
                out.append((i, turn))
        return out
    runs: list[list[tuple[int, float]]] = []
    for i, turn in turned:
        previous = runs[-1][-1] if runs else None
        same = previous is not None and np.sign(previous[1]) == np.sign(turn)
        if same and all(
            abs(t) >= THRESHOLDS.turn_degrees for j, _, t in faces if previous[0] < j < i
        ):
            runs[-1].append((i, turn))
        else:
            runs.append([(i, turn)])
    out = []
    for run in runs:
        peak = max(range(len(run)), key=lambda k: abs(run[k][1]))
        keys: set[tuple[bool, int]] = set()
        for k, (i, turn) in enumerate(run):
            key = (k > peak, depth_band(turn, THRESHOLDS))
            if key[1] != BEYOND and key not in keys:
                keys.add(key)
                out.append((i, turn))
    return sorted(out)


if __name__ == "__main__":
    main()
