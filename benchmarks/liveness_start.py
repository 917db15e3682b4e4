"""The liveness start check on every faces-dev portrait that faces the camera.

An enrolment clip must start facing the camera at eye level (``liveness.neutral_pose_problem``).
Pitch from 5 landmarks depends on the person's proportions (``faces.headpose``), so this runs
the start check on each labelled faces-dev photo with one face whose head is turned at most
15 degrees, as enrolment does: the frame is the photo resized to 640 px wide (a webcam frame)
and read by the enrolment detector (``faces.backends.video_frame_backend``), and the calibration
comes from the landmarks ``likeness import`` stores for the person's photos at full size. The
pose is read three ways:

- against the generic face (liveness-3 and before);
- against a face with the person's own nose drop (``PoseCalibration``) from their *other*
  faces-dev photos, all of them whatever their pose, as an enrolment takes it from their
  photo group (``PoseCalibration`` keeps those near facing the camera; liveness-6). People
  with one photo only are calibrated on that photo itself and counted apart (their check is
  trivially centred);
- from the face mesh, fitted in 3D (``liveness.liveness_poses``, liveness-18), which needs no
  calibration.

These portraits are press photos taken at eye level: the target is that none is refused. Prints
each refused photo with its pitch, and the spread of pitches. Then, since a start read as seen
from above is not refused (``Thresholds.from_above_pitch``), how far a look up reads from such a
start: each portrait rendered with the head lowered LOWERED degrees, then looking up UP degrees
from there (``likeness.testing.clips.render_pose``), read with the person's own nose drop and
with the face mesh.

    .venv/bin/python benchmarks/liveness_start.py
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from _common import read_labels, require_faces_dev

WIDTH = 640
MAX_YAW = 15.0
LOWERED, UP = -15.0, 22.0


def main() -> None:
    from likeness.consent.liveness import (
        THRESHOLDS,
        liveness_poses,
        neutral_pose_problem,
    )
    from likeness.faces.backends import load_backend, video_frame_backend
    from likeness.faces.headpose import PoseCalibration, estimate_head_pose, read_pose

    root = require_faces_dev()
    library = load_backend()  # what `likeness import` stored for each photo
    camera = video_frame_backend()  # what enrolment reads from each frame of a clip
    poses = liveness_poses()
    faces: dict[str, list[tuple[str, tuple, tuple[int, int], tuple, Image.Image, object]]]
    faces = defaultdict(list)
    for path, person in sorted(read_labels(root).items()):
        image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        stored = library.analyze(np.asarray(image))
        frame = image.resize((WIDTH, round(image.height * WIDTH / image.width)))
        seen = camera.analyze(np.asarray(frame))
        if len(stored) != 1 or len(seen) != 1:
            continue
        faces[person].append(
            (Path(path).name, stored[0].landmarks, image.size, seen[0].landmarks, frame, seen[0])
        )

    rows = []
    for person, mine in faces.items():
        for i, (name, _, _, landmarks, frame, seen_face) in enumerate(mine):
            size = frame.size
            pose = estimate_head_pose(landmarks, size)
            if abs(pose.yaw) > MAX_YAW:
                continue  # not facing the camera: not tested, but still calibrates
            # All the person's other photos as the library holds them, as enrolment takes
            # their photo group (PoseCalibration keeps those that face the camera closely
            # enough); the photo itself only when it is their one photo.
            others = [(lm, sz) for j, (_, lm, sz, *_) in enumerate(mine) if j != i]
            own = not others
            calibration = PoseCalibration.from_faces(others or [(mine[i][1], mine[i][2])])
            own_pose = read_pose(landmarks, size, calibration)
            mesh_pose = poses(np.asarray(frame), seen_face)
            rows.append(
                (f"{person}/{name}", own, pose, own_pose, frame, landmarks, calibration, mesh_pose)
            )

    print(f"faces-dev portraits facing the camera (yaw <= {MAX_YAW:.0f}), {WIDTH} px wide")
    for label, use in (("generic face", 2), ("person's own nose drop", 3), ("face mesh", 7)):
        refused = [(r, problem) for r in rows if (problem := neutral_pose_problem(r[use]))]
        # The start also asks for a head turned at most neutral_max_yaw; this set goes to 15.
        turned = sum(1 for r, _ in refused if abs(r[use].yaw) > THRESHOLDS.neutral_max_yaw)
        print(
            f"{label}: {len(refused)} of {len(rows)} refused at the start "
            f"({len(refused) - turned} for pitch, {turned} turned past the start's limit)"
        )
        for r, problem in refused:
            own = " (calibrated on itself)" if r[1] and use == 3 else ""
            print(f"    {r[0]}: pitch {r[use].pitch:+.0f}{own}: {problem}")
        pitches = np.array([r[use].pitch for r in rows])
        print(
            f"    pitch min {pitches.min():+.1f}, median {np.median(pitches):+.1f}, "
            f"max {pitches.max():+.1f} (refused above {THRESHOLDS.neutral_max_pitch:+.0f}; "
            f"{int((pitches < THRESHOLDS.from_above_pitch).sum())} read as seen from above, below "
            f"{THRESHOLDS.from_above_pitch:+.0f}: not refused)"
        )
        highest = sorted(rows, key=lambda r: r[use].pitch)[-3:]
        print("    highest: " + ", ".join(f"{r[0]} {r[use].pitch:+.1f}" for r in highest))
    held_out = [r for r in rows if not r[1]]
    print(
        f"calibrated on the person's other photos: {len(held_out)} portraits, "
        f"{sum(1 for r in held_out if neutral_pose_problem(r[3]))} refused; "
        f"on the photo itself (one photo of that person): {len(rows) - len(held_out)}"
    )
    _look_up_from_below(rows, camera)
    _look_up_from_below(rows, camera, mesh=poses)


def _look_up_from_below(rows, camera, mesh=None) -> None:
    """How far looking up reads from a start LOWERED degrees below the photo's own pose,
    read with the person's own nose drop, or with ``mesh`` (the face mesh's poses)."""
    from likeness.consent.liveness import THRESHOLDS
    from likeness.faces.headpose import LandmarkPoses
    from likeness.testing import clips

    read_with = "own nose drop" if mesh is None else "face mesh"
    print(f"looking up {UP:.0f} degrees from a head lowered {-LOWERED:.0f} ({read_with}):")
    ups = []
    for name, _, _, _, frame, landmarks, calibration, _ in rows:
        poses = mesh or LandmarkPoses(calibration)
        pixels = np.asarray(frame)
        drop = clips.own_drop(pixels, landmarks)
        read = []
        for pitch in (LOWERED, LOWERED + UP):
            image = clips.render_pose(pixels, landmarks, 0.0, pitch, drop=drop)
            faces = camera.analyze(image)
            if len(faces) != 1:
                break
            read.append(poses(image, faces[0]).pitch)
        else:
            ups.append((read[1] - read[0], name, read[0]))
            continue
        print(f"    {name}: face lost at pitch {pitch:+.0f}")
    ups.sort()
    short = [u for u in ups if u[0] < THRESHOLDS.tilt_degrees]
    print(
        f"    {len(ups) - len(short)} of {len(ups)} read {THRESHOLDS.tilt_degrees:.0f} degrees "
        "up or more "
        f"(smallest {ups[0][0]:.1f}, median {np.median([u[0] for u in ups]):.1f})"
    )
    for up, name, start in short:
        print(f"    {name}: start read {start:+.1f}, looked up {up:.1f}")


if __name__ == "__main__":
    main()
