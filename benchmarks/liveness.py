"""Liveness on synthetic clips rendered from faces-dev photos: false accepts and rejects.

Every faces-dev photo whose face looks at the camera as an enrolment clip must start (the pose
``liveness.neutral_pose_problem`` accepts: within 12 degrees of facing it, not tilted back past
20, read against the person's own nose drop from their other photos) is scaled so the face is
180 px wide, as in a selfie video: as the check reads it in the honest head's first frame
(``clips.sized_as_read``; ``--size-by photo`` measures the photo instead, as runs up to
liveness-16 did). For each, with fresh random sessions: one honest clip (head turns rendered
with parallax, from facing the camera as the page asks first: the photo's own yaw turned away;
``--start photo`` keeps the photo's pose) and attacks (a still photo; a flat print turned to
mimic each pose; a recording of another session's sequence; a recording of another session with
the same sequence but its own timing; a face swapped mid-clip; another person; a print bent
round a vertical cylinder of 0.5, 0.7 and 1.0 face widths, and one folded along a vertical line
at 120 and 150 degrees, turned on the schedule; one folded at 100 degrees, printed at 0.8 of
its height so that folded it reads as level, as an attacker would correct it; and the face cut
out of the print along its outline, folded at 120 degrees and held in front of the scene, and
printed short too). Each print, recorded or live, is first lined up until it reads as facing
the camera (``clips.facing_as_read``), as a preview lets an attacker do. Honest clips should
all pass, attacks all fail. The margins (smallest honest turn, parallax and depth figure;
largest parallax of a flat print and of a bent one, largest depth figure of any print) say how
close the thresholds are. Every clip's face is sized as the check reads it in the clip's first
frame: the honest head's, and each bent print's, held as close as a session takes it
(``--size-by photo`` sizes the photo instead, as runs up to liveness-16 did, when the bent
prints read narrower than the size a session takes and were refused for it).

    .venv/bin/python benchmarks/liveness.py [--sessions N] [--seed S] [--limit N] [--workers N]
        [--fps 15] [--only person/photo.jpg ...] [--cases honest "cylinder r=0.5" ...]
        [--head generic] [--tilt 0] [--camera clean] [--start facing] [--face-px 180]
        [--save outcomes.json] [--keep-pairs DIR] [--live]
    .venv/bin/python benchmarks/liveness.py --report outcomes.json [more.json ...]

``--live`` runs what can follow a session through ``LiveCheck`` instead of recording it: the
heads (honest, other person), and the still photo and each print held by an attacker who
heeds the prompts as the simulated person does (``clips.held_as_head``). Each follows the
prompts as the page shows them (``clips.LivePerson``), so a start that reads tilted back is
asked to change, a slow turn is waited for and a turn short on depth is asked again wider,
for the print as for the person at the page: an attack's accept rate per session includes
the tries a session gives. The camera reads each frame alone (``--camera "noise 3, JPEG
90"``: the page sends JPEG). The recorded-only attacks (replays, a swapped face) cannot
follow a page.

The clips are synthetic (likeness.testing.clips); thresholds await real camera footage.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image

from _common import read_labels, require_faces_dev
from likeness.cli.common import progress_bar

BENT = (
    "cylinder r=0.5",
    "cylinder r=0.7",
    "cylinder r=1.0",
    "V-fold 120",
    "V-fold 150",
    "V-fold 100, short",
    "cut-out V-fold 120",
    "cut-out V-fold 120, short",
)


def _bends():
    """Each bent print's shape from the photo and its face: ``(pixels, face) -> bend(image,
    turn)`` for ``clips.bent_print_frames``, the face at the front. A cylinder (radius in
    face widths) is turned about an axis a face width behind the print, as a hand turns a
    bottle like a head; a V-fold (angle) about its fold; the 100-degree fold is printed at
    0.8 of its height, so that folded it reads as level; the cut-out is the face cut out
    along its outline, folded at 120 degrees and held in front of the scene (the print the
    depth check found hardest, ``benchmarks/liveness_depth.py``), and the same printed at 0.8
    of its height (folded, a print's eyes come closer together and it reads as seen from
    above; the shorter print reads level)."""
    from likeness.testing import clips

    def width_centre(face):
        return face.box[2] - face.box[0], (face.box[0] + face.box[2]) / 2

    def cylinder(r):
        def shape(pixels, face):
            width, centre = width_centre(face)
            return lambda im, turn: clips.cylinder_print(im, r * width, turn, width, centre)

        return shape

    def fold(angle):
        def shape(pixels, face):
            centre = width_centre(face)[1]
            return lambda im, turn: clips.folded_print(im, angle, turn, centre)

        return shape

    def short_fold(pixels, face):
        short, centre = clips.squashed(pixels, 0.8), width_centre(face)[1]
        return lambda _im, turn: clips.folded_print(short, 100, turn, centre)

    shapes = (cylinder(0.5), cylinder(0.7), cylinder(1.0), fold(120), fold(150))

    def short_cut_out(pixels, face):
        return clips.cut_out_fold(pixels, face, height=0.8)

    return dict(zip(BENT, (*shapes, short_fold, clips.cut_out_fold, short_cut_out), strict=True))


CASES = (
    "honest",
    "still photo",
    "flat print turned",
    "replayed order",
    "replayed timing",
    "face swapped",
    "other person",
    *BENT,
)


def _cameras():
    from likeness.testing.camera import Camera

    return {
        "clean": Camera(),
        "noise 3, H.264 CRF 28": Camera(noise=3.0, h264_crf=28),
        # A live page's frames: each compressed alone, as the page sends them.
        "noise 3, JPEG 90": Camera(noise=3.0, jpeg=90),
    }


CAMERAS = _cameras()
#: The clips ``--live`` runs through ``LiveCheck``: the heads that follow a session, and
#: the photo and its prints held by an attacker who heeds the page's prompts as a person
#: would (lowering the print when told the head reads tilted back, bringing it closer,
#: turning it further when asked for a wider turn; not "turn to face the camera", which
#: names no side): a live session's accept rate with the tries it gives included.
LIVE_CASES = ("honest", "other person", "still photo", "flat print turned", *BENT)
#: A live session is fed frames for at most this long (its schedule, waits for the person
#: and wider turns asked again take well under it).
LIVE_SECONDS = 60.0


class Trial(NamedTuple):
    """One photo and session: what a worker renders and checks."""

    name: str
    pixels: Any
    face: Any
    calibration: Any
    other: tuple
    session: Any
    earlier: Any
    same_sequence: Any
    fps: int
    wanted: set[str]
    head: str
    camera: str
    #: The yaw (degrees) the head is turned by to face the camera before the session starts:
    #: minus the photo's own, or 0 to start from the photo's pose (``--start``).
    facing: float
    #: The face width (px) a bent print is zoomed to read when it faces the camera, as an
    #: attacker holds it close enough for a session to take it; None leaves it at the photo's
    #: scale (``--size-by photo``).
    print_px: float | None
    #: Where to keep every depth pair each clip's verdict measured (``--keep-pairs``), and
    #: this trial's number there.
    keep_pairs: str | None = None
    number: int = 0
    #: The heads follow the session live (``LiveCheck``: prompts as they fall due, waits,
    #: start prompts and wider turns asked again), seen by the camera frame by frame.
    live: bool = False
    #: Poses read from the face mesh ("mesh") or the 5 landmarks ("landmarks", ``--poses``).
    poses: str = "mesh"
    #: Degrees of roll the honest heads tilt by for each degree they turn (``--tilt``,
    #: ``heads.tilting``).
    tilt: float = 0.0


class _KeptPairs:
    """Every depth pair a verdict measures, by the transcript entry it went into: the
    neutral and turned face regions, the face box, the motion directions and the roll between
    the frames (since liveness-24), exactly as
    ``verdict._Judging._depth`` passed them to ``depth.turn_depth`` (what it read is in the
    transcript).
    ``benchmarks/liveness_replay.py`` measures them again under changed depth code: depth
    chooses no frame, so what it reads is what the changed code gives the same sessions.

    While active, ``_Judging._depth`` is wrapped (the verdict itself runs unchanged)."""

    def __init__(self) -> None:
        self.by_entry: dict[int, tuple[dict, list[dict]]] = {}

    def __enter__(self) -> _KeptPairs:
        from likeness.consent.liveness import verdict

        self.original = original = verdict._Judging._depth
        kept = self.by_entry

        def depth(judging, turned, entry):
            calls: list[dict] = []
            turn_depth = verdict.turn_depth

            def measured(before, after, face_box, expected, roll):
                calls.append(
                    dict(
                        before=before, after=after, face_box=face_box, expected=expected, roll=roll
                    )
                )
                return turn_depth(before, after, face_box, expected, roll)

            verdict.turn_depth = measured
            # Every pair measured afresh, so that each entry keeps its own: a verdict judged
            # again (after a wider turn) would take the pairs it measured before from the
            # clip's cache (``ClipReader.depths``), and keep none of them.
            judging.clip.depths.clear()
            try:
                original(judging, turned, entry)
            finally:
                verdict.turn_depth = turn_depth
            kept[id(entry)] = (entry, calls)

        verdict._Judging._depth = depth
        return self

    def __exit__(self, *exc) -> None:
        from likeness.consent.liveness import verdict

        verdict._Judging._depth = self.original

    def of(self, transcript: list[dict]) -> list[list[dict]]:
        """The pairs of each entry of a verdict's transcript ([] where none were measured)."""
        return [self.by_entry[id(e)][1] if id(e) in self.by_entry else [] for e in transcript]


