"""The liveness clock alone: honest people of several speeds against replays of other sessions.

``benchmarks/liveness.py`` renders clips from photos and runs the whole check, 7 clips a
minute. This one measures only the timing rules (challenges met in their windows, not early,
not late) on thousands of sessions: each frame's face is the generic 3D face projected at the
pose a person following the session would hold (``tests/consent/clips.pose_timeline``), so
the pose estimate is exact and no image is drawn. The parallax check needs images and is
measured there, not here: it is replaced by a pass in this script.

For each speed of person (how long they take to react to a prompt, how fast they turn):
how many honest clips fail. For recordings of other sessions: how often an earlier session has
the same sequence or its mirror image (a mirrored recording is read both ways, see
``liveness.verify_clip``), how often such a recording passes on this session's clock, and so
how often a random earlier recording passes; and how often the same recordings pass with every
third or every second frame swapped for a lead-in frame (a blind edit that beats a clock asking
for poses held in frames in a row, and would beat one letting lone frames off).

    .venv/bin/python benchmarks/liveness_timing.py [--sessions 1000] [--seed 0] [--fps 15]
        [--fringe DEGREES]
"""

from __future__ import annotations

import argparse
import dataclasses
import random

import numpy as np

from likeness.faces.protocol import FaceDistances

#: (reaction to a prompt in seconds, head speed in degrees a second).
PEOPLE = ((0.3, 65.0), (0.45, 50.0), (0.6, 40.0), (0.8, 30.0))
FRAME_PX = 640


def _distance() -> float:
    """How far (in eye spans) the generic face stands from the camera: 15% wider than the
    liveness minimum (``Thresholds.min_face_px``, read by ``headpose.face_width_px``), so that
    the clock is what is measured. A fixed distance went stale when that minimum rose: every
    clip was then refused for its size and the script measured nothing."""
    from likeness.consent.liveness import THRESHOLDS

    return 10.0 * _width_at(10.0) / (1.15 * THRESHOLDS.min_face_px)


def _landmarks_at(pose: tuple[float, float], distance: float) -> np.ndarray:
    """The generic face's 5 landmarks projected at ``pose`` and ``distance``."""
    import cv2

    from likeness.faces.headpose import OPENCV_MODEL_5, pinhole_camera
    from likeness.testing.clips import rotation

    rvec, _ = cv2.Rodrigues(rotation(*pose))
    camera = pinhole_camera((FRAME_PX, FRAME_PX))
    pixels, _ = cv2.projectPoints(
        OPENCV_MODEL_5, rvec, np.array([0.0, 0.0, distance]), camera, None
    )
    return pixels.reshape(-1, 2)


def _width_at(distance: float) -> float:
    from likeness.faces.headpose import face_width_px

    return face_width_px(_landmarks_at((0.0, 0.0), distance))


class _PoseFrame(np.ndarray):
    """A frame that carries the head pose it shows instead of pixels."""

    pose: tuple[float, float]


class ProjectedFaceBackend:
    """A face backend whose faces are the generic 3D face projected at the frame's pose."""

    name = "projected-generic-face"
    embedding_dim = 128
    distances = FaceDistances(same_person=0.6, link=0.6, merge=0.6, same_face=0.6)

    def __init__(self) -> None:
        self.distance = _distance()

    def analyze(self, image):
        from likeness.faces.protocol import DetectedFace

        box = (220, 220, 420, 420)
        landmarks = tuple((float(x), float(y)) for x, y in _landmarks_at(image.pose, self.distance))
        return [DetectedFace(box, landmarks, np.zeros(128, np.float32), 1.0, 1.0, 1.0, 1.0)]


def frames_of(session, fps: int, react_s: float, degrees_per_s: float):
    from likeness.testing import clips

    blank = np.zeros((1, 1, 3), np.uint8)
    out = []
    for t, yaw, pitch in clips.pose_timeline(session, clips.POSES, fps, react_s, degrees_per_s):
        frame = np.broadcast_to(blank, (FRAME_PX, FRAME_PX, 3)).view(_PoseFrame)
        frame.pose = (yaw, pitch)
        out.append((t, frame))
    return out


