"""How far the face mesh reads rendered turns and look ups, by the crop it is read in.

Liveness reads head poses from MediaPipe's face mesh (``headpose.MeshPoses``). Up to
liveness-19 the mesh was read in 1.5 times HOG's box, which comes in pyramid steps 1.2 apart,
and one face's box could drop a step mid-session: the mesh then read a look up 4 to 8
degrees short. Since liveness-20 the crop is sized by the face's width
(``headpose.MESH_BOX_IN_WIDTHS`` fit widths, read again until the width settles). This
prints, for each head model, each rendered pose and each crop (HOG's box, then boxes of
``--sizes`` fit widths), the least, median and largest reading over the faces-dev photos that
face the camera (sized to 180 px as the check reads them, each pose against the photo's
own facing frame): the least is the honest margin, against the session's bars of 10 degrees
of turn and 9 of look up. Clean renders, one frame a pose.

    .venv/bin/python benchmarks/mesh_crop.py [--heads ellipsoid canonical generic]
        [--sizes 0.9 1.0 1.09] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from _common import read_labels, require_faces_dev

#: (yaw, pitch) rendered from facing the camera: a session's turns (26) and smaller ones,
#: and look ups up to a session's 22 degrees.
POSES = ((-26, 0), (-15, 0), (15, 0), (26, 0), (0, 10), (0, 18), (0, 22))


def main() -> None:
    from likeness.faces.backends import video_frame_backend
    from likeness.faces.face_mesh import FaceMesh
    from likeness.faces.headpose import HeadReading, MeshPoses, mesh_head_reading, read_pose
    from likeness.testing import clips
    from likeness.testing.heads import HEADS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heads", nargs="+", default=["ellipsoid", "canonical", "generic"])
    parser.add_argument("--sizes", nargs="+", type=float, default=[0.9, 1.0, 1.09])
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

    readers = {"HOG's box": in_box} | {
        f"{s:g} widths": MeshPoses(mesh, box_in_widths=s).read for s in args.sizes
    }
    seen: dict[tuple, list[float]] = defaultdict(list)
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
                    r, b = read(image, found[0]), base[k]
                    if up:  # a look up: its pitch
                        seen[(head, yaw, up, k)].append(r.pose.pitch - b.pose.pitch)
                    else:  # a turn: its yaw, signed toward the turn
                        seen[(head, yaw, up, k)].append((r.pose.yaw - b.pose.yaw) * np.sign(yaw))
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


if __name__ == "__main__":
    main()
