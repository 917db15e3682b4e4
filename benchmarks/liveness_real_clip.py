"""The depth check on a real recording of a head turning (not a liveness session).

No real enrolment footage exists here; a public head-pose project's sample clip does: a person
turning their head in front of a camera. This reads its faces and poses, takes the frame
facing the camera most closely as the neutral one and, as ``verdict`` does, the first frame
to reach each 4 degrees of turn past the threshold, and prints each pair's relief and the
median a session would be judged by. The clip is not a session (no prompts, and the head also
moves across the frame), so only the depth measure is tried on it.

    .venv/bin/python benchmarks/liveness_real_clip.py VIDEO [--scale 2]

Measured on ``data/orlando_bloom.avi`` of github.com/SueGreen/face-pose-estimation (320x240,
25 fps, faces about 100 px wide): see the README's benchmark table.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    import av
    import cv2

    from likeness.consent.depth import turn_depth
    from likeness.consent.liveness import THRESHOLDS
    from likeness.consent.liveness.reader import BEYOND, FaceRegion, depth_band
    from likeness.faces.backends import video_frame_backend
    from likeness.faces.headpose import estimate_head_pose

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("video")
    parser.add_argument("--scale", type=float, default=1.0, help="upscale small frames")
    args = parser.parse_args()
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
    faces = []
    for i, frame in enumerate(frames):
        found = backend.analyze(frame)
        if len(found) == 1:
            yaw = estimate_head_pose(found[0].landmarks, frame.shape[1::-1]).yaw
            faces.append((i, found[0].box, yaw))
    print(f"{len(frames)} frames, {len(faces)} with one face")
    if not faces:
        return
    n, box, yaw0 = min(faces, key=lambda f: abs(f[2]))
    width = box[2] - box[0]
    region = FaceRegion.around(box, frames[0].shape)
    start, face_box = region.crop(frames[n]), region.box_in(box)
    print(f"neutral frame {n}: yaw {yaw0:+.0f}, face {width} px wide")
    bands: set[int] = set()
    reliefs = []
    for i, b, yaw in faces:
        turn = yaw - yaw0
        band = depth_band(turn, THRESHOLDS)
        if abs(turn) < THRESHOLDS.turn_degrees or band in (BEYOND, *bands) or not region.holds(b):
            continue
        bands.add(band)
        turned = region.crop(frames[i])
        par, r = turn_depth(start, turned, face_box)
        reliefs.append(r)
        print(f"  frame {i}: turned {turn:+.0f} degrees, relief {r:.2f} px, parallax {par:.2f} px")
    if reliefs:
        print(
            f"median relief {np.median(reliefs):.2f} px over {len(reliefs)} turned frames "
            f"(threshold {THRESHOLDS.relief_min_px}; faces under {THRESHOLDS.min_face_px} px "
            "are refused before depth is measured)"
        )


if __name__ == "__main__":
    main()
