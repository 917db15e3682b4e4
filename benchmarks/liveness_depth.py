"""The depth check alone, on many honest head models and on flat, bent and cut-out prints.

``benchmarks/liveness.py`` runs whole clips (a few a minute). The depth check decides on a
few frames only: the neutral one and a few frames of each left and right turn between the
turn threshold and ``Thresholds.depth_max_degrees`` (``liveness.reader.depth_band``). This
script renders such frames every 4 degrees up to each turn's peak (all of them, so that
``--by-angle`` can show why frames past that range are left out; the clips' figures use only
those a session measures), for every faces-dev photo of one person, with each honest head model of
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
        [--turns 15 26] [--heads generic canonical ...] [--attacks "flat print" ...]
        [--workers N] [--save rows.json]
    .venv/bin/python benchmarks/liveness_depth.py --report rows.json [more.json ...] [--by-angle]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from _common import one_face_pose, read_labels, require_faces_dev

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

    from likeness.consent.depth import motion_directions, turn_depth
    from likeness.consent.liveness.reader import FaceRegion, liveness_poses
    from likeness.faces.backends import video_frame_backend
    from likeness.faces.headpose import HeadPose
    from likeness.testing import clips, heads

    torch.set_num_threads(1)
    path, size, head_names, attack_names, turns, cameras, fitted, size_by = job
    backend, poses = video_frame_backend(), liveness_poses()
    try:
        if size_by == "check":  # the photo as the liveness check reads its width
            pixels, face = clips.prepared(Image.open(path), size)
        else:  # by the photo's eye corners, as runs up to liveness-18 did
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
    subjects += [
        ("attack", n, lambda yaw, _p, b=b: b(yaw)) for n, b in bends.items() if n in attack_names
    ]
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
        # Depth is measured in the box the session's pose reader gives the neutral face
        # (``HeadReading.box``, liveness-22), not in the detector's.
        face_box = region.box_in(poses.read(neutral, found[0]).box)
        for turn in turns if kind == "honest" else (ATTACK_TURN,):
            angles = [a for a in ANGLES if a <= turn] or [turn]
            for sign in (-1, 1):
                steps = [render(sign * a, 0.0) for a in angles]
                for camera_name in cameras:
                    shot = _shot(_camera(camera_name), neutral, steps)
                    ga = region.crop(shot[0])
                    read_start = one_face_pose(backend, shot[0])
                    start = read_start or HeadPose(0.0, 0.0, 0.0)
                    for angle, image in zip(angles, shot[1:], strict=True):
                        gb = region.crop(image)
                        # Read along the pose change the frames' landmarks show, as a
                        # session does; a frame the detector misses, along the turn's.
                        pose = one_face_pose(backend, image) or replace(
                            start, yaw=start.yaw + sign * angle
                        )
                        expected = () if fitted else motion_directions(start, pose)
                        # The roll between the frames (turned back past
                        # ``depth.ROLL_UNDONE_DEGREES``), where both were read.
                        roll = pose.roll - start.roll if read_start else 0.0
                        out.append(
                            (
                                kind,
                                name,
                                path,
                                size,
                                camera_name,
                                turn,
                                sign * angle,
                                *turn_depth(ga, gb, face_box, expected, roll),
                            )
                        )
    return out


def main() -> None:
    from likeness.testing.heads import HEADS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 180, 250])
    parser.add_argument(
        "--size-by",
        choices=("check", "photo"),
        default="check",
        help="the face width measured as the liveness check reads it in the photo (the face "
        "mesh's fit, liveness-19), or from the photo's eye corners, as runs up to "
        "liveness-18 did",
    )
    parser.add_argument("--turns", type=float, nargs="+", default=[15.0, 26.0])
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    parser.add_argument("--attacks", nargs="*", default=list(ATTACKS), choices=ATTACKS)
    parser.add_argument("--cameras", nargs="+", default=list(CAMERAS), choices=CAMERAS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--save", default=None, help="also write every measurement (JSON)")
    parser.add_argument(
        "--report", nargs="+", default=None, help="only report measurements saved before"
    )
    parser.add_argument(
        "--fitted-direction",
        action="store_true",
        help="read depth along the direction fitted to the parallax (liveness-15 and before), "
        "unchecked by the head's motion (depth.motion_directions)",
    )
    parser.add_argument(
        "--by-angle",
        action="store_true",
        help="also print relief per angle of turn, past the depth range too",
    )
    args = parser.parse_args()
    if args.report:
        try:
            rows = [tuple(r) for path in args.report for r in json.loads(Path(path).read_text())]
        except (OSError, ValueError) as exc:
            raise SystemExit(f"cannot read saved measurements: {exc}") from None
        report(rows, args.by_angle)
        return
    photos = sorted(read_labels(require_faces_dev()))[: args.limit]
    jobs = [
        (
            p,
            s,
            args.heads,
            args.attacks,
            args.turns,
            args.cameras,
            args.fitted_direction,
            args.size_by,
        )
        for p in photos
        for s in args.sizes
    ]
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        rows = [r for part in pool.imap(_measure, jobs) for r in part]
    if args.save:
        Path(args.save).write_text(json.dumps(rows))
    print(
        f"{len(photos)} photos, faces {args.sizes} px wide (by the {args.size_by}), "
        f"honest turns {args.turns} degrees"
    )
    report(rows, args.by_angle)


def report(rows: list[tuple], by_angle: bool = False) -> None:
    """Per head model and per attack: the relief of single frame pairs, and the figure whole
    clips are judged by (``verdict.depth_score`` over a left and a right turn's pairs in the
    depth range: the clip's median against ``relief_min_px`` or one turn's against
    ``wider_turn_relief_px``, the larger; a head from 1), with the margins."""
    from likeness.consent.liveness import PACING
    from likeness.consent.liveness import THRESHOLDS as th

    if by_angle:
        report_by_angle(rows)
    clips: dict[tuple, list[tuple[float, float, float]]] = defaultdict(list)
    for kind, name, path, size, camera, turn, angle, par, rel in rows:
        if abs(angle) < th.depth_max_degrees:  # the frames a session measures
            clips[(kind, name, camera, turn, path, size)].append((par, rel, angle))
    groups: dict[tuple, list[np.ndarray]] = defaultdict(list)
    for (kind, name, camera, turn, _path, _size), pairs in clips.items():
        groups[(kind, name, camera, turn)].append(np.array(pairs))
    print(
        f"{'':<7}{'model or attack':<24}{'camera':<23}{'turn':>5}{'clips':>6}"
        f"{'pairs':>6}{'one pair':>9}{'median':>7}{'depth':>7}{'refused':>8}"
    )
    scores: dict[str, list[tuple[float, tuple]]] = defaultdict(list)
    turn_reliefs: dict[str, list[list[float]]] = defaultdict(list)
    for (kind, name, camera, turn), values in sorted(groups.items()):
        single = np.concatenate([v[:, 1] for v in values])  # (parallax, relief, angle) rows
        medians = [float(np.median(v[:, 1])) for v in values]
        depth = [_depth_score(v) for v in values]
        scores[kind].extend((d, (name, camera, turn)) for d in depth)
        turn_reliefs[kind].extend(_sides(v) for v in values)
        refused = sum(d < 1.0 for d in depth)
        pick = min if kind == "honest" else max
        print(
            f"{kind:<7}{name:<24}{camera:<23}{turn:>5.0f}{len(values):>6}{len(single):>6}"
            f"{pick(single):>9.2f}{pick(medians):>7.2f}{pick(depth):>7.2f}{refused:>8}"
        )
    honest, attacks = scores["honest"], scores["attack"]
    if honest:
        low = sorted(honest)[:3]
        print(
            f"honest clips: depth >= {low[0][0]:.2f} (the margin over the bar of 1), refused "
            f"{sum(d < 1.0 for d, _ in honest)} of {len(honest)}; the three lowest: "
            + ", ".join(f"{d:.2f} ({', '.join(map(str, where))})" for d, where in low)
        )
    if attacks:
        top = max(attacks)
        sides = [m for pair in turn_reliefs["attack"] for m in pair]
        reach = sum(m >= th.wider_turn_relief_px for m in sides)
        draws = 2 + PACING.depth_retries
        bound = draws * max(reach, 3) / len(sides)
        print(
            f"attack clips: depth <= {top[0]:.2f} ({', '.join(map(str, top[1]))}; "
            f"{1 / top[0]:.2f}x below the bar), accepted {sum(d >= 1.0 for d, _ in attacks)} "
            f"of {len(attacks)}; single print turns reaching {th.wider_turn_relief_px} px: "
            f"{reach} of {len(sides)} (largest {max(sides):.2f}); a live session judges "
            f"{draws} turns alone (its own two and {PACING.depth_retries} wider tries), so "
            f"accepts a print in at most {bound:.2%} of sessions"
            + (" (95% bound, none seen)" if reach == 0 else "")
        )
    print(
        "honest rows: the smallest value; attack rows: the largest. 'one pair': the neutral "
        "frame and one turned frame; 'median': over a left and a right turn's pairs; "
        "'depth': verdict.depth_score of the clip"
    )


def report_by_angle(rows: list[tuple]) -> None:
    """Relief of single pairs per angle of turn, honest heads together and each attack
    apart (the 10th percentile is what matters for honest heads, the 90th and the largest
    for attacks): why depth is measured only up to ``Thresholds.depth_max_degrees``."""
    from likeness.consent.liveness import THRESHOLDS as th

    by: dict[tuple, list[float]] = defaultdict(list)
    for kind, name, _path, _size, camera, _turn, angle, _par, rel in rows:
        by[("honest heads" if kind == "honest" else name, camera, abs(angle))].append(rel)
    print(f"relief per angle of turn (depth is measured below {th.depth_max_degrees:.0f} degrees)")
    print(f"{'model or attack':<24}{'camera':<23}{'angle':>6}{'pairs':>6}", end="")
    print(f"{'p10':>7}{'median':>7}{'p90':>7}{'max':>7}")
    for (name, camera, angle), values in sorted(by.items()):
        v = np.array(values)
        p10, median, p90 = np.percentile(v, [10, 50, 90])
        print(
            f"{name:<24}{camera:<23}{angle:>6.0f}{len(v):>6}"
            f"{p10:>7.2f}{median:>7.2f}{p90:>7.2f}{v.max():>7.2f}"
        )


def _sides(pairs: np.ndarray) -> list[float]:
    """Each turn's median relief (left, right) of a clip's (parallax, relief, angle) rows."""
    return [
        float(np.median(pairs[pairs[:, 2] * sign > 0, 1]))
        for sign in (-1, 1)
        if np.any(pairs[:, 2] * sign > 0)
    ]


def _depth_score(pairs: np.ndarray) -> float:
    """``verdict.depth_score`` of a clip whose turns are these (parallax, relief, angle) rows:
    the decision a live or recorded session makes on them."""
    from likeness.consent.liveness.verdict import depth_score

    transcript = [
        {"challenge": side, "reliefs_px": [float(r) for r in pairs[pairs[:, 2] * sign > 0, 1]]}
        for side, sign in (("left", -1), ("right", 1))
    ]
    score = depth_score([e for e in transcript if e["reliefs_px"]])
    return 0.0 if score is None else score


if __name__ == "__main__":
    main()
