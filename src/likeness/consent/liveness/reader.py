"""Reading a clip once, frame by frame, keeping what the checks need and no frame.

Each face's time, box and pose is kept, its embedding where the frame may face the camera
(the only frames the same-face check and the match compare, ``ClipReader.may_face_camera``),
and the face region of the few frames parallax is measured on. Where the backend loses the
face inside a turn's window, a finder (a slower detector with a wider range) looks for it
while that turn is unmet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from likeness.consent.liveness.schedule import Challenge, ChallengeKind, ChallengeSession
from likeness.consent.liveness.thresholds import Thresholds
from likeness.faces.headpose import (
    HeadPose,
    MeshPoses,
    PoseReader,
    pose_of_rotation,
    rotation_of_pose,
)
from likeness.faces.protocol import (
    DetectedFace,
    FaceBackend,
    LocatedFace,
    LocatingBackend,
    TurnedFaceFinder,
)

#: The finder (a slow detector) tries at most this many frames of one challenge's window.
MAX_FINDER_TRIES = 20
#: No frame is kept whole (a phone's 15-second 1080p clip is 2.6 GB): only the clip's face
#: region (the first face seen, grown by REGION_PAD face widths on every side), in grey, of the
#: frames parallax is measured on: one lead-in frame every LEAD_KEEP_S (the one closest to the
#: neutral pose is measured from) and the most turned frame of each left or right turn. A face
#: that leaves that region cannot be measured.
REGION_PAD = 1.0
LEAD_KEEP_S = 0.2
#: Depth is measured on several frames of each left or right turn, not one: the first frame
#: in each band of this many degrees between the turn threshold and
#: ``Thresholds.depth_max_degrees``, on the way round and again on the way back (up to
#: ``Thresholds.late_s`` after the window closes: a person turns back when the next prompt
#: shows). One pair of frames can read low where few points track; a median over several
#: cannot. A turn that has no frame in that range (a head swung past it between two frames)
#: is measured on its first frame beyond it.
TURN_BIN_DEGREES = 2.0
#: The band a turn's first frame past ``Thresholds.depth_max_degrees`` is kept under.
BEYOND = -1

Box = tuple[int, int, int, int]


@dataclass
class Frame:
    """What is kept of one frame with one face."""

    t: float
    box: Box  # frame pixels
    pose: HeadPose  # as estimated; relative to the neutral pose once that is known
    #: None where the frame was read turned away from the camera (``may_face_camera``).
    embedding: np.ndarray | None
    width: float  # the face's width as the pose reader reads it (``PoseReader.read``)
    #: The face's box as the pose reader reads it (``HeadReading.box``): the neutral frame's
    #: is where depth is measured (liveness-22; the detector's box, ``box``, before).
    read_box: Box
    region: np.ndarray | None = None  # the face region, kept where parallax may be measured


@dataclass(frozen=True)
class FaceRegion:
    """The part of every frame kept for the parallax check (see ``REGION_PAD``)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def around(cls, box: Box, shape: tuple[int, ...]) -> FaceRegion:
        x0, y0, x1, y1 = box
        width = max(1, x1 - x0)
        pad = int(REGION_PAD * width)
        h, w = shape[:2]
        return cls(max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad))

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The region of ``image`` in grey (a new array: the frame itself is not held)."""
        import cv2

        part = np.ascontiguousarray(image[self.y0 : self.y1, self.x0 : self.x1])
        return cv2.cvtColor(part, cv2.COLOR_RGB2GRAY)

    def box_in(self, box: Box) -> Box:
        """``box`` in the coordinates of ``crop``'s image."""
        x0, y0, x1, y1 = box
        return (x0 - self.x0, y0 - self.y0, x1 - self.x0, y1 - self.y0)

    def holds(self, box: Box) -> bool:
        x0, y0, x1, y1 = box
        return x0 >= self.x0 and y0 >= self.y0 and x1 <= self.x1 and y1 <= self.y1