def _pose_reader(kind: str, calibration):
    """The reader a session's poses and face width are read with (``--poses``): the face
    mesh (the check's own), or the 5 landmarks against the person's nose drop."""
    from likeness.faces.headpose import LandmarkPoses, MeshPoses

    return MeshPoses() if kind == "mesh" else LandmarkPoses(calibration)


def _trial(job: Trial) -> list[tuple]:
    """The clips of one photo and session: (photo, case, passed, reason, transcript, the
    same-face check's spread, the wider turns a live session asked for or None)."""
    import torch

    from likeness.consent import liveness
    from likeness.testing import clips

    torch.set_num_threads(1)  # one process per core
    name, pixels, face, calibration, other, session, earlier, same_sequence, fps, wanted = job[:10]
    head, camera_name = job.head, job.camera
    from likeness.testing.heads import HEADS, tilting

    def head_of(image, landmarks, facing):
        """The honest head model on a photo, tilting as it turns when ``--tilt`` says so."""
        render = HEADS[head](image, landmarks)
        return tilting(render, job.tilt, facing) if job.tilt else render

    render = head_of(pixels, face.landmarks, job.facing)

    def live(render, session, facing=job.facing):  # a head following a session
        return clips.timeline(
            session, clips.POSES, lambda yaw, pitch: render(yaw + facing, pitch), fps
        )

    wider_asked: list[int] = []  # wider turns each live session asked for

    def live_session(render, facing=job.facing):
        """``LiveCheck``'s verdict on a head (``render``) following the session's prompts
        as the page shows them (``clips.LivePerson``), seen by the camera frame by frame."""
        check = liveness.LiveCheck(session, backend, group, finder, poses=poses)
        drawn: dict[tuple[float, float], Any] = {}

        def draw(yaw: float, pitch: float, _index: int):
            if (yaw, pitch) not in drawn:
                drawn[yaw, pitch] = render(yaw + facing, pitch)
            return drawn[yaw, pitch]

        person = clips.LivePerson(pixels, face.landmarks, draw=draw)
        shoot = CAMERAS[camera_name].live()
        clips.run_live(
            check, lambda t: shoot(person.frame(t)), person.see, seconds=LIVE_SECONDS, fps=fps
        )
        wider_asked.append(len(check.wider))
        return check.finish()

    # What follows the session live (``--live``): the heads, and an attacker holding the
    # photo or its print, who heeds the prompts as the person does (``clips.held_as_head``).
    live_cases = {
        "honest": lambda: live_session(render),
        "other person": lambda: live_session(
            head_of(other[2], other[3].landmarks, other[5]), other[5]
        ),
        "still photo": lambda: live_session(lambda _yaw, _pitch: pixels, 0.0),
        "flat print turned": lambda: held_print(clips.flat_print(pixels), clips.FLAT_PRINT_ANGLES),
    }

    def held_print(render, angles: dict):
        """An attacker holding a print (``render(yaw, pitch)``, the angles it is held at)
        through a live session as a head (``clips.held_as_head``), first lined up to read as
        facing the camera (``clips.facing_as_read``), as the page's preview lets them."""
        draw = clips.held_as_head(render, angles)
        return live_session(draw, clips.facing_as_read(draw, backend, poses))

    def recorded_print(render, angles: dict):
        """A recording of an attacker turning a print (``render(yaw, pitch)``, the angles
        it is held at) on the session's schedule, first lined up to read as facing the
        camera (``clips.facing_as_read``), as a phone's preview lets them."""
        draw = clips.held_as_head(render, angles)
        facing = clips.facing_as_read(draw, backend, poses)
        return live(draw, session, facing)

    # Each case renders its clip only when it runs (``--cases``).
    cases = {
        "honest": lambda: live(render, session),
        "still photo": lambda: clips.still_frames(pixels, session, fps),
        "flat print turned": lambda: recorded_print(
            clips.flat_print(pixels), clips.FLAT_PRINT_ANGLES
        ),
        "replayed order": lambda: live(render, earlier),
        "replayed timing": lambda: live(render, same_sequence),
        "face swapped": lambda: clips.swapped_frames(
            (pixels, face.landmarks),
            (other[2], other[3].landmarks),
            session,
            session.challenges[1].start,
            fps,
        ),
        "other person": lambda: live(
            head_of(other[2], other[3].landmarks, other[5]), session, other[5]
        ),
    }
    from likeness.faces.backends import turned_face_finder, video_frame_backend
    from likeness.people.identity import PhotoGroup

    backend = video_frame_backend()
    bends = _bends()
    # The check's reader: the face's width a print is held to is the one it reads.
    poses = _pose_reader(job.poses, calibration)

    def printed(case: str):
        """The photo printed and bent as ``case``: (the photo as printed, its bend)."""
        shape = bends[case]
        photo, its_face = pixels, face
        if job.print_px is not None:  # held as close as a session takes it
            photo, its_face = clips.print_sized_as_read(
                pixels, face, shape, backend, job.print_px, poses
            )
        return photo, shape(photo, its_face)

    def bent(case: str):
        return lambda: recorded_print(clips.bent_print(*printed(case)), clips.BENT_PRINT_ANGLES)

    def bent_live(case: str):
        def verdict():
            return held_print(clips.bent_print(*printed(case)), clips.BENT_PRINT_ANGLES)

        return verdict

    for case in BENT:
        cases[case] = bent(case)
        live_cases[case] = bent_live(case)
    finder = turned_face_finder(backend)
    group = PhotoGroup.of_embeddings(face.embedding, backend)

    def verdict(case: str):
        if job.live:
            return live_cases[case]()
        frames = CAMERAS[camera_name].shoot(cases[case]())
        return liveness.verify_clip(frames, session, backend, group, finder, poses=poses)

    out = []
    for case in live_cases if job.live else cases:
        if case not in wanted:
            continue
        if job.keep_pairs is None:
            result = verdict(case)
        else:
            with _KeptPairs() as kept:
                result = verdict(case)
            stem = f"{job.number:05d}-{name.replace('/', '_')}-{case.replace(' ', '_')}"
            with open(Path(job.keep_pairs) / f"{stem}.pkl", "wb") as fh:
                pickle.dump(
                    dict(
                        name=name,
                        case=case,
                        passed=result.passed,
                        reason=result.reason,
                        depth_short=result.depth_short,
                        transcript=result.transcript,
                        pairs=kept.of(result.transcript),
                    ),
                    fh,
                )
        wider = wider_asked.pop() if job.live else None
        out.append(
            (
                name,
                case,
                result.passed,
                result.reason,
                result.transcript,
                result.face_spread,
                wider,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1, help="random sessions per photo")
    parser.add_argument("--seed", type=int, default=None, help="for a reproducible run")
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument(
        "--only", nargs="+", default=None, help="these photos only (person/name, as printed)"
    )
    parser.add_argument(
        "--cases", nargs="+", default=list(CASES), choices=CASES, help="these clips only"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--fps", type=int, default=15, help="frames a second (a camera gives 24-30; cost grows)"
    )
    from likeness.testing.heads import HEADS

    parser.add_argument(
        "--head", default="generic", choices=list(HEADS), help="the honest head model"
    )
    parser.add_argument(
        "--tilt",
        type=float,
        default=0.0,
        help="the honest heads tilt sideways as they turn, this many degrees of roll for each "
        "degree of turn (positive: towards the shoulder turned to; heads.tilting), about the "
        "face's own axis (clips.rotation)",
    )
    parser.add_argument("--camera", default="clean", choices=list(CAMERAS))
    parser.add_argument(
        "--start",
        default="facing",
        choices=("facing", "photo"),
        help="where a live head starts: facing the camera, as the page asks before the first "
        "challenge (the photo's own yaw turned away), or at the photo's pose (a start near "
        "the neutral-pose bound then reads past it through camera noise)",
    )
    parser.add_argument("--face-px", type=int, default=180, help="face width in the clips")
    parser.add_argument(
        "--live",
        action="store_true",
        help="the heads, the still photo and the prints follow each session live, through "
        "LiveCheck: prompts as they fall due, start prompts, waits and wider turns asked "
        "again, the camera read frame by frame (a camera without H.264, such as 'noise 3, "
        "JPEG 90', the page's own compression); replays and the swapped face cannot",
    )
    parser.add_argument(
        "--size-by",
        default="clip",
        choices=("clip", "photo"),
        help="where the face width is read: in the head's first frame, as the check reads it "
        "(glasses and the turn to face the camera change it by up to 8%%), or in the photo "
        "before the head model renders it (as up to liveness-16's runs did)",
    )
    parser.add_argument(
        "--poses",
        default="mesh",
        choices=("landmarks", "mesh"),
        help="what the check reads head poses from: MediaPipe's face mesh fitted in 3D (the "
        "check's own, liveness-18), or the 5 landmarks against the person's nose drop (up to "
        "liveness-17). The photos, their start and the clips are chosen with the landmarks "
        "either way, so both read the same clips",
    )
    parser.add_argument("--save", default=None, help="also write every clip's outcome (JSON)")
    parser.add_argument(
        "--keep-pairs",
        default=None,
        help="also keep every depth pair each verdict measured in this folder, one file a "
        "clip, for benchmarks/liveness_replay.py (about 2.3 MB a session)",
    )
    parser.add_argument(
        "--report", nargs="+", default=None, help="only report outcomes saved before (JSON)"
    )
    args = parser.parse_args()
    if args.report:
        saved = []
        for path in args.report:
            try:
                saved += json.loads(Path(path).read_text())
            except (OSError, ValueError) as exc:
                parser.error(f"--report {path}: not outcomes saved by --save ({exc})")
        report([tuple(r) for r in saved])
        return
    if args.live:
        if CAMERAS[args.camera].h264_crf is not None:
            parser.error(
                f"--live reads the camera frame by frame: {args.camera!r} codes across "
                "frames (H.264); try 'noise 3, JPEG 90'"
            )
        if not set(args.cases) & set(LIVE_CASES):
            parser.error(f"--live runs only {', '.join(LIVE_CASES)}")
    from likeness.consent import liveness
    from likeness.testing import clips

    rng = random.Random(args.seed) if args.seed is not None else None
    from likeness.faces.backends import video_frame_backend
    from likeness.faces.headpose import PoseCalibration, read_pose

    backend = video_frame_backend()
    found = []
    skipped = 0
    for path, person in sorted(read_labels(require_faces_dev()).items())[: args.limit]:
        try:
            pixels, face = clips.enrolment_sized(Image.open(path), backend, args.face_px)
        except ValueError as exc:
            print(f"  {person}/{Path(path).name}: skipped ({exc})")
            skipped += 1
            continue
        found.append((f"{person}/{Path(path).name}", person, pixels, face, path))
    tried = {n for n, *_ in found} if args.only is None else set(args.only)
    prepared = []
    read_widths = []
    for name, person, pixels, face, path in found:
        # The person's nose drop from their other photos, as an enrolment takes it from
        # their photo group (from this photo itself when it is their only one).
        others = [(f.landmarks, p.shape[1::-1]) for n, who, p, f, _ in found if who == person]
        mine = [(face.landmarks, pixels.shape[1::-1])]
        calibration = PoseCalibration.from_faces(
            [o for o in others if o[0] != face.landmarks] or mine
        )
        pose = read_pose(face.landmarks, pixels.shape[1::-1], calibration)
        problem = liveness.neutral_pose_problem(pose)
        if problem:  # such a start is refused
            print(f"  {name}: skipped, refused at the start ({problem.split(';')[0]})")
            skipped += 1
            continue
        facing = -pose.yaw if args.start == "facing" else 0.0
        if args.size_by == "clip":
            try:
                pixels, face, width = clips.sized_as_read(
                    Image.open(path),
                    backend,
                    HEADS[args.head],
                    facing,
                    args.face_px,
                    poses=_pose_reader(args.poses, calibration),
                )
            except ValueError as exc:
                print(f"  {name}: skipped ({exc})")
                skipped += 1
                continue
            read_widths.append(width)
        prepared.append((name, person, pixels, face, calibration, facing))
    if len({p[1] for p in prepared}) < 2:  # each photo's "other person" comes from another
        parser.error(
            f"the photos taken ({len(prepared)}) show fewer than two people: the 'other person' "
            "case needs a second one (raise --limit)"
        )
    jobs = []
    for i, (name, person, pixels, face, calibration, facing) in enumerate(prepared):
        other = next(p for p in prepared[i + 1 :] + prepared[:i] if p[1] != person)
        for _ in range(args.sessions):
            session, earlier = liveness.new_session(rng=rng), liveness.new_session(rng=rng)
            while [c.kind for c in earlier.challenges] == [c.kind for c in session.challenges]:
                earlier = liveness.new_session(rng=rng)
            same_sequence = liveness.new_session(rng=rng)
            while [c.kind for c in same_sequence.challenges] != [
                c.kind for c in session.challenges
            ]:
                same_sequence = liveness.new_session(rng=rng)
            # Sessions are drawn for every photo, so that ``--only`` reruns a photo's
            # sessions of a whole run with the same ``--seed``.
            if name not in tried:  # still the "other person" of the photo before it
                continue
            jobs.append(
                Trial(
                    name,
                    pixels,
                    face,
                    calibration,
                    other,
                    session,
                    earlier,
                    same_sequence,
                    args.fps,
                    set(args.cases),
                    args.head,
                    args.camera,
                    facing,
                    args.face_px if args.size_by == "clip" else None,
                    args.keep_pairs,
                    len(jobs),
                    args.live,
                    args.poses,
                    args.tilt,
                )
            )
    if args.keep_pairs:
        Path(args.keep_pairs).mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("fork")
    outcomes = []
    with ctx.Pool(args.workers) as pool, progress_bar("sessions", False) as bar:
        task = bar.add_task("sessions", total=len(jobs))
        for trial in pool.imap(_trial, jobs):
            outcomes += trial
            bar.advance(task)

    size = f"{args.face_px} px" + (" in the clip" if args.size_by == "clip" else "")
    config = f"{args.head}, {args.camera}, {size}, {args.fps} fps"
    config += ", from the photo's pose" if args.start == "photo" else ""
    config += ", live" if args.live else ""
    config += ", poses from the 5 landmarks" if args.poses == "landmarks" else ""
    config += f", tilting {args.tilt:g} degrees of roll a degree of turn" if args.tilt else ""
    rows = [(config, *outcome) for outcome in outcomes]
    if args.save:
        Path(args.save).write_text(json.dumps(rows))
    print(
        f"{len({o[0] for o in outcomes})} photos facing the camera ({skipped} others skipped), "
        f"{args.sessions} random session(s) each"
    )
    if read_widths:
        print(
            f"faces as the check reads them in the head's first frame (clean): "
            f"{min(read_widths):.1f} to {max(read_widths):.1f} px"
        )
    report(rows)


def report(rows: list[tuple]) -> None:
    """Per configuration (head model, camera, face size, frame rate) and clip case: clips,
    wrong outcomes, and the figure each threshold decides on (the smallest honest one, the
    largest an attack reached); then the margins over all rows."""
    from likeness.consent import liveness

    wide = max([52, *(len(config) + 2 for config, *_ in rows)])
    print(
        f"{'head, camera, face, frame rate':<{wide}}{'clip':<20}{'clips':>6}{'wrong':>6}"
        f"{'depth':>8}{'spread':>8}  why wrong"
    )
    by_config: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for config, *outcome in rows:
        by_config[(config, outcome[1])].append(tuple(outcome))
    for (config, case), outcomes in sorted(by_config.items()):
        honest = case == "honest"
        wrong = [o for o in outcomes if o[2] != honest]
        depths = [_depth_score(o[4]) for o in outcomes]
        depths = [d for d in depths if d is not None]
        spreads = [o[5] for o in outcomes if o[5] is not None]
        pick = min if honest else max
        depth = f"{pick(depths):.2f}" if depths else "-"
        spread = f"{(max if honest else min)(spreads):.3f}" if spreads else "-"
        why = Counter(_check_of(o[3]) if honest else "passed" for o in wrong)
        print(
            f"{config:<{wide}}{case:<20}{len(outcomes):>6}{len(wrong):>6}{depth:>8}{spread:>8}  "
            + ", ".join(f"{k} {v}" for k, v in why.most_common())
        )
    print(
        "depth: the depth check's figure (verdict.depth_score: the clip's relief over its "
        "threshold, or one turn's over the single-turn bar, the larger; a head from 1), "
        "smallest of honest clips, largest of attacks; spread: the same-face check's figure, "
        "largest of honest clips, smallest of attacks (a face changed past the backend's "
        "same-face distance)"
    )
    outcomes = [tuple(r[1:7]) for r in rows]
    _report_wider(rows)
    counts: Counter = Counter()
    turns: dict[str, list[float]] = {"left": [], "right": [], "up": []}
    by_person: dict[str, dict[str, list[float]]] = {}
    honest_parallax: list[float] = []
    flat_parallax: list[float] = []
    bent_parallax: list[float] = []
    honest_depth: list[float] = []
    print_depth: list[float] = []
    for name, case, passed, reason, transcript, _spread in outcomes:
        wrong = passed != (case == "honest")
        counts[(case, "wrong" if wrong else "right")] += 1
        if wrong:
            print(f"  {name}: {case} -> {'passed' if passed else reason}")
        for entry in transcript:
            if case == "honest" and entry.get("met") and entry["challenge"] in turns:
                key = "pitch" if entry["challenge"] == "up" else "yaw"
                turns[entry["challenge"]].append(abs(entry[key]))
                person = name.split("/")[0]
                by_person.setdefault(person, {}).setdefault(entry["challenge"], []).append(
                    abs(entry[key])
                )
            if "parallax_px" in entry:
                target = {"honest": honest_parallax, "flat print turned": flat_parallax}
                target.get(case, bent_parallax if case in BENT else []).append(entry["parallax_px"])
        depth = _depth_score(transcript)
        if depth is not None:
            prints = case in BENT or case == "flat print turned"
            target = honest_depth if case == "honest" else print_depth if prints else []
            target.append(depth)
    honest = counts[("honest", "right")] + counts[("honest", "wrong")]
    fr = counts[("honest", "wrong")]
    fa = sum(v for (c, k), v in counts.items() if c != "honest" and k == "wrong")
    attacks = sum(v for (c, _), v in counts.items() if c != "honest")
    print(f"false rejects {fr} of {honest}; false accepts {fa} of {attacks}")
    print("margins (honest clips that met a challenge, at the peak frame):")
    for kind, values in turns.items():
        if values:
            limit = (
                liveness.THRESHOLDS.tilt_degrees
                if kind == "up"
                else liveness.THRESHOLDS.turn_degrees
            )
            print(f"  {kind:<6} smallest {min(values):5.1f} degrees (threshold {limit})")
    print("  per person, smallest honest turn (degrees; left, right, up):")
    for person, kinds in sorted(by_person.items()):
        cells = [f"{min(kinds[k]):5.1f}" if kinds.get(k) else "    -" for k in turns]
        print(f"    {person:<20}" + " ".join(cells))
    if honest_parallax and flat_parallax:
        print(
            f"  parallax: honest turns >= {min(honest_parallax):.2f} px, flat prints <= "
            f"{max(flat_parallax):.2f} px (threshold {liveness.THRESHOLDS.parallax_min_px})"
        )
    if bent_parallax:
        print(
            f"  parallax: bent prints up to {max(bent_parallax):.2f} px "
            f"({sum(p >= liveness.THRESHOLDS.parallax_min_px for p in bent_parallax)} of "
            f"{len(bent_parallax)} turns of bent prints pass it)"
        )
    if honest_depth or print_depth:
        honest = f"honest clips >= {min(honest_depth):.2f}, " if honest_depth else ""
        print(
            f"  depth (verdict.depth_score, a head from 1): {honest}prints that met every "
            f"pose <= {max(print_depth, default=0.0):.2f}"
        )
    by_case: dict[str, Counter] = defaultdict(Counter)
    for _, case, passed, reason, *_ in outcomes:
        if case != "honest" and not passed:
            by_case[case][_check_of(reason)] += 1
    refused = sum((by_case[case] for case in BENT), Counter())
    print("  bent prints refused by: " + ", ".join(f"{k} {v}" for k, v in refused.most_common()))
    for case, why in sorted(by_case.items()):
        print(f"    {case:<26}" + ", ".join(f"{k} {v}" for k, v in why.most_common()))


def _report_wider(rows: list[tuple]) -> None:
    """Per configuration and clip case of live sessions: how many sessions were asked for a
    wider turn once, twice..., and how many of those passed (outcomes saved before the count
    was kept have none)."""
    asked: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for config, _name, case, passed, *rest in rows:
        if len(rest) >= 4 and rest[3] is not None:
            asked[(config, case)][(rest[3], passed)] += 1
    if not asked:
        return
    print("wider turns a live session asked for (sessions asked 0, 1, 2 times, passed of them):")
    for (config, case), counts in sorted(asked.items()):
        times = sorted({n for n, _ in counts})
        cells = [
            f"asked {n}: {counts[(n, True)] + counts[(n, False)]} ({counts[(n, True)]} passed)"
            for n in times
        ]
        print(f"  {config}, {case}: " + "; ".join(cells))


def _depth_score(transcript: list[dict]) -> float | None:
    """The figure a clip's depth is judged by (``verdict.depth_score``; None when fewer than
    two turns were measured)."""
    from likeness.consent.liveness.verdict import depth_score

    if len([e for e in transcript if "reliefs_px" in e]) < 2:
        return None
    return depth_score(transcript)


def _check_of(reason: str) -> str:
    """Which check a failure reason comes from (for the bent-print summary). A challenge not
    met comes first: its reason may add that the start was seen from above."""
    for words, check in (
        ("not met in its window", "pose"),
        ("bent or folded", "relief"),
        ("flat picture", "relief"),
        ("at the start", "start pose"),
        ("when the first challenge was due", "start pose"),  # a live start still unmet
        ("px wide", "face size"),
        ("not met", "pose"),
        ("does not follow", "timing"),
        ("visible in only", "face lost"),
        ("does not match", "match"),
        ("changed during", "same face"),
        ("when asked to turn", "direction"),
    ):
        if words in reason:
            return check
    return "other"


if __name__ == "__main__":
    main()
