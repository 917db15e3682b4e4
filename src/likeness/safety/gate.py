"""The output safety gate.

``SafetyGate(lib, decision)`` is built once per command or job (it reads the people's
photo-group centroids; the face and nudity models are loaded once per thread and kept,
``gate_models``); ``check(image, placements)`` judges one image:

- every face is detected, embedded and matched to the library's people by the same rule as
  consent's match (``people.identity``: the nearest photo group, within the backend's
  same-person distance);
- a face that matches a library person who has no grant in force for this use and requester
  refuses the image (the prompt's own people are covered by the Decision; anyone else must be
  covered too);
- every mentioned person must appear; where the prompt placed a person in a region, the face
  there must be that person and no one else (with real models: the built-in tiny models draw
  no faces);
- a face matching a person who erased their biometric data and asked never to be generated
  (their salted template, ``consent.erasure``) refuses the image, whatever else it matches;
- faces of nobody in the library pass;
- explicit content (NudeNet) refuses the image.

``check_clip(frames, placements)`` judges a video clip by the same rules: every face in every
frame is matched (one unconsented face in a single frame refuses the whole clip), faces are
linked into tracks across frames (``link_tracks``) for the presence and placement rules, and
explicit content is looked for on sampled frames (``EXPLICIT_EVERY``). One verdict per clip
goes to the audit log, with the clip's hash.

Each verdict goes to the audit log with ids and hashes, never names. A refused image is never
written: the caller gets the verdict and writes only allowed images.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from likeness.consent import audit
from likeness.consent.grants import OWNER
from likeness.consent.policy import Decision, GateError, ModelKind, is_covered
from likeness.faces.backends import backend_spec, load_backend
from likeness.faces.protocol import FaceBackend
from likeness.people.identity import PhotoGroup, closest_group, photo_groups
from likeness.people.never import do_not_generate_matcher
from likeness.people.records import person_ids_by_uid
from likeness.safety.nsfw import ExplicitFinding, NudityDetector
from likeness.store import Library

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class FaceFinding:
    box: Box
    person_id: int | None  # the library person it matches, None for nobody known
    distance: float | None  # to that person's group centroid (or the nearest one)
    #: The face matches a person who asked never to be generated (their salted template).
    never: bool = False
    #: In a clip: the frame it was found in.
    frame: int | None = None


@dataclass(frozen=True)
class SafetyVerdict:
    allowed: bool
    reason: str
    faces: tuple[FaceFinding, ...] = ()
    explicit: tuple[ExplicitFinding, ...] = ()
    image_sha256: str = ""
    audit_seq: int | None = field(default=None, compare=False)

    def as_json(self) -> dict:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "faces": [
                {"box": list(f.box), "person": f.person_id, "distance": f.distance}
                | ({} if f.frame is None else {"frame": f.frame})
                for f in self.faces
            ],
            "explicit": [{"label": e.label, "score": e.score} for e in self.explicit],
            "image_sha256": self.image_sha256,
        }


#: In a clip, explicit content is looked for on every this many frames (and the last).
EXPLICIT_EVERY = 4
#: Two faces in consecutive frames whose boxes overlap this much (intersection over union)
#: are one face moving.
TRACK_IOU = 0.3


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def link_tracks(faces: list[FaceFinding], min_iou: float = TRACK_IOU) -> list[list[FaceFinding]]:
    """A clip's faces (each with its ``frame``) linked into tracks: a face continues the
    track whose face in the frame before overlaps it most (at least ``min_iou``); any other
    face starts a track. A face seen in one frame only is a track of one."""
    tracks: list[list[FaceFinding]] = []
    by_frame: dict[int, list[FaceFinding]] = {}
    for f in faces:
        by_frame.setdefault(f.frame or 0, []).append(f)
    open_tracks: list[list[FaceFinding]] = []
    for frame in sorted(by_frame):
        continuing = [t for t in open_tracks if t[-1].frame == frame - 1]
        next_open = []
        for f in by_frame[frame]:
            best = max(continuing, key=lambda t: _iou(t[-1].box, f.box), default=None)
            if best is not None and _iou(best[-1].box, f.box) >= min_iou:
                continuing.remove(best)
                best.append(f)
                next_open.append(best)
            else:
                tracks.append([f])
                next_open.append(tracks[-1])
        open_tracks = next_open
    return tracks


def _track_person(track: list[FaceFinding]) -> int | None:
    """Who a track shows: the person most of its faces match (None: mostly nobody known)."""
    from collections import Counter

    return Counter(f.person_id for f in track).most_common(1)[0][0]


def _median_box(track: list[FaceFinding]) -> Box:
    boxes = np.array([f.box for f in track])
    return tuple(int(v) for v in np.median(boxes, axis=0))  # type: ignore[return-value]


def _centre_inside(box: Box, region: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx < region[2] and region[1] <= cy < region[3]


#: The gate's models, kept per thread of this process and per face backend. Loading them
#: takes 0.3 s (dlib builds its HOG detector in code; NudeNet's ONNX session), a quarter of
#: the gate's own work in a 16-image tiny job, and a server or a cluster's library machine
#: builds a gate for every job. Per thread: neither dlib's detector nor the backend's
#: buffers are documented as safe to share between threads.
_thread_models = threading.local()


def gate_models() -> tuple[FaceBackend, NudityDetector]:
    """This thread's face backend (the one this process runs, ``backend_spec``) and
    nudity detector, loaded on first use."""
    kept: dict[str, tuple[FaceBackend, NudityDetector]] = vars(_thread_models).setdefault(
        "by_backend", {}
    )
    spec = backend_spec()
    if spec not in kept:
        kept[spec] = (load_backend(name=spec), NudityDetector())
    return kept[spec]


class SafetyGate:
    """Judges generated images for one Decision (one command, one set of people)."""

    def __init__(
        self,
        lib: Library,
        decision: Decision,
        backend: FaceBackend | None = None,
        nudity: NudityDetector | None = None,
        require_presence: bool | None = None,
    ) -> None:
        if not decision.allowed:
            raise GateError(f"not allowed: {decision.reason}")
        self.lib, self.decision = lib, decision
        #: Whether mentioned people must appear where they were placed. By default only for
        #: real models: the built-in tiny models draw no faces at all (every face they might
        #: draw is still checked against consent).
        self.require_presence = (
            decision.model == ModelKind.REAL if require_presence is None else require_presence
        )
        if backend is None or nudity is None:
            kept_backend, kept_nudity = gate_models()
            backend, nudity = backend or kept_backend, nudity or kept_nudity
        self.backend, self.nudity = backend, nudity
        with lib.session() as s:
            self.groups: list[PhotoGroup] = photo_groups(s, type(self.backend))
            self.never = do_not_generate_matcher(s, self.backend.name)
            self._ids_of_uids = person_ids_by_uid(s) if self.never else {}
        self._covered: dict[int, bool] = {p: True for p in decision.subjects}

    def _finding(self, box: Box, embedding: np.ndarray) -> FaceFinding:
        never = self.never.match(embedding)
        if never is not None:
            return FaceFinding(box, self._ids_of_uids.get(never), None, never=True)
        group, distance = closest_group(self.groups, embedding)
        return FaceFinding(box, group.person_id if group is not None else None, distance)

    def _is_covered(self, person: int) -> bool:
        if person not in self._covered:
            d = self.decision
            self._covered[person] = is_covered(
                self.lib, d.action, person, d.requester, d.model, d.within
            )
        return self._covered[person]

    def _who(self, person: int) -> str:
        """A person as a refusal names them: by id to the owner; to an app, only the people
        it asked for (the verdict reaches the app, which must learn nothing of others)."""
        if self.decision.requester == OWNER or person in self.decision.subjects:
            return f"person {person}"
        return "a person in the library"

    def _faces(self, image: np.ndarray, frame: int | None = None) -> list[FaceFinding]:
        found = self.backend.analyze(np.ascontiguousarray(image))
        return [replace(self._finding(f.box, f.embedding), frame=frame) for f in found]

    def _refusal(
        self, faces: list[FaceFinding], explicit: list[ExplicitFinding], where: str = ""
    ) -> str | None:
        """Why these faces and findings refuse the output (None: they do not), by the rules
        of consent; ``where`` names a clip's frame."""
        if explicit:
            labels = ", ".join(sorted({e.label for e in explicit}))
            return f"{where}explicit content ({labels})"
        for f in faces:
            at = f"frame {f.frame}: " if f.frame is not None else where
            if f.never:
                who = self._who(f.person_id) if f.person_id is not None else "a person"
                return f"{at}a face matches {who}, who asked never to be generated"
            if f.person_id is not None and not self._is_covered(f.person_id):
                return (
                    f"{at}a face matches {self._who(f.person_id)}, who has no grant in force "
                    f"for {self.decision.action} by {self.decision.requester}"
                )
        return None

    def _misplaced(
        self, shown: list[tuple[Box, int | None]], placements: dict[int, Box] | None
    ) -> str | None:
        """Why the people asked for are not where they were placed (None: they are), from
        (box, person) of each face (an image) or each track (a clip)."""
        people = {person for _, person in shown}
        for person in self.decision.subjects:
            if person not in people:
                return f"person {person} was asked for but does not appear"
        for person, region in (placements or {}).items():
            inside = [who for box, who in shown if _centre_inside(box, region)]
            if person not in inside:
                others = sorted({who for who in inside if who is not None})
                who = self._who(others[0]) if others else "no one in the library"
                return f"the face placed for person {person} is {who}"
        return None

    def judge(self, image: np.ndarray, placements: dict[int, Box] | None = None) -> SafetyVerdict:
        """The verdict on one RGB uint8 image, without recording it."""
        image = np.ascontiguousarray(image)
        digest = hashlib.sha256(image.tobytes()).hexdigest()
        faces = self._faces(image)
        explicit = list(self.nudity.explicit(image))
        reason = self._refusal(faces, explicit)
        if reason is None and self.require_presence:
            reason = self._misplaced([(f.box, f.person_id) for f in faces], placements)
        allowed = reason is None
        reason = reason or "every face is covered by consent; nothing explicit"
        return SafetyVerdict(allowed, reason, tuple(faces), tuple(explicit), digest)

    def judge_clip(
        self,
        frames: np.ndarray,
        placements: dict[int, Box] | None = None,
        explicit_every: int = EXPLICIT_EVERY,
    ) -> SafetyVerdict:
        """The verdict on a clip ((frames, height, width, 3) uint8), without recording it:
        every face in every frame by the consent rules (the first refusal names its frame),
        the presence and placement rules on face tracks (a track is where its median face
        is, and shows the person most of its faces match), explicit content on every
        ``explicit_every``-th frame and the last."""
        frames = np.ascontiguousarray(frames)
        digest = hashlib.sha256(frames.tobytes()).hexdigest()
        faces: list[FaceFinding] = []
        explicit: list[ExplicitFinding] = []
        reason = None
        sampled = {*range(0, len(frames), explicit_every), len(frames) - 1}
        for i, frame in enumerate(frames):
            found = self._faces(frame, frame=i)
            seen = list(self.nudity.explicit(frame)) if i in sampled else []
            faces += found
            explicit += seen
            reason = self._refusal(found, seen, where=f"frame {i}: ")
            if reason is not None:
                break  # one frame refuses the clip: the rest need not be looked at
        tracks = link_tracks(faces)
        if reason is None and self.require_presence:
            shown = [(_median_box(t), _track_person(t)) for t in tracks]
            reason = self._misplaced(shown, placements)
        allowed = reason is None
        reason = reason or (
            f"every face in {len(frames)} frames ({len(faces)} faces, {len(tracks)} tracks) is "
            f"covered by consent; nothing explicit in {len(sampled)} sampled frames"
        )
        return SafetyVerdict(allowed, reason, tuple(faces), tuple(explicit), digest)

    def check(self, image: np.ndarray, placements: dict[int, Box] | None = None) -> SafetyVerdict:
        """Judge one image and record the verdict in the audit log (ids and hashes only)."""
        return self._record(self.judge(image, placements))

    def check_clip(
        self, frames: np.ndarray, placements: dict[int, Box] | None = None
    ) -> SafetyVerdict:
        """Judge a clip and record one verdict for it in the audit log."""
        return self._record(self.judge_clip(frames, placements), frames=len(frames))

    def _record(self, v: SafetyVerdict, **extra: int) -> SafetyVerdict:
        with self.lib.session() as s:
            seq = audit.append(
                self.lib,
                s,
                "safety",
                {
                    "decision": self.decision.audit_seq,
                    "allowed": v.allowed,
                    "reason": v.reason,
                    "faces": [f.person_id for f in v.faces],
                    "explicit": sorted({e.label for e in v.explicit}),
                    "image": v.image_sha256,
                    **extra,
                },
            )
        return SafetyVerdict(v.allowed, v.reason, v.faces, v.explicit, v.image_sha256, seq)