@dataclass
class Reading:
    """One reading of the session's sequence, counted as frames arrive: as the session says,
    or mirrored (left and right swapped; see ``verify_clip``)."""

    challenges: tuple[Challenge, ...]
    mirrored: bool
    #: Frames meeting each challenge so far.
    met: list[int] = field(init=False)
    #: Frames the finder found meeting each challenge.
    found: list[int] = field(init=False)
    #: The most turned frame of each left or right challenge (the turn's peak, as the
    #: transcript reports it; its region is not kept for that).
    widest: dict[int, Frame] = field(default_factory=dict)
    #: Frames of each left or right challenge that depth may be measured on (regions kept),
    #: by (on the way back, band): ``depth_band``, ``BEYOND`` the first past the depth range.
    turned: dict[int, dict[tuple[bool, int], Frame]] = field(default_factory=dict)

    def depth_frames(self, k: int) -> list[Frame]:
        """The frames of turn ``k`` that depth is measured on: those in the depth range, or
        failing any, the first beyond it."""
        bands = self.turned.get(k, {})
        inside = [f for (_, band), f in sorted(bands.items()) if band != BEYOND]
        if not inside and (False, BEYOND) in bands:
            return [bands[(False, BEYOND)]]
        return inside

    def __post_init__(self) -> None:
        self.met = [0] * len(self.challenges)
        self.found = [0] * len(self.challenges)


def liveness_poses() -> PoseReader:
    """What a session's head poses are read with: MediaPipe's face mesh, fitted in 3D
    (``headpose.MeshPoses``; liveness-18). Up to liveness-17 they were read from dlib's 5
    landmarks against the person's own nose drop (``headpose.LandmarkPoses``), which behind
    glasses end on the eye corners in one frame and on the rims in the next: a still head
    read 8 to 10 degrees up now and then, and one level head wearing round glasses read
    tilted back past the start's bound, however far it lowered its chin. Still heads through
    the live camera, 18 faces-dev photos, frames more than 6 degrees off their pose's median,
    facing / turned 13 / looking up 22 (``benchmarks/pose_jitter.py --live``): landmarks on
    ellipsoid+hair+glasses 16 / 9 / 1 of about 270, the mesh 0 / 0 / 0; canonical+glasses 7
    / 2 / 0 against 0 / 0 / 0. The mesh needs no calibration: the faces-dev portraits that
    face the camera read -9 to +6 degrees of pitch, and one taken from below +15 (the
    landmarks against each person's nose drop: -11 to +9, and +25). Since liveness-20 the
    mesh is read in a crop sized by the face, not by the detector's box, and since
    liveness-21 centred on it too (``MeshPoses``)."""
    return MeshPoses()


