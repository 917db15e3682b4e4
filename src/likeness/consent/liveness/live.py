"""Live enrolment: a session checked frame by frame as the camera sends it.

The prompts are not shown in advance: each is revealed when it falls due, so a recording made
earlier cannot know them. They wait for the person (``LivePacing``). Everything else is judged
as in a recording (``verdict.judge``), on the schedule as it ran.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from likeness.consent.liveness.reader import ClipReader, neutral_pose
from likeness.consent.liveness.schedule import (
    WORDS,
    Challenge,
    ChallengeKind,
    ChallengeSession,
)
from likeness.consent.liveness.thresholds import THRESHOLDS, Thresholds
from likeness.consent.liveness.verdict import (
    LivenessResult,
    judge,
    start_pose_fault,
    start_problem,
)
from likeness.faces.headpose import PoseReader
from likeness.faces.protocol import FaceBackend, TurnedFaceFinder
from likeness.people.identity import PhotoGroup


@dataclass(frozen=True)
class LivePacing:
    """How a live session waits for the person, and how closely frames keep to real time."""

    #: The first prompt waits (up to this long) until a face has been seen ...
    lead_wait_s: float = 10.0
    #: ... for this many frames.
    lead_frames: int = 3
    #: A turn not yet reached when its window closes gets this many seconds more ...
    step_s: float = 1.0
    #: ... up to this many in all (later prompts move with it).
    extra_s: float = 4.0
    #: Frame times are the camera's (the page sends each frame with its time in the stream),
    #: and must keep to the server's clock: never more than ``ahead_s`` ahead of it (frames
    #: made faster than real time) nor ``behind_s`` behind (frames made or sent too slowly to
    #: be a live answer to the prompts).
    ahead_s: float = 0.5
    behind_s: float = 2.0
    #: When every pose was met but the turns' depth fell short, the session asks for a wider
    #: turn, at most this many times; each is judged on its own (``verdict.depth_failure``),
    #: so a print gets as many draws of its tracking noise. ``benchmarks/liveness_depth.py``
    #: prints the chance one draw of a print passes, and the chance per session with these
    #: tries.
    depth_retries: int = 2
    #: ... in a window this long, then facing the camera for ``retry_centre_s``.
    retry_window_s: float = 3.0
    retry_centre_s: float = 1.5


PACING = LivePacing()

#: What a wider turn asks (the person's own side, as ``WORDS``).
WIDER = {
    ChallengeKind.LEFT: "the camera needs a wider turn: turn your head further to your own left",
    ChallengeKind.RIGHT: (
        "the camera needs a wider turn: turn your head further to your own right"
    ),
}


#: What a turn still unmet when its window closed asks while the session waits for it
#: (``LivePacing.step_s``): a turn the camera reads short (a face whose photos are turned
#: the other way, landmarks caught on glasses' rims) is met by turning further.
FURTHER = {
    ChallengeKind.LEFT: "a little further: turn your head more to your own left",
    ChallengeKind.RIGHT: "a little further: turn your head more to your own right",
    ChallengeKind.UP: "a little further: look up more",
}


#: A face too small at the start to judge depth on (``Thresholds.min_face_px``).
TOO_FAR = "too far from the camera"
#: What a start that cannot be measured from is told before the first challenge, by its
#: fault: a head turned or tilted back too far (``verdict.start_pose_fault``), or ``TOO_FAR``.
START_WORDS = {
    "turned": "turn to face the camera",
    "tilted back": "lower your chin a little: look straight at the camera",
    TOO_FAR: "come closer to the camera",
}


@dataclass(frozen=True)
class Prompt:
    """What a live page shows now. ``kind``: "start" (look at the camera, before the first
    challenge; the words say what to change while the head is turned or tilted back too
    far), "closer" (then, while the face is too small), a challenge's kind (left, right, up,
    centre), or "done"; ``index`` counts the challenges (-1 before the first); ``face``: the
    last frame showed one face."""

    kind: str
    words: str
    index: int
    face: bool

    def as_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "words": self.words, "index": self.index, "face": self.face}


class LiveCheck:
    """A live enrolment checked frame by frame as the camera sends it.

    ``feed`` reads one frame (as ``verify_clip`` does, keeping no frame) and answers with the
    prompt to show now; ``finish`` gives the verdict once ``done``. The session's sequence
    and timing are drawn as for a recording (``new_session``), but only the prompt due is
    ever revealed, and the schedule waits for the person (see ``LivePacing``)."""

    def __init__(
        self,
        session: ChallengeSession,
        backend: FaceBackend,
        group: PhotoGroup,
        turned_faces: TurnedFaceFinder | None = None,
        clock: Callable[[], float] = time.monotonic,
        thresholds: Thresholds = THRESHOLDS,
        pacing: LivePacing = PACING,
        poses: PoseReader | None = None,
    ):
        self.clip = ClipReader(session, backend, turned_faces, poses, thresholds)
        self.group, self.clock, self.pacing = group, clock, pacing
        self.failure: str | None = None
        self.waited = 0.0  # seconds the first prompt waited for a face
        self.extended = [0.0] * len(session.challenges)
        self.last_t = -math.inf
        self.origin: tuple[float, float] | None = None  # (first frame's time, clock then)
        self.face = False
        #: What the last lead-in face was asked to change before the first challenge (its
        #: fault, a key of ``START_WORDS``), or None (``_check_start``).
        self.asking: str | None = None
        self.given_up = False  # a turn's wait ran out unmet
        self.wider: set[int] = set()  # challenges added to ask for a wider turn
        self.short_reason: str | None = None  # why the first wider turn was asked for
        #: The verdict judged at the end of the schedule when no wider turn followed: no
        #: frame is read after it, so ``finish`` need not judge the clip again.
        self.verdict: LivenessResult | None = None

    @property
    def finder(self) -> TurnedFaceFinder | None:
        """The slower detector that looks again where the backend lost a turned face."""
        return self.clip.finder

    @property
    def schedule(self) -> ChallengeSession:
        """The session as it ran so far (windows moved by waiting)."""
        return self.clip.session

    @property
    def done(self) -> bool:
        ended = self.last_t > self.clip.session.challenges[-1].end
        return self.failure is not None or self.given_up or ended

    def feed(self, t: float, image: np.ndarray) -> Prompt:
        """Read the frame the camera took at ``t`` seconds; the prompt to show now."""
        if self.done:
            return self.prompt()
        self.failure = self._off_clock(t)
        if self.failure is None:
            self._wait_for_person(t)
            if self.given_up:
                return self.prompt()
            seen = len(self.clip.seen)
            self.failure = self.clip.read(t, image)
            self.face = len(self.clip.seen) > seen
            self.last_t = t
            if self.face and not self.clip.settled:
                self._check_start(t)
            if self.done and self.failure is None and not self.given_up:
                self._ask_wider_turn(t)
        return self.prompt()

    def _ask_wider_turn(self, t: float) -> None:
        """At the end of the schedule: when every pose was met and only the turns' depth fell
        short, ask once more (up to ``LivePacing.depth_retries``) for the turn that read the
        least depth, wider, then a look at the camera."""
        if len(self.wider) >= self.pacing.depth_retries:
            return
        verdict = judge(self.clip, self.group)
        turns = [e for e in verdict.transcript if "relief_px" in e]
        if verdict.passed or not verdict.depth_short or not turns:
            self.verdict = verdict
            return
        self.short_reason = self.short_reason or verdict.reason
        least = min(turns, key=lambda e: e["relief_px"])
        kind = ChallengeKind(least["challenge"])
        start = round(t + 1e-3, 3)
        end = round(start + self.pacing.retry_window_s, 3)
        back = round(end + self.pacing.retry_centre_s, 3)
        added = (Challenge(kind, start, end), Challenge(ChallengeKind.CENTRE, end, back))
        self.wider.add(len(self.clip.session.challenges))
        self.extended += [0.0] * len(added)
        self.clip.extend(added, retry=0)

    def _off_clock(self, t: float) -> str | None:
        now = self.clock()
        if self.origin is None:
            self.origin = (t, now)
        if not math.isfinite(t) or t <= self.last_t:
            return "the frames' times do not run forwards"
        lead = (t - self.origin[0]) - (now - self.origin[1])
        if lead > self.pacing.ahead_s:
            return "the frames run faster than real time"
        if lead < -self.pacing.behind_s:
            return (
                f"the frames arrive more than {self.pacing.behind_s:.0f} s after they were "
                "taken (a slow connection or computer): try again"
            )
        return None

    def _check_start(self, t: float) -> None:
        """Before the first challenge: a head turned or tilted back too far to turn from
        (``verdict.start_pose_fault``) is asked to look straight at the camera, then a
        face narrower than ``Thresholds.min_face_px`` to come closer. The first
        challenge waits, as for a person not yet in view, and the lead-in starts again after
        it, so the turns are measured against a neutral frame at the size and pose they are
        seen from. A recording cannot be asked: it is refused at the start (``verdict.judge``).

        A reading can stay past the bound however the person moves: up to liveness-17, five
        landmarks read a level head wearing round glasses 11 degrees back
        (``benchmarks/liveness.py --head canonical+glasses``, ``john_lennon/2``: +21 to +22
        against the bound of 20), and still +20 to +22 with the chin 16 degrees down. The
        face mesh reads that head level, but a session whose start still reads past a
        bound when the first challenge is due is refused, saying what it asked
        (``finish``)."""
        # Read over the lead-in so far, as the verdict reads them (medians, from
        # ``LivePacing.lead_frames`` frames on): one frame's jitter does not start it again.
        lead, th = self.clip.lead_in(), self.clip.thresholds
        if len(lead) < self.pacing.lead_frames:
            return
        pose = neutral_pose(lead)
        # First the pose: a head tilted back reads narrower.
        self.asking = start_pose_fault(pose, th)
        if self.asking is None and self.clip.lead_width() < th.min_face_px:
            self.asking = TOO_FAR
        if self.asking is not None:
            self.clip.restart_lead(after=t)

    def _wait_for_person(self, t: float) -> None:
        clip, pacing = self.clip, self.pacing
        if not clip.settled and t >= clip.first.start and self.waited < pacing.lead_wait_s:
            lead = clip.lead_in()
            if len(lead) < pacing.lead_frames or not self.face or self.asking is not None:
                by = t - clip.first.start + pacing.step_s
                self.waited += by
                clip.delay(0, by)
                return
        for k, c in enumerate(clip.session.challenges):
            if c.kind == ChallengeKind.CENTRE or not self.last_t <= c.end < t:
                continue
            if not clip.unmet(k):
                continue
            if self.extended[k] >= pacing.extra_s:
                self.given_up = True  # no reading can pass now: judge without waiting more
                return
            by = min(t - c.end + pacing.step_s, pacing.extra_s - self.extended[k])
            self.extended[k] += by
            clip.delay(k, by, grow=True)

    def prompt(self) -> Prompt:
        challenges = self.clip.session.challenges
        if self.done:
            return Prompt("done", "finished: checking", len(challenges), self.face)
        t = self.last_t
        if t < challenges[0].start:
            if self.asking is None:
                return Prompt("start", "look straight at the camera", -1, self.face)
            kind = "closer" if self.asking == TOO_FAR else "start"
            return Prompt(kind, START_WORDS[self.asking], -1, self.face)
        k = next((k for k, c in enumerate(challenges) if c.start <= t <= c.end), None)
        if k is None:  # between two windows
            k = max(i for i, c in enumerate(challenges) if c.end < t)
            return Prompt("centre", WORDS[ChallengeKind.CENTRE], k, self.face)
        kind = challenges[k].kind
        if k in self.wider:
            return Prompt(str(kind), WIDER[kind], k, self.face)
        if self.extended[k] and self.clip.unmet(k):  # its window closed before it was met
            return Prompt(str(kind), FURTHER[kind], k, self.face)
        return Prompt(str(kind), WORDS[kind], k, self.face)

    def finish(self) -> LivenessResult:
        """The verdict: the first failure met live, or the whole clip's judgement."""
        if self.failure:
            return LivenessResult(False, self.failure)
        if not self.done:
            return LivenessResult(
                False, "the camera stopped before the last challenge ended (try again)"
            )
        result = self.verdict or judge(self.clip, self.group)
        if not result.passed and self.asking is not None and start_problem(self.clip):
            # The wait for the start ran out while the person was being asked to change it:
            # refused at the start, with or without a neutral pose read from the last frames
            # of the lead-in (as a recording starting so would be told).
            asked = START_WORDS[self.asking].split(":")[0]
            result.reason = (
                f"the face still read as {self.asking} when the first challenge was due, "
                f"after {self.waited:.0f} s of asking to {asked} (try again: "
                "the camera at eye level, the face in the middle of the picture)"
            )
        if not result.passed and self.short_reason and not result.depth_short:
            # The wider turn failed otherwise (not made, made the other way): the session
            # fell short on depth first, which is what the person needs to hear.
            result.reason = f"{self.short_reason}; then the wider turn: {result.reason}"
        return result
