"""The verdict on a clip read to its end (recorded or live): checks 1 to 6 of the package."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from likeness.consent.depth import motion_directions, turn_depth
from likeness.consent.liveness.reader import (
    Box,
    ClipReader,
    FaceRegion,
    Frame,
    Reading,
    hold_frames,
    relative,
)
from likeness.consent.liveness.schedule import Challenge, ChallengeKind, ChallengeSession
from likeness.consent.liveness.thresholds import THRESHOLDS, Thresholds
from likeness.faces.headpose import HeadPose, PoseReader
from likeness.faces.protocol import FaceBackend, TurnedFaceFinder
from likeness.people.identity import PhotoGroup


@dataclass
class LivenessResult:
    passed: bool
    reason: str
    transcript: list[dict[str, Any]] = field(default_factory=list)
    template: np.ndarray | None = None  # mean frontal embedding (not stored, only committed)
    match_distance: float | None = None
    #: Every pose was met and only the turns' depth fell short: a live session may ask for
    #: another, wider turn (``LiveCheck``).
    depth_short: bool = False
    #: The same-face check's figure: the ``Thresholds.changed_frames``-th largest distance
    #: of a frontal frame's embedding from their median (the face changed when it exceeds
    #: the backend's same-face distance); None when the clip was refused before that check.
    face_spread: float | None = None


def verify_clip(
    frames: Iterable[tuple[float, np.ndarray]],
    session: ChallengeSession,
    backend: FaceBackend,
    group: PhotoGroup,
    turned_faces: TurnedFaceFinder | None = None,
    thresholds: Thresholds = THRESHOLDS,
    poses: PoseReader | None = None,
) -> LivenessResult:
    """Check a recording against its session and the person's photo group.

    Frames are read once and not kept (``ClipReader``). ``turned_faces`` looks at the frames
    of a turn where ``backend`` lost the face, while that turn is not yet met
    (``faces.backends.turned_face_finder``): without it, a person whose head leaves the
    backend's range before the turn reads as met is refused. Poses are read from the face
    mesh (``reader.liveness_poses``) unless ``poses`` says otherwise (``benchmarks`` compare
    ``headpose.LandmarkPoses``, with the person's nose drop)."""
    clip = ClipReader(session, backend, turned_faces, poses, thresholds)
    for t, image in frames:
        problem = clip.read(t, image)
        if problem:
            return LivenessResult(False, problem)
    return judge(clip, group)


def start_pose_fault(pose: HeadPose, thresholds: Thresholds = THRESHOLDS) -> str | None:
    """How a clip's starting pose cannot be measured from, "turned" or "tilted back" (None
    when it can): a head turned or tilted back too far to turn further and stay in the
    detector's range. A face read as seen from above is not refused (see
    ``Thresholds.neutral_max_pitch``). A live session tells the person what to change
    (``LiveCheck``); a recording is refused (``neutral_pose_problem``)."""
    if abs(pose.yaw) > thresholds.neutral_max_yaw:
        return "turned"
    if pose.pitch > thresholds.neutral_max_pitch:
        return "tilted back"
    return None


def neutral_pose_problem(pose: HeadPose, thresholds: Thresholds = THRESHOLDS) -> str | None:
    """Why a clip's starting pose cannot be measured from (``start_pose_fault``), in words;
    None when it can."""
    fault = start_pose_fault(pose, thresholds)
    if fault is None:
        return None
    angle = pose.yaw if fault == "turned" else pose.pitch
    return (
        f"the head was {fault} {angle:+.0f} degrees at the start; "
        "look straight at the camera to start"
    )


def face_size_problem(width: float, thresholds: Thresholds = THRESHOLDS) -> str | None:
    """Why a face ``width`` px wide (as the pose reader reads it, ``PoseReader.read``) is too
    small to judge depth on, or None. The width is rounded down: a face between 174.5 and
    175 px wide was told "the face is 175 px wide ... (at least 175 px)"
    (``benchmarks/liveness.py --head canonical+hair``, ``eric_clapton/2``)."""
    if width >= thresholds.min_face_px:
        return None
    return (
        f"the face is {math.floor(width)} px wide; come closer to the camera "
        f"(at least {thresholds.min_face_px} px)"
    )


def start_problem(clip: ClipReader) -> str | None:
    """Why a clip read past its first challenge's start cannot be judged from its start (no
    face looking at the camera before it, a pose that cannot be measured from, a face too
    small), or None."""
    th = clip.thresholds
    if clip.neutral is None or clip.neutral_frame() is None:
        return "no face looking at the camera before the first challenge"
    return neutral_pose_problem(clip.neutral, th) or face_size_problem(clip.lead_width(), th)


def judge(clip: ClipReader, group: PhotoGroup) -> LivenessResult:
    """The judgement of a clip read to its end: checks 1 to 6."""
    th = clip.thresholds
    seen, total, turned_away = clip.seen, clip.total, clip.turned_away
    if total == 0:
        return LivenessResult(False, "the recording has no frames")
    by_backend = len(seen) - clip.finder_frames
    if by_backend < (1 - th.max_missing) * (total - turned_away):
        return LivenessResult(
            False,
            f"one face was visible in only {by_backend} of {total - turned_away} "
            "frames (keep exactly one face in view)",
        )
    problem = start_problem(clip)
    if problem:
        return LivenessResult(False, problem)
    neutral, neutral_frame = clip.neutral, clip.neutral_frame()
    assert neutral is not None and neutral_frame is not None  # start_problem checked
    # From here on every pose is relative to the neutral one.
    seen = [replace(f, pose=relative(f.pose, neutral)) for f in seen]

    # Same face throughout: the frames facing the camera agree with each other. Those are the
    # frames near the neutral pose, and every frame that meets a centre challenge in its
    # window, which faces the camera by the check's own measure. Read by the face mesh, one
    # person's level face can read 6 degrees of pitch off another's (the astronaut's -5.4,
    # Obama's +0.7): a face swapped in after the lead-in met the last centre at 6.1 degrees,
    # outside ``frontal_degrees``, and no frame of it was compared
    # (``test_a_face_swapped_mid_clip_fails``).
    centres = [c for c in clip.readings[0].challenges if c.kind == ChallengeKind.CENTRE]
    frontal = [
        f
        for f in seen
        if math.hypot(f.pose.yaw, f.pose.pitch) < th.frontal_degrees
        or any(c.start <= f.t <= c.end and c.met_by(f.pose, th) for c in centres)
    ]
    if not frontal:  # a lead-in jittering either side of its median, and never centred
        return LivenessResult(
            False,
            "no frame faced the camera (look straight at it before the first challenge and "
            "when asked to)",
        )
    missing = [f.t for f in frontal if f.embedding is None]
    if missing:  # ``ClipReader.may_face_camera`` embeds every frame this can take
        raise AssertionError(f"frames facing the camera were read without an embedding: {missing}")
    emb = np.stack([f.embedding for f in frontal if f.embedding is not None])
    # Measured from the face that started the session (the lead-in's frames facing the
    # camera), not from the median of every frame: with a face swapped in for about as many
    # frames as the first one showed, that median lies halfway between the two, and neither
    # face's frames lay past the same-face distance from it (0.43 for the swap above).
    lead = {f.t for f in clip.lead_in()}
    started = [e for f, e in zip(frontal, emb, strict=True) if f.t in lead] or list(emb)
    spread = np.linalg.norm(emb - np.median(started, axis=0), axis=1)
    face_spread = float(np.sort(spread)[-min(th.changed_frames, len(spread))])
    changed = np.flatnonzero(spread > clip.backend.distances.same_face)
    if len(changed) >= th.changed_frames:
        t_bad = frontal[int(changed[0])].t
        return LivenessResult(
            False,
            f"the face changed during the recording (at {t_bad:.1f}s)",
            face_spread=face_spread,
        )
    result = _judge_turns_and_match(clip, group, seen, neutral, neutral_frame, emb)
    result.face_spread = face_spread
    return result


def _judge_turns_and_match(
    clip: ClipReader,
    group: PhotoGroup,
    seen: list[Frame],
    neutral: HeadPose,
    neutral_frame: Frame,
    emb: np.ndarray,
) -> LivenessResult:
    """The judgement of a clip whose face stayed the same (check 5): checks 2 to 4 and 6."""
    th = clip.thresholds
    # A recording may be mirrored or not (phones differ, and a person turning to their own
    # left turns towards the image's right unless the camera mirrors). The whole sequence
    # read mirrored passes too: an attacker can mirror a replay anyway, so refusing mirrored
    # clips would only refuse honest people (benchmarks/liveness_timing.py measures replays).
    # The mirrored reading is judged only when the direct one fails (each judgement measures
    # parallax on every turn).
    need = hold_frames(clip.times, th.min_hold_s)  # at the whole clip's frame rate
    judging = _Judging(clip, seen, neutral, neutral_frame, need)
    direct_reading, mirrored_reading = clip.readings
    outcome, reached = judging.challenges(direct_reading)
    if not outcome.passed:
        direct = outcome
        mirrored, mirrored_reached = judging.challenges(mirrored_reading)
        # The reading whose poses the clip follows is the one to explain a failure by (a
        # mirrored clip that fails on depth is told about depth, not about directions).
        poses = judging.poses_met(direct_reading), judging.poses_met(mirrored_reading)
        if mirrored.passed or (poses[1], mirrored_reached) > (poses[0], reached):
            outcome = mirrored
            if not outcome.passed:
                outcome.reason = f"{outcome.reason} (read as a mirrored recording)"
        if not outcome.passed:
            return judging.wrong_way(direct.transcript) or outcome
    transcript = outcome.transcript

    template = np.mean(emb, axis=0).astype(np.float32)
    distance = group.distance(template)
    if not group.matches(template):
        return LivenessResult(
            False,
            f"the face does not match this person's photos "
            f"(distance {distance:.2f} >= {group.match_distance})",
            transcript,
            None,
            distance,
        )
    return LivenessResult(
        True, "all challenges met by a live, matching face", transcript, template, distance
    )


_BENT_PICTURE = (
    "a bent or folded picture (its depth changes across one direction only, a face's does not)"
)


def clip_relief(transcript: list[dict[str, Any]], retries: Collection[int] = ()) -> float | None:
    """The relief a session is judged by: the median over every measured frame of its left
    and right turns, the wider turns it asked again for (``retries``) left out; None when no
    frame was measured."""
    reliefs = [
        r for i, e in enumerate(transcript) if i not in retries for r in e.get("reliefs_px", [])
    ]
    return float(np.median(reliefs)) if reliefs else None


def depth_score(
    transcript: list[dict[str, Any]], retries: Collection[int] = (), th: Thresholds = THRESHOLDS
) -> float | None:
    """How well a session's turns show a head's depth, as a multiple of the bar the
    evidence must reach (at least 1 shows a head; None when no turn was measured).

    Two kinds of evidence, each against its own bar, the stronger counting:

    - the session's relief (``clip_relief``: the median over every measured frame of its
      own left and right turns) against ``Thresholds.relief_min_px``;
    - any single turn's relief (its own median), against ``Thresholds.wider_turn_relief_px``
      (twice as high, as one turn has half the frames). A wider turn a live session asked
      for (``retries``) is judged this way only; so is each of the session's own turns, so
      that one turn read through a burst of noise or compression does not sink a session
      whose other turn shows a head plainly. No single turn of a print reached this bar
      (``benchmarks/liveness_depth.py``: a live session's tries measure the same)."""
    session = clip_relief(transcript, retries)
    scores = [] if session is None else [session / th.relief_min_px]
    scores += [
        float(np.median(e["reliefs_px"])) / th.wider_turn_relief_px
        for e in transcript
        if e.get("reliefs_px")
    ]
    return max(scores) if scores else None


def depth_failure(
    transcript: list[dict[str, Any]], retries: Collection[int], th: Thresholds = THRESHOLDS
) -> str | None:
    """Why the turns of a judged reading (its transcript) do not show a head's depth (None
    when they do).

    Each left or right turn measured the relief of several of its frames against the
    neutral one (``_Judging._depth``). A bent or flat print is a ruled sheet in every frame,
    so its relief is tracking noise each time, and a single pair can read high by chance; a
    single honest pair can read low where few points track. So the clip is judged on
    medians: over all of its pairs, or over one turn's against a higher bar
    (``depth_score``).

    ``retries`` are the transcript indices of the wider turns a live session asked for
    (``LiveCheck``): each is judged on its own frames, and kept out of the session's own
    median."""
    turns = [e for e in transcript if "relief_px" in e]
    if not turns:
        moved = next((e for e in transcript if e.get("moved_away")), None)
        if moved is None:
            return None  # no left or right turn to measure (a session always has both)
        return (
            f"the face moved away from where it started during '{moved['challenge']}' "
            "(keep your head in the same place in the frame, and only turn it)"
        )
    score = depth_score(transcript, retries, th)
    if score is not None and score >= 1.0:
        return None
    flat = max(e["parallax_px"] for e in turns) < th.parallax_min_px
    names = " and ".join(f"'{e['challenge']}'" for e in turns)
    looks_like = "a flat picture (no depth)" if flat else _BENT_PICTURE
    return f"challenge {names} moved the face like {looks_like}"


def off_beat_frame(
    seen: Sequence[Frame],
    c: Challenge,
    challenges: Iterable[Challenge],
    th: Thresholds = THRESHOLDS,
) -> Frame | None:
    """The first frame showing challenge ``c``'s pose alone, off this session's clock (poses
    relative to the neutral one): well before its window or long after it, and not near
    another window of its kind (a sequence may ask for one twice, left-right-left).

    A frame showing the pose by no more than ``Thresholds.off_beat_fringe_degrees``, between
    neighbours that do not show it and lie within ``off_beat_step_degrees`` of it, is a head
    passing between two other poses (a right turn read with a few degrees of pitch on its
    way, one frame reading as a look up), not a pose held: it is let off. The exemption is
    in degrees, not in frames held in a row, so that an edit swapping frames of a recording
    for others gains little from it: it can make a frame lone, not make a held pose
    shallow, and a frame swapped in from another pose lies further from its neighbours than
    a head moves between two frames."""
    if c.kind == ChallengeKind.CENTRE:
        return None

    def passing(k: int) -> bool:
        """Frame ``k`` lies between neighbours that do not show the pose and lie near it."""
        f = seen[k]
        neighbours = [seen[j] for j in (k - 1, k + 1) if 0 <= j < len(seen)]
        return len(neighbours) == 2 and all(
            not c.shows_only(n.pose, th)
            and math.hypot(n.pose.yaw - f.pose.yaw, n.pose.pitch - f.pose.pitch)
            <= th.off_beat_step_degrees
            for n in neighbours
        )

    due = [(o.start - th.early_s, o.end + th.late_s) for o in challenges if o.kind == c.kind]
    for k, f in enumerate(seen):
        before = c.start - th.off_beat_span_s <= f.t < c.start - th.early_s
        after = c.end + th.late_s < f.t <= c.end + th.late_s + th.off_beat_span_s
        if not (before or after) or any(a <= f.t <= b for a, b in due):
            continue
        if not c.shows_only(f.pose, th):
            continue
        if c.shown_by(f.pose, th) <= th.off_beat_fringe_degrees and passing(k):
            continue
        return f
    return None


@dataclass
class _Judging:
    """A clip's frames with poses relative to its neutral pose, judged challenge by
    challenge in one reading or the other."""

    clip: ClipReader
    seen: list[Frame]
    neutral: HeadPose
    neutral_frame: Frame
    need: int  # frames a pose must be held

    @property
    def th(self) -> Thresholds:
        return self.clip.thresholds

    def challenges(self, reading: Reading) -> tuple[LivenessResult, int]:
        """The challenges in ``reading``, in order: a result that passes with the
        transcript, or the first failure, with how many challenges were met before it."""
        transcript: list[dict[str, Any]] = []
        asked_kinds = [c.kind for c in self.clip.readings[0].challenges]
        for i, c in enumerate(reading.challenges):
            # Reasons and the transcript name what the session asked (c is what is looked for).
            failure = self._challenge(reading, i, c, asked_kinds[i], transcript)
            if failure is not None:
                return LivenessResult(False, failure, transcript), i
        failure = depth_failure(transcript, self.clip.retries, self.th)
        if failure is not None:
            short = LivenessResult(False, failure, transcript, depth_short=True)
            return short, len(reading.challenges)
        return LivenessResult(True, "", transcript), len(reading.challenges)

    def _challenge(
        self,
        reading: Reading,
        i: int,
        c: Challenge,
        asked: ChallengeKind,
        transcript: list[dict[str, Any]],
    ) -> str | None:
        """Judge challenge ``i`` (its transcript entry appended): why it failed, or None."""
        th, seen, need = self.th, self.seen, self.need
        window = [f for f in seen if c.start <= f.t <= c.end]
        meeting = [f for f in window if c.met_by(f.pose, th)]
        entry: dict[str, Any] = {
            "challenge": str(asked),
            "window": [c.start, c.end],
            "frames": len(window),
        }
        transcript.append(entry)
        if reading.mirrored:
            entry["reading"] = "mirrored"
        if reading.found[i]:
            entry["turned_face_frames"] = reading.found[i]
        if len(meeting) < need:
            entry["met"] = False
            return self._unmet_reason(c, asked)
        off_beat = off_beat_frame(seen, c, reading.challenges, th)
        if off_beat is not None:
            entry["met"] = False
            entry["off_beat_at"] = round(off_beat.t, 2)
            when = "before its window opened" if off_beat.t < c.start else "long after it closed"
            return (
                f"challenge '{asked}' ({c.start:.1f}-{c.end:.1f}s) was met {when} "
                f"(at {off_beat.t:.1f}s): the recording does not follow this session's timing"
            )
        # The most turned frame of a left or right turn: the peak the transcript reports.
        widest = reading.widest.get(i)
        if c.kind.sideways and widest is not None:
            peak = replace(widest, pose=relative(widest.pose, self.neutral))
        else:
            peak = meeting[len(meeting) // 2]
        entry.update(
            met=True,
            at=round(peak.t, 2),
            yaw=round(peak.pose.yaw, 1),
            pitch=round(peak.pose.pitch, 1),
        )
        if c.kind.sideways:
            self._depth(reading.depth_frames(i) or [peak], entry)
        return None

    def _depth(self, turned: list[Frame], entry: dict[str, Any]) -> None:
        """Parallax and relief between the neutral frame and each kept frame of a turn, into
        the turn's transcript entry (judged over all turns, ``depth_failure``); or that the
        face left the region kept for measuring."""
        region: FaceRegion | None = self.clip.region
        start = self.neutral_frame
        if region is not None:
            turned = [f for f in turned if f.region is not None and region.holds(f.box)]
        if region is None or not turned or start.region is None or not region.holds(start.box):
            entry["moved_away"] = True
            return
        face_box = region.box_in(start.read_box)
        # Depth at all (a flat picture has none: the reason names it), then a face's depth
        # shape (a bent or folded picture has depth across one direction only).
        pairs = [self._pair_depth(start, f, face_box) for f in turned]
        entry["parallax_px"] = round(float(np.median([p for p, _ in pairs])), 2)
        entry["relief_px"] = round(float(np.median([r for _, r in pairs])), 2)
        entry["reliefs_px"] = [round(r, 2) for _, r in pairs]
        # When each measured frame was taken, and how far it was turned from the neutral pose.
        entry["depth_frames"] = [
            [round(f.t, 2), round(relative(f.pose, self.neutral).yaw, 1)] for f in turned
        ]

    def _pair_depth(self, start: Frame, turned: Frame, face_box: Box) -> tuple[float, float]:
        """``turn_depth`` between the neutral frame and a turned one, measured once a clip
        (``ClipReader.depths``): a frame's time names it within a clip (a live session's
        times run forwards), its region is cropped once, and the poses are part of the key
        (a turn's peak stands in with its pose made relative, ``_challenge``)."""
        assert start.region is not None and turned.region is not None
        key = (start.t, turned.t, face_box, start.pose, turned.pose)
        if key not in self.clip.depths:
            self.clip.depths[key] = turn_depth(
                start.region,
                turned.region,
                face_box,
                motion_directions(start.pose, turned.pose),
                turned.pose.roll - start.pose.roll,
            )
        return self.clip.depths[key]

    def _unmet_reason(self, challenge: Challenge, asked: ChallengeKind) -> str:
        """Why a challenge was not met, with what to change when the start explains it."""
        reason = (
            f"challenge '{asked}' ({challenge.start:.1f}-{challenge.end:.1f}s) was not met in "
            "its window"
        )
        if self.neutral.pitch < self.th.from_above_pitch:
            # A camera above the face and a head bowed before it look alike to 5 points.
            reason += (
                f"; the face was seen from above ({self.neutral.pitch:+.0f} degrees) at the "
                "start, where head turns read poorly: hold the camera at eye level, chin level"
            )
        return reason

    def poses_met(self, reading: Reading) -> int:
        """How many of the reading's challenges the clip's poses meet (held long enough in
        their windows), whatever the depth checks say."""
        return sum(
            sum(c.met_by(f.pose, self.th) for f in self.seen if c.start <= f.t <= c.end)
            >= self.need
            for c in reading.challenges
        )

    def wrong_way(self, transcript: list[dict[str, Any]]) -> LivenessResult | None:
        """A failure that says which turn went the wrong way, when the person turned some
        turns the way they were asked and others the other way (None otherwise): neither
        reading of the recording can pass then, and "not met" would not tell them why. A
        clip that follows one reading throughout (mirrored or not) is never told so."""
        th, need = self.th, self.need
        direct, mirrored = self.clip.readings
        if len(direct.challenges) in (self.poses_met(direct), self.poses_met(mirrored)):
            return None
        as_asked, other_way = [], []
        for i, (c, m) in enumerate(zip(direct.challenges, mirrored.challenges, strict=True)):
            if not c.kind.sideways:
                continue
            # A turn counts only once a live person has left the previous pose (late_s into
            # the window): a head coming back from a left turn is still left at the start of
            # the next window, which asks for a right turn in a mirrored clip.
            settled = [f for f in self.seen if c.start + th.late_s <= f.t <= c.end]
            if sum(c.met_by(f.pose, th) for f in settled) >= need:
                as_asked.append(i)
            elif sum(m.met_by(f.pose, th) for f in settled) >= need:
                other_way.append(i)
        if not as_asked or not other_way:
            return None
        c, m = direct.challenges[other_way[0]], mirrored.challenges[other_way[0]]
        right = direct.challenges[as_asked[0]]
        return LivenessResult(
            False,
            f"challenge '{c.kind}' ({c.start:.1f}-{c.end:.1f}s): you turned {m.kind} when "
            f"asked to turn {c.kind}, but {right.kind} at {right.start:.1f}-{right.end:.1f}s "
            "the way it was asked (turn to the side the prompt names, your own left or right, "
            "every time)",
            transcript,
        )