def thinned(recording: list, earlier, every: int = 3) -> list:
    """``recording`` with every ``every``-th frame after its lead-in swapped for a lead-in
    frame (the head facing the camera): a clock that asks a pose to be held for frames in a
    row would miss every pose in it, and one that lets a lone frame off would let off every
    frame of it (``Thresholds.off_beat_fringe_degrees`` lets off only frames barely showing a
    pose), while a challenge met by a count of frames is still met."""
    out = []
    for i, (t, frame) in enumerate(recording):
        if i % every == every - 1 and t > earlier.challenges[0].start:
            frame = frame.copy().view(_PoseFrame)
            frame.pose = (0.0, 0.0)
        out.append((t, frame))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument(
        "--fringe",
        type=float,
        default=None,
        help="Thresholds.off_beat_fringe_degrees to judge by (a negative value lets no frame "
        "off, liveness-14's clock); default the shipped value",
    )
    args = parser.parse_args()
    from likeness.consent import liveness
    from likeness.consent.liveness import verdict
    from likeness.faces.headpose import LandmarkPoses
    from likeness.people.identity import PhotoGroup

    # Only the clock is measured: depth is taken as a head's (both checks need images).
    th = liveness.THRESHOLDS
    if args.fringe is not None:
        th = dataclasses.replace(th, off_beat_fringe_degrees=args.fringe)
    verdict.turn_depth = lambda *_args, **_kwargs: (2 * th.parallax_min_px, 2 * th.relief_min_px)
    rng = random.Random(args.seed)
    backend = ProjectedFaceBackend()
    group = PhotoGroup.of_embeddings(np.zeros((1, 128), np.float32), backend)

    # The frames carry a pose, not a face's pixels: poses and the face's width are read from
    # the projected landmarks. Read through the face mesh (the check's own reader since
    # liveness-18), blank frames made every clip fail, honest ones included.
    poses = LandmarkPoses()

    def passes(frames, session) -> tuple[bool, str]:
        result = liveness.verify_clip(frames, session, backend, group, thresholds=th, poses=poses)
        return result.passed, result.reason

    width = _width_at(backend.distance)
    print(
        f"{args.sessions} random sessions, {args.fps} frames a second, the face {width:.0f} px "
        f"wide (at least {th.min_face_px}); lone frames showing a pose by at most "
        f"{th.off_beat_fringe_degrees:g} degrees are let off the clock"
    )
    print(f"{'person (reaction, speed)':<28}{'honest clips failed':>20}")
    for react_s, speed in PEOPLE:
        failed: dict[str, int] = {}
        for _ in range(args.sessions):
            session = liveness.new_session(rng=rng)
            ok, reason = passes(frames_of(session, args.fps, react_s, speed), session)
            if not ok:
                key = reason.split(" (")[0] + (": late" if "after it closed" in reason else "")
                failed[key] = failed.get(key, 0) + 1
        n = sum(failed.values())
        print(f"{f'{react_s:.2f} s, {speed:.0f} deg/s':<28}{n:>12} ({n / args.sessions:6.1%})")
        for reason, count in sorted(failed.items(), key=lambda kv: -kv[1])[:3]:
            print(f"    {count:>5}  {reason}")

    def sequence(session) -> tuple[str, ...]:
        return tuple(c.kind for c in session.challenges)

    pairs = 20 * args.sessions
    draws = [(liveness.new_session(rng=rng), liveness.new_session(rng=rng)) for _ in range(pairs)]
    same = sum(sequence(a) == sequence(b) for a, b in draws)
    mirror = sum(sequence(a) == sequence(b.mirrored()) for a, b in draws)
    replay_passed = {"same": 0, "mirrored": 0}
    thinned_passed = {3: 0, 2: 0}
    for _ in range(args.sessions):
        session = liveness.new_session(rng=rng)
        for kind, wanted in (("same", session), ("mirrored", session.mirrored())):
            earlier = liveness.new_session(rng=rng)
            while sequence(earlier) != sequence(wanted):
                earlier = liveness.new_session(rng=rng)
            react_s, speed = PEOPLE[0]
            recording = frames_of(earlier, args.fps, react_s, speed)
            replay_passed[kind] += passes(recording, session)[0]
            if kind == "same":
                for every in thinned_passed:
                    thinned_passed[every] += passes(thinned(recording, earlier, every), session)[0]
    p_same, p_mirror = same / pairs, mirror / pairs
    p_pass = {k: v / args.sessions for k, v in replay_passed.items()}
    print(
        f"earlier sessions with this session's sequence: {same} of {pairs} ({p_same:.2%}); "
        f"with its mirror image: {mirror} ({p_mirror:.2%})"
    )
    for kind in ("same", "mirrored"):
        print(
            f"recordings of those ({kind}) that pass on this session's clock: "
            f"{replay_passed[kind]} of {args.sessions} ({p_pass[kind]:.1%})"
        )
    for every, word in ((3, "third"), (2, "second")):
        print(
            f"the same recordings with every {word} frame swapped for a lead-in frame: "
            f"{thinned_passed[every]} of {args.sessions} "
            f"({thinned_passed[every] / args.sessions:.1%}; an edit made once, without this "
            "session's windows: it breaks every run of a pose)"
        )
    accepted = p_same * p_pass["same"] + p_mirror * p_pass["mirrored"]
    direct_only = p_same * p_pass["same"]

    def one_in(p: float) -> str:
        return f"about 1 in {1 / p:,.0f}" if p else "none seen"

    print(
        f"a recording of a random earlier session passes: {one_in(accepted)} (mirrored "
        f"recordings accepted); {one_in(direct_only)} if they were refused, which an attacker "
        "undoes by mirroring the file"
    )


if __name__ == "__main__":
    main()