def depth_band(turn: float, thresholds: Thresholds) -> int:
    """The band of ``TURN_BIN_DEGREES`` a frame turned ``turn`` degrees from the neutral pose
    (either way, past the turn threshold) falls in, or ``BEYOND`` past
    ``Thresholds.depth_max_degrees``."""
    if abs(turn) >= thresholds.depth_max_degrees:
        return BEYOND
    return int((abs(turn) - thresholds.turn_degrees) // TURN_BIN_DEGREES)


def relative(pose: HeadPose, neutral: HeadPose) -> HeadPose:
    """``pose`` as the head moved from ``neutral``, in the neutral head's own frame: the
    rotation between them (R_neutral^T R), read as ``pose_of_rotation`` reads a pose.

    Angles subtracted one by one read part of a turn as pitch whenever the neutral pose is
    rolled: a phone held 20 degrees off level (the whole view rolled) made a 25-degree turn
    read 8.3 degrees up or down (liveness-25; the look up's bar is 9), and so did a head
    held tilted from the start turning about its tilted neck. In the neutral head's frame
    both read as the turn they are (liveness-26); with a level neutral pose the two agree.
    The trade: a head held tilted or bowed that turns about an upright neck now reads part
    of the turn as pitch or roll (held 20 degrees towards a shoulder, a 25-degree turn reads
    8.3 degrees up or down), which subtracted angles read exactly; at rest that head and a
    rolled camera look the same to one camera (``tests/consent/test_reader.py``)."""
    moved = rotation_of_pose(neutral).T @ rotation_of_pose(pose)
    return pose_of_rotation(moved)


def hold_frames(times: list[float], min_hold_s: float) -> int:
    """Frames a pose must be held: ``min_hold_s`` at the clip's frame rate."""
    frame_s = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    return max(1, math.ceil(min_hold_s / frame_s - 1e-6))


def neutral_pose(lead: list[Frame]) -> HeadPose:
    """The person's pose facing the camera: the median over the lead-in's frames."""
    return HeadPose(
        *(float(np.median([getattr(f.pose, a) for f in lead])) for a in ("yaw", "pitch", "roll"))
    )


class ClipReader:
    """Reads a clip's frames once (recorded or live), counting each challenge's frames in
    both readings of the sequence, keeping no frame (see ``REGION_PAD``)."""

    def __init__(
        self,
        session: ChallengeSession,
        backend: FaceBackend,
        finder: TurnedFaceFinder | None,
        poses: PoseReader | None,
        thresholds: Thresholds,
    ):
        self.session, self.backend, self.finder = session, backend, finder
        #: The backend locates and embeds apart (``LocatedFace``): frames turned away from
        #: the camera are never embedded (``may_face_camera``).
        self.locating: LocatingBackend | None = (
            backend if isinstance(backend, LocatingBackend) else None
        )
        self.poses, self.thresholds = poses or liveness_poses(), thresholds
        self.first = session.challenges[0]
        self.seen: list[Frame] = []
        self.total = 0
        self.turned_away = 0  # frames with no face inside a turn's window
        self.times: list[float] = []
        self.shape: tuple[int, ...] | None = None
        self.region: FaceRegion | None = None
        self.settled = False  # the lead-in is over (the neutral pose is known, if it can be)
        self.neutral: HeadPose | None = None  # known from the first challenge on
        self.need = 1  # frames a pose must be held (known with the neutral pose)
        self.readings = (
            Reading(session.challenges, mirrored=False),
            Reading(session.mirrored().challenges, mirrored=True),
        )
        self.tries = [0] * len(session.challenges)  # frames the finder looked at
        #: Challenges a live session added, asking for a wider turn (``extend``).
        self.retries: set[int] = set()
        self.finder_frames = 0  # frames where only the finder saw the face
        #: Each pair's depth (``depth.turn_depth``: parallax, relief) once measured, by the
        #: neutral and turned frames' times, the face box and the two poses: a live session
        #: judges its frames again after each wider turn it asks for, and the mirrored
        #: reading may measure the same frames; a pair takes about 0.3 s
        #: (``verdict._Judging._depth``).
        self.depths: dict[tuple[float, float, Box, HeadPose, HeadPose], tuple[float, float]] = {}
        self.lead_kept_at = -math.inf  # when a lead-in frame's region was last kept
        self.lead_from = -math.inf  # the lead-in counts frames after this (``restart_lead``)

    def read(self, t: float, image: np.ndarray) -> str | None:
        """Take one frame; a reason when the clip cannot be judged."""
        self.total += 1
        self.times.append(t)
        self.shape = self.shape or image.shape
        if image.shape != self.shape:
            return "the frame size changed during the recording"
        if not self.settled and t >= self.first.start:
            self._settle_neutral()
        current = [k for k, c in enumerate(self.session.challenges) if c.start <= t <= c.end]
        turns = [k for k in current if self.session.challenges[k].kind != ChallengeKind.CENTRE]
        faces = self._faces(image)
        if not faces and turns:
            # A head turned further than the detector follows (beyond about 30 degrees
            # sideways, or 20 up) is an honest turn; such frames do not count against the
            # clip, and the finder may see the turn in them.
            self.turned_away += 1
            self._look_again(t, image, turns)
            return None
        if len(faces) != 1:
            return None
        f = faces[0]
        self.region = self.region or FaceRegion.around(f.box, image.shape)
        head = self.poses.read(image, f)
        frame = Frame(t, f.box, head.pose, self._embedding(f, head.pose), head.width, head.box)
        if t < self.first.start and t - self.lead_kept_at >= LEAD_KEEP_S - 1e-6:
            frame.region = self.region.crop(image)
            self.lead_kept_at = t
        self.seen.append(frame)
        for k in turns:
            self._count(k, frame, image)
        if self.neutral is not None and self.region is not None:
            for k in self._turning_back(t):
                self._keep_turning_back(k, frame, image)
        return None

    def _faces(self, image: np.ndarray) -> list[DetectedFace] | list[LocatedFace]:
        """The faces in a frame: located only (embedded later, where needed) when the
        backend can stop before its embedding network (``LocatedFace``)."""
        if self.locating is not None:
            return self.locating.locate(image)
        return self.backend.analyze(image)

    def _embedding(self, face: DetectedFace | LocatedFace, pose: HeadPose) -> np.ndarray | None:
        """The face's embedding, where the frame may face the camera; else None. On two
        cores the network takes about 15 ms of a 640x480 frame's 34 (finding and aligning
        the face 17, the face mesh 2), and ten times that when other work shares the cores;
        a head's turns and look up are about half of a session's frames."""
        if isinstance(face, DetectedFace):
            return face.embedding
        if not self.may_face_camera(pose):
            return None
        assert self.locating is not None  # it located the face
        return self.locating.embed_located([face])[0].embedding

    def may_face_camera(self, pose: HeadPose) -> bool:
        """Whether a frame of this pose (as read, not yet relative) may count as facing the
        camera in the verdict (``verdict.judge``: frontal, or meeting a centre challenge),
        whose embeddings are compared: every frame until the neutral pose is known, then
        those within ``Thresholds.frontal_degrees`` of it, or within ``centre_degrees`` in
        yaw and in pitch (any window: a live session moves them). The neutral pose is read
        once, at the first challenge, and never changes after."""
        if self.neutral is None:
            return True
        rel, th = relative(pose, self.neutral), self.thresholds
        centred = abs(rel.yaw) < th.centre_degrees and abs(rel.pitch) < th.centre_degrees
        return centred or math.hypot(rel.yaw, rel.pitch) < th.frontal_degrees

    def _turning_back(self, t: float) -> list[int]:
        """The left or right turns whose window closed less than ``Thresholds.late_s``
        before ``t``: a head may be turning back from them."""
        late = self.thresholds.late_s
        return [
            k
            for k, c in enumerate(self.session.challenges)
            if c.kind.sideways and c.end < t <= c.end + late
        ]

    def _keep_turning_back(self, k: int, frame: Frame, image: np.ndarray) -> None:
        """Keep ``frame``'s region for the depth of turn ``k`` when it is the first in its
        band of turn on the way back, in each reading it is turned that reading's way."""
        assert self.region is not None and self.neutral is not None
        rel = relative(frame.pose, self.neutral)
        band = depth_band(rel.yaw, self.thresholds)
        for reading in self.readings:
            c = reading.challenges[k]
            bands = reading.turned.setdefault(k, {})
            if band != BEYOND and c.met_by(rel, self.thresholds):
                self._keep_in_band(bands, (True, band), frame, image)

    def _settle_neutral(self) -> None:
        """At the first challenge: the neutral pose, the hold, and the one lead-in region kept
        (once: no later frame joins the lead-in)."""
        self.settled = True
        lead = self.lead_in()
        if len(lead) < 2:
            return
        self.neutral = neutral_pose(lead)
        self.need = hold_frames(self.times, self.thresholds.min_hold_s)
        keep = self.neutral_frame()
        for f in lead:
            if f is not keep:
                f.region = None

    def lead_in(self) -> list[Frame]:
        """The frames before the first challenge that the neutral pose is read from."""
        return [f for f in self.seen if self.lead_from < f.t < self.first.start]

    def lead_width(self) -> float:
        """The face's width over the lead-in (``Frame.width``): the median of its frames'.
        Up to liveness-18 the width came from dlib's eye corners, which jitter by a few
        pixels through sensor noise and compression, more behind glasses, whose rims the
        landmarks catch (single frames 166 to 193 px of a face read 180 clean; the median
        still 174 to 195). The face mesh's fit (``headpose.mesh_face_width``, liveness-19)
        moves under 1 px between frames, and the median keeps a frame the mesh misreads
        from deciding."""
        return float(np.median([f.width for f in self.lead_in()]))

    def restart_lead(self, after: float) -> None:
        """Forget the lead-in up to ``after`` (a live session asked the person to come
        closer, or to face the camera): the neutral pose, its frame and the region depth is
        measured in come from the frames after it, at the size and pose the turns start from."""
        self.lead_from = after
        self.region = None
        self.lead_kept_at = -math.inf
        for f in self.seen:
            f.region = None

    def unmet(self, k: int) -> bool:
        """Challenge ``k`` is not yet held long enough in either reading."""
        return max(r.met[k] for r in self.readings) < self.need

    def delay(self, k: int, by: float, grow: bool = False) -> None:
        """Move challenge ``k`` and every later one ``by`` seconds later; with ``grow``,
        challenge ``k`` keeps its start and only ends later. For live sessions, whose prompts
        wait for the person (``LiveCheck``); frames already read keep their counts.

        A grown turn gets the finder's tries again (``MAX_FINDER_TRIES``): the person is
        being asked to turn a little further, past where the backend follows a face, and
        the tries may have gone on the turn they made first (``joe_biden/1`` on the
        canonical+glasses head: 4 of 6 live sessions refused a left turn, which turned
        further was seen only by the finder, after its tries had run out; 0 of 6 with them
        renewed, ``benchmarks/liveness.py --live``)."""
        if grow:
            self.tries[k] = 0
        moved = []
        for i, c in enumerate(self.session.challenges):
            if i > k or (i == k and not grow):
                c = replace(c, start=round(c.start + by, 3), end=round(c.end + by, 3))
            elif i == k:
                c = replace(c, end=round(c.end + by, 3))
            moved.append(c)
        self._reschedule(tuple(moved))

    def _reschedule(self, challenges: tuple[Challenge, ...]) -> None:
        """The session with these challenges, in both readings."""
        self.session = replace(self.session, challenges=challenges)
        direct, mirrored = self.readings
        direct.challenges = self.session.challenges
        mirrored.challenges = self.session.mirrored().challenges
        self.first = self.session.challenges[0]

    def extend(self, challenges: tuple[Challenge, ...], retry: int | None = None) -> None:
        """Add ``challenges`` at the end of the session (a live session asking again);
        ``retry``: the index of the turn among them whose depth is judged on its own."""
        first = len(self.session.challenges)
        self._reschedule(self.session.challenges + challenges)
        for reading in self.readings:
            reading.met += [0] * len(challenges)
            reading.found += [0] * len(challenges)
        self.tries += [0] * len(challenges)
        if retry is not None:
            self.retries.add(first + retry)

    def neutral_frame(self) -> Frame | None:
        """The lead-in frame with a kept region closest to the neutral pose."""
        kept = [f for f in self.lead_in() if f.region is not None]
        if not kept or self.neutral is None:
            return None
        n = self.neutral
        return min(kept, key=lambda f: math.hypot(f.pose.yaw - n.yaw, f.pose.pitch - n.pitch))

    def _count(self, k: int, frame: Frame, image: np.ndarray) -> list[Reading]:
        """Count ``frame`` for challenge ``k`` in each reading it meets it in (returned),
        keeping the region of the most turned frame of a left or right turn."""
        if self.neutral is None:
            return []
        rel = relative(frame.pose, self.neutral)
        counted = []
        for reading in self.readings:
            c = reading.challenges[k]
            if not c.met_by(rel, self.thresholds):
                continue
            counted.append(reading)
            reading.met[k] += 1
            if c.kind.sideways and self.region is not None:
                self._keep_turned(reading, k, frame, rel, image)
        return counted

    def _keep_turned(
        self, reading: Reading, k: int, frame: Frame, rel: HeadPose, image: np.ndarray
    ) -> None:
        """Keep ``frame``'s region if it is the first of turn ``k`` in its band of turn
        (``depth_band``), and note it as the turn's peak if it is the most turned so far."""
        assert self.region is not None and self.neutral is not None
        bands = reading.turned.setdefault(k, {})
        self._keep_in_band(bands, (False, depth_band(rel.yaw, self.thresholds)), frame, image)
        best = reading.widest.get(k)
        if best is None or abs(rel.yaw) > abs(relative(best.pose, self.neutral).yaw):
            reading.widest[k] = frame

    def _keep_in_band(
        self,
        bands: dict[tuple[bool, int], Frame],
        key: tuple[bool, int],
        frame: Frame,
        image: np.ndarray,
    ) -> None:
        """Keep ``frame`` (and its region) as the first of its band, unless one is kept."""
        assert self.region is not None
        if key not in bands:
            frame.region = frame.region if frame.region is not None else self.region.crop(image)
            bands[key] = frame

    def _look_again(self, t: float, image: np.ndarray, turns: list[int]) -> None:
        """Ask the finder about a frame where the backend lost the face, for the first turn
        here still unmet (it is slow: at most MAX_FINDER_TRIES frames a window)."""
        if self.finder is None or self.neutral is None or not self.seen:
            return
        # Unmet in either reading: a head coming back from the previous turn can meet this
        # turn's mirrored reading early, while the turn asked for is still to come.
        k = next((k for k in turns if min(r.met[k] for r in self.readings) < self.need), None)
        if k is None or self.tries[k] >= MAX_FINDER_TRIES:
            return
        self.tries[k] += 1
        face = self.finder.find_near(image, self.seen[-1].box)
        if face is None:
            return
        head = self.poses.read(image, face)
        frame = Frame(t, face.box, head.pose, face.embedding, head.width, head.box)
        counted = self._count(k, frame, image)
        for reading in counted:
            reading.found[k] += 1
        if counted:
            self.seen.append(frame)
            self.finder_frames += 1
