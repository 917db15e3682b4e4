"""The depth check alone, on many honest head models and on flat, bent and cut-out prints.

``benchmarks/liveness.py`` runs whole clips (a few a minute). The depth check decides on a
few frames only: the neutral one and the frames of each left and right turn at every 4
degrees past the turn threshold (``liveness.reader.TURN_BIN_DEGREES``). This script renders
just those, for every faces-dev photo of one person, with each honest head model of
``likeness.testing.heads.HEADS`` (the generic head the check was designed beside, MediaPipe's
canonical face, a smooth ellipsoid with only a nose, and those with hair, glasses or a
beard) turned left and right, and for each print attack (flat, bent round cylinders of 0.5
to 1.0 face widths, V-folds of 100 to 150 degrees, and faces cut out of a print held in front
of the scene) turned 30 degrees; each through a clean camera and through sensor noise and
H.264, at several face sizes. It prints, per head model and per attack, the smallest honest
and the largest attack relief, of one pair of frames and of a clip (the median a clip is
judged by), against the threshold, and how many prints a live session's wider turns let
through.

    .venv/bin/python benchmarks/liveness_depth.py [--limit N] [--sizes 150 180 250]
        [--turns 15 26] [--heads generic canonical ...] [--workers N] [--save rows.json]
    .venv/bin/python benchmarks/liveness_depth.py --report rows.json [more.json ...]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from _common import read_labels, require_faces_dev

CAMERAS = ("clean", "noise 3, H.264 CRF 28")
ATTACKS = (
    "flat print",
    "cylinder r=0.5",
    "cylinder r=0.7",
    "cylinder r=1.0",
    "V-fold 100, short",
    "V-fold 120",
    "V-fold 150",
    "cut-out flat",
    "cut-out cylinder r=0.7",
    "cut-out V-fold 120",
)


def _camera(name: str):
    from likeness.testing.camera import Camera

    return Camera() if name == "clean" else Camera(noise=3.0, h264_crf=28, seed=1)


#: The angles (degrees) a turn passes through that the check measures (a turn's frames at
#: 15 frames a second come about 4 degrees apart), up to the turn's peak; prints are turned
#: up to ATTACK_TURN.
ANGLES = (10.0, 14.0, 18.0, 22.0, 26.0, 30.0)
ATTACK_TURN = 30.0


def _shot(camera, neutral: np.ndarray, turned: list[np.ndarray]) -> list[np.ndarray]:
    """A neutral frame and the turned ones as the camera records a short clip: a still half
    second, then the turn (H.264 codes each turned frame from the ones before it)."""
    frames = [neutral] * 8 + turned
    shot = [image for _, image in camera.shoot((i / 15, f) for i, f in enumerate(frames))]
    return [shot[4], *shot[8:]]


def _measure(job) -> list[tuple]:
    """(kind, name, photo, size, camera, turn, angle, parallax, relief) for one photo at one
    face size: each angle a turn of ``turn`` degrees passes through, left (-) and right."""
    import torch

    from likeness.consent.depth import turn_depth
    from likeness.consent.liveness.reader import FaceRegion
    from likeness.faces.backends import video_frame_backend
    from likeness.testing import clips, heads

    torch.set_num_threads(1)
    path, size, head_names, turns, cameras = job
    backend = video_frame_backend()
    try:
        pixels, face = clips.enrolment_sized(Image.open(path), backend, size)
    except ValueError:
        return []
    width = face.box[2] - face.box[0]
    centre = (face.box[0] + face.box[2]) / 2
    renders = {name: heads.HEADS[name](pixels, face.landmarks) for name in head_names}
    bends = {
        "flat print": lambda turn: clips.flat_turn(pixels, -1.35 * turn, 0.0),
        "cylinder r=0.5": lambda turn: clips.cylinder_print(
            pixels, 0.5 * width, turn, width, centre
        ),
        "cylinder r=0.7": lambda turn: clips.cylinder_print(
            pixels, 0.7 * width, turn, width, centre
        ),
        "cylinder r=1.0": lambda turn: clips.cylinder_print(
            pixels, 1.0 * width, turn, width, centre
        ),
        "V-fold 100, short": lambda turn: clips.folded_print(
            clips.squashed(pixels, 0.8), 100, turn, centre
        ),
        "V-fold 120": lambda turn: clips.folded_print(pixels, 120, turn, centre),
        "V-fold 150": lambda turn: clips.folded_print(pixels, 150, turn, centre),
    }
    # The face cut out of the print along its outline, held in front of the scene.
    for name, bend in (
        ("cut-out flat", lambda im, turn: clips.flat_turn(im, -1.35 * turn, 0.0)),
        (
            "cut-out cylinder r=0.7",
            lambda im, turn: clips.cylinder_print(im, 0.7 * width, turn, width, centre),
        ),
        ("cut-out V-fold 120", lambda im, turn: clips.folded_print(im, 120, turn, centre)),
    ):
        bends[name] = lambda turn, bend=bend: clips.cut_out(pixels, face.box, bend, turn)
    out = []
    subjects = [("honest", n, r) for n, r in renders.items()]
    subjects += [("attack", n, lambda yaw, _p, b=b: b(yaw)) for n, b in bends.items()]
    for (
        kind,
        name,
        render,
    ) in subjects:
        neutral = render(0.0, 0.0)
        found = backend.analyze(neutral)
        if len(found) != 1:
            continue
        box = found[0].box
        region = FaceRegion.around(box, neutral.shape)
        face_box = region.box_in(box)
        for turn in turns if kind == "honest" else (ATTACK_TURN,):
            angles = [a for a in ANGLES if a <= turn] or [turn]
            for sign in (-1, 1):
                steps = [render(sign * a, 0.0) for a in angles]
                for camera_name in cameras:
                    shot = _shot(_camera(camera_name), neutral, steps)
                    ga = region.crop(shot[0])
                    for angle, image in zip(angles, shot[1:], strict=True):
                        gb = region.crop(image)
                        out.append(
                            (
                                kind,
                                name,
                                path,
                                size,
                                camera_name,
                                turn,
                                sign * angle,
                                *turn_depth(ga, gb, face_box),
                            )
                        )
    return out


def main() -> None:
    from likeness.testing.heads import HEADS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 180, 250])
    parser.add_argument("--turns", type=float, nargs="+", default=[15.0, 26.0])
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    parser.add_argument("--cameras", nargs="+", default=list(CAMERAS), choices=CAMERAS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--save", default=None, help="also write every measurement (JSON)")
    parser.add_argument(
        "--report", nargs="+", default=None, help="only report measurements saved before"
    )
    args = parser.parse_args()
    if args.report:
        report([tuple(r) for path in args.report for r in json.loads(Path(path).read_text())])
        return
    photos = sorted(read_labels(require_faces_dev()))[: args.limit]
    jobs = [(p, s, args.heads, args.turns, args.cameras) for p in photos for s in args.sizes]
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        rows = [r for part in pool.imap(_measure, jobs) for r in part]
    if args.save:
        Path(args.save).write_text(json.dumps(rows))
    print(f"{len(photos)} photos, faces {args.sizes} px wide, honest turns {args.turns} degrees")
    report(rows)


def report(rows: list[tuple]) -> None:
    """Per head model and per attack: the relief of single frame pairs, and of whole clips
    (the median over the pairs of a left and a right turn: what ``verdict`` decides on),
    against the threshold."""
    from likeness.consent.liveness import THRESHOLDS as th

    clips: dict[tuple, list[tuple[float, float, float]]] = defaultdict(list)
    for kind, name, path, size, camera, turn, angle, par, rel in rows:
        clips[(kind, name, camera, turn, path, size)].append((par, rel, angle))
    groups: dict[tuple, list[np.ndarray]] = defaultdict(list)
    for (kind, name, camera, turn, _path, _size), pairs in clips.items():
        groups[(kind, name, camera, turn)].append(np.array(pairs))
    print(
        f"{'':<7}{'model or attack':<24}{'camera':<23}{'turn':>5}{'clips':>6}"
        f"{'pairs':>6}{'one pair':>9}{'clip':>7}{'refused':>8}"
    )
    clip_values: dict[str, list[float]] = defaultdict(list)
    for (kind, name, camera, turn), values in sorted(groups.items()):
        single = np.concatenate([v[:, 1] for v in values])  # (parallax, relief, angle) rows
        per_clip = np.array([float(np.median(v[:, 1])) for v in values])
        clip_values[kind].extend(per_clip)
        refused = int(np.sum(per_clip < th.relief_min_px))
        pick = np.min if kind == "honest" else np.max
        print(
            f"{kind:<7}{name:<24}{camera:<23}{turn:>5.0f}{len(values):>6}{len(single):>6}"
            f"{pick(single):>9.2f}{pick(per_clip):>7.2f}{refused:>8}"
        )
    # A live session that falls short on depth asks for up to LivePacing.depth_retries wider
    # turns, each judged on its own against Thresholds.wider_turn_relief_px: an attack then
    # passes if its clip's median does, or one turn's median (each side of the clip standing
    # in for one more turn) reaches the wider turn's bar.
    from likeness.consent.liveness import PACING

    with_tries = []
    for (kind, *_), pairs in clips.items():
        if kind != "attack":
            continue
        v = np.array(pairs)
        sides = [float(np.median(v[v[:, 2] * sign > 0, 1])) for sign in (-1, 1)]
        wider = sides[: PACING.depth_retries]
        with_tries.append(
            float(np.median(v[:, 1])) >= th.relief_min_px
            or any(w >= th.wider_turn_relief_px for w in wider)
        )
    if with_tries:
        print(
            f"attacks accepted per live session with {PACING.depth_retries} wider turns: "
            f"{sum(with_tries)} of {len(with_tries)}"
        )
    honest, attacks = clip_values["honest"], clip_values["attack"]
    if honest and attacks:
        print(
            f"clip relief: honest >= {min(honest):.2f} px ({min(honest) / th.relief_min_px:.2f}x "
            f"the threshold {th.relief_min_px}), attacks <= {max(attacks):.2f} px "
            f"({th.relief_min_px / max(attacks):.2f}x below it); honest refused "
            f"{sum(h < th.relief_min_px for h in honest)} of {len(honest)}, attacks accepted "
            f"{sum(a >= th.relief_min_px for a in attacks)} of {len(attacks)}"
        )
    print(
        "honest rows: the smallest value; attack rows: the largest. 'one pair': the neutral "
        "frame and one turned frame; 'clip': the median over a left and a right turn's pairs"
    )


if __name__ == "__main__":
    main()
