"""The output safety gate.

``SafetyGate(lib, decision)`` is built once per command (it loads the face and nudity models
and the people's photo-group centroids); ``check(image, placements)`` judges one image:

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

Each verdict goes to the audit log with ids and hashes, never names. A refused image is never
written: the caller gets the verdict and writes only allowed images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from likeness.consent import audit
from likeness.consent.grants import OWNER
from likeness.consent.policy import Decision, GateError, ModelKind, is_covered
from likeness.faces.backends import load_backend
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
                for f in self.faces
            ],
            "explicit": [{"label": e.label, "score": e.score} for e in self.explicit],
            "image_sha256": self.image_sha256,
        }


def _centre_inside(box: Box, region: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx < region[2] and region[1] <= cy < region[3]


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
        self.backend = backend or load_backend()
        self.nudity = nudity or NudityDetector()
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

    def judge(self, image: np.ndarray, placements: dict[int, Box] | None = None) -> SafetyVerdict:
        """The verdict on one RGB uint8 image, without recording it."""
        image = np.ascontiguousarray(image)
        digest = hashlib.sha256(image.tobytes()).hexdigest()
        faces = tuple(self._finding(f.box, f.embedding) for f in self.backend.analyze(image))
        explicit = tuple(self.nudity.explicit(image))

        def verdict(allowed: bool, reason: str) -> SafetyVerdict:
            return SafetyVerdict(allowed, reason, faces, explicit, digest)

        if explicit:
            labels = ", ".join(sorted({e.label for e in explicit}))
            return verdict(False, f"explicit content ({labels})")
        for f in faces:
            if f.never:
                who = self._who(f.person_id) if f.person_id is not None else "a person"
                return verdict(False, f"a face matches {who}, who asked never to be generated")
            if f.person_id is not None and not self._is_covered(f.person_id):
                return verdict(
                    False,
                    f"a face matches {self._who(f.person_id)}, who has no grant in force for "
                    f"{self.decision.action} by {self.decision.requester}",
                )
        if not self.require_presence:
            return verdict(True, "every face is covered by consent; nothing explicit")
        shown = {f.person_id for f in faces}
        for person in self.decision.subjects:
            if person not in shown:
                return verdict(False, f"person {person} was asked for but does not appear")
        for person, region in (placements or {}).items():
            inside = [f for f in faces if _centre_inside(f.box, region)]
            if not any(f.person_id == person for f in inside):
                others = sorted({f.person_id for f in inside if f.person_id is not None})
                who = self._who(others[0]) if others else "no one in the library"
                return verdict(False, f"the face placed for person {person} is {who}")
        return verdict(True, "every face is covered by consent; nothing explicit")

    def check(self, image: np.ndarray, placements: dict[int, Box] | None = None) -> SafetyVerdict:
        """Judge one image and record the verdict in the audit log (ids and hashes only)."""
        v = self.judge(image, placements)
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
                },
            )
        return SafetyVerdict(v.allowed, v.reason, v.faces, v.explicit, v.image_sha256, seq)
