"""How far the face mesh reads rendered turns and look ups, by the crop it is read in.

Liveness reads head poses from MediaPipe's face mesh (``headpose.MeshPoses``). Up to
liveness-19 the mesh was read in 1.5 times HOG's box, which comes in pyramid steps 1.2 apart,
and one face's box could drop a step mid-session: the mesh then read a look up 4 to 8
degrees short. Liveness-20 sized the crop by the face's width (``headpose.MESH_BOX_IN_WIDTHS``
fit widths, read again until the width settles), still centred on the box; since
liveness-21 it is centred on the mesh's own fit too, and since liveness-25 turned upright
by the face's eye line. Crops compared: HOG's box; liveness-20's (1.0 fit widths, centred
on the box, level); liveness-24's (centred on the fit, level); and ``--sizes`` fit widths
centred on the fit and turned upright (liveness-25's at 1.0).

For each head model, each rendered pose and each crop it prints the least, median and
largest reading over the faces-dev photos that face the camera (sized to 180 px as the check
reads them, each pose against the photo's own facing frame): the least is the honest margin,
against the session's bars of 10 degrees of turn and 9 of look up. Then, per head and crop,
how far one frame's reading moves when the detector's box steps: each posed frame read from
HOG's box and from boxes a pyramid step smaller and larger, their centres moved by
``SHIFTS`` face widths as a step moves them (the range of the readings, median, 90th
percentile and largest over frames). Clean renders, one frame a pose.

    .venv/bin/python benchmarks/mesh_crop.py [--heads ellipsoid canonical generic]
        [--sizes 1.0 1.09] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from _common import read_labels, require_faces_dev

#: (yaw, pitch) rendered from facing the camera: a session's turns (26) and smaller ones,
#: and look ups up to a session's 22 degrees.
POSES = ((-26, 0), (-15, 0), (15, 0), (26, 0), (0, 10), (0, 18), (0, 22))
#: Boxes a step of HOG's pyramid gives one face, against the box it was found in: (scale,
#: shift of the centre across, shift down, in box widths). A turned head's box dropping from
#: 179 to 150 px moved 8 px right and 4 down (``john_lennon/1`` on the generic head, live).
SHIFTS = (
    (1.0, 0.0, 0.0),
    (1 / 1.2, 0.05, 0.03),
    (1 / 1.2, -0.05, 0.03),
    (1.2, -0.05, -0.03),
    (1.2, 0.05, -0.03),
)


def main() -> None:
    from likeness.faces.backends import video_frame_backend
    from likeness.faces.face_mesh import FaceMesh
    from likeness.faces.headpose import HeadReading, MeshPoses, mesh_head_reading, read_pose
    from likeness.testing import clips
    from likeness.testing.heads import HEADS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heads", nargs="+", default=["ellipsoid", "canonical", "generic"])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1.0, 1.09])
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    args = parser.parse_args()
    if any(s <= 0 for s in args.sizes):
        parser.error(f"--sizes are crop sides in face widths, above 0 (got {args.sizes})")
    unknown = [h for h in args.heads if h not in HEADS]
    if unknown:
        parser.error(f"unknown heads {unknown}; choose from {sorted(HEADS)}")

    backend = video_frame_backend()
    mesh = FaceMesh()

    def in_box(image, face) -> HeadReading:
        return mesh_head_reading(mesh.read(image, face.box).points)

    readers = {
        "HOG's box": in_box,
        "liveness-20": MeshPoses(mesh, follow_centre=False, upright=False).read,
        "liveness-24": MeshPoses(mesh, upright=False).read,
    } | {f"{s:g} widths": MeshPoses(mesh, box_in_widths=s).read for s in args.sizes}
    seen: dict[tuple, list[float]] = defaultdict(list)
    moves: dict[tuple, list[float]] = defaultdict(list)
    photos = sorted(read_labels(require_faces_dev()).items())[: args.limit]
    for head in args.heads:
        for path, person in photos:
            try:
                pixels, face = clips.enrolment_sized(Image.open(path), backend, 180)
            except ValueError:
                continue
            pose = read_pose(face.landmarks, pixels.shape[1::-1], None)
            if abs(pose.yaw) > 12:  # sessions start facing the camera
                continue
            facing = -pose.yaw
            try:
                pixels, face, _ = clips.sized_as_read(
                    Image.open(path), backend, HEADS[head], facing, 180
                )
            except ValueError:
                continue
            render = HEADS[head](pixels, face.landmarks)
            level_image = render(facing, 0.0)
            level = backend.locate(level_image)
            if len(level) != 1:
                continue
            base = {k: r(level_image, level[0]) for k, r in readers.items()}
            for yaw, up in POSES:
                image = render(facing + yaw, float(up))
                found = backend.locate(image)
                if len(found) != 1:  # past HOG's range
                    continue
                for k, read in readers.items():
                    poses = [
                        read(image, replace(found[0], box=box)).pose
                        for box in clips.stepped_boxes(found[0].box, SHIFTS)
                    ]
                    b = base[k].pose
                    if up:  # a look up: its pitch
                        angles = [p.pitch - b.pitch for p in poses]
                    else:  # a turn: its yaw, signed toward the turn
                        angles = [(p.yaw - b.yaw) * np.sign(yaw) for p in poses]
                    seen[(head, yaw, up, k)].append(angles[0])
                    moves[(head, k)].append(float(np.ptp(angles)))
            print(f"  {head}: {person}/{Path(path).name}", file=sys.stderr, flush=True)
    for head in args.heads:
        print(f"{head}: reading toward the pose rendered, least / median / largest over photos")
        for yaw, up in POSES:
            cells = []
            for k in readers:
                got = np.array(seen[(head, yaw, up, k)])
                if got.size:
                    cells.append(f"{k} {got.min():.1f} / {np.median(got):.1f} / {got.max():.1f}")
            n = len(seen[(head, yaw, up, "HOG's box")])
            print(f"  yaw {yaw:+d}, up {up:2d} (photos {n}): " + " | ".join(cells))
        print(f"{head}: a frame's reading moved by a step of the box, median / 90% / largest")
        for k in readers:
            got = np.array(moves[(head, k)])
            print(
                f"  {k}: {np.median(got):.2f} / {np.percentile(got, 90):.2f} / {got.max():.2f}"
                f" degrees ({got.size} frames)"
            )


if __name__ == "__main__":
    main()
