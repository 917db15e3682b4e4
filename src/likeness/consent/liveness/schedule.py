"""The challenge schedule: which head movements a session asks for, and when.

A session draws a fresh sequence and timing from the OS's cryptographic random source, so that
a recording of an earlier session rarely has this one's sequence, and then not its clock.
"""

from __future__ import annotations

import itertools
import random
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from likeness import clock
from likeness.consent.liveness.thresholds import THRESHOLDS, Thresholds
from likeness.faces.headpose import HeadPose


class ChallengeKind(StrEnum):
    """What a challenge asks. Looking down is never asked: with 5 landmarks, solvePnP does
    not read a lowered head's pitch reliably (on faces-dev renders it often reads as level)."""

    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    #: Face the camera again (a pause between two turns, and the end of every session).
    CENTRE = "centre"

    @property
    def sideways(self) -> bool:
        """A left or right turn: the turns parallax and relief are measured on."""
        return self in (ChallengeKind.LEFT, ChallengeKind.RIGHT)

    @property
    def mirrored(self) -> ChallengeKind:
        """Left and right swapped (what a mirrored recording shows)."""
        swap = {ChallengeKind.LEFT: ChallengeKind.RIGHT, ChallengeKind.RIGHT: ChallengeKind.LEFT}
        return swap.get(self, self)


#: The turns a session draws from.
TURNS = (ChallengeKind.LEFT, ChallengeKind.RIGHT, ChallengeKind.UP)
#: Seconds facing the camera before the first challenge (drawn per session, so that even the
#: first window of an earlier session's recording is off this one's clock).
LEAD_IN_S = (1.0, 2.5)
#: Seconds each challenge's window lasts, drawn per challenge: widely spread, so that an
#: earlier session's recording with the same sequence is off this one's clock somewhere.
WINDOW_S = (1.4, 3.0)
#: Between two turns, a pause facing the camera comes with this chance and lasts PAUSE_S:
#: where the pauses fall is part of the sequence (20 orders of turns times 8 patterns of
#: pauses), and each pause is one more boundary on this session's clock. Long enough for a
#: person reacting in 0.6 s and turning at 40 degrees a second to face the camera in it.
PAUSE_CHANCE = 0.5
PAUSE_S = (1.2, 2.0)

#: The person's own left and right (towards their left or right shoulder): whether the
#: recording is mirrored does not matter (both readings are checked, see ``verify_clip``).
WORDS = {
    ChallengeKind.LEFT: "turn your head to your own left (towards your left shoulder)",
    ChallengeKind.RIGHT: "turn your head to your own right (towards your right shoulder)",
    ChallengeKind.UP: "look up",
    ChallengeKind.CENTRE: "look straight at the camera again",
}


@dataclass(frozen=True)
class Challenge:
    kind: ChallengeKind
    start: float  # seconds from the start of the recording
    end: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ChallengeKind(self.kind))  # "left" reads as LEFT

    def met_by(self, rel: HeadPose, thresholds: Thresholds = THRESHOLDS) -> bool:
        """Whether a pose relative to the neutral one meets this challenge."""
        if self.kind == ChallengeKind.LEFT:
            return rel.yaw <= -thresholds.turn_degrees
        if self.kind == ChallengeKind.RIGHT:
            return rel.yaw >= thresholds.turn_degrees
        if self.kind == ChallengeKind.UP:
            return rel.pitch >= thresholds.tilt_degrees
        centre = thresholds.centre_degrees
        return abs(rel.yaw) < centre and abs(rel.pitch) < centre

    def shows_only(self, rel: HeadPose, thresholds: Thresholds = THRESHOLDS) -> bool:
        """The pose meets this challenge and no other turn (a head looking up may also read
        as a little turned: such a frame says nothing about which challenge it follows)."""
        others = (Challenge(k, 0, 0) for k in TURNS if k != self.kind)
        return self.met_by(rel, thresholds) and not any(o.met_by(rel, thresholds) for o in others)

    def shown_by(self, rel: HeadPose, thresholds: Thresholds = THRESHOLDS) -> float:
        """Degrees by which a pose lies inside what shows only this turn (``shows_only``;
        negative outside): how far past its own threshold, and short of every other turn's.
        A frame barely inside may be a head passing between two other poses."""
        turn, tilt = thresholds.turn_degrees, thresholds.tilt_degrees
        if self.kind == ChallengeKind.LEFT:
            return min(-rel.yaw - turn, tilt - rel.pitch)
        if self.kind == ChallengeKind.RIGHT:
            return min(rel.yaw - turn, tilt - rel.pitch)
        if self.kind == ChallengeKind.UP:
            return min(rel.pitch - tilt, turn - abs(rel.yaw))
        raise ValueError("a return to the centre shows no turn")


@dataclass(frozen=True)
class ChallengeSession:
    id: str
    created_at: datetime
    challenges: tuple[Challenge, ...]

    def instructions(self) -> list[str]:
        lines = [f"0.0-{self.challenges[0].start:.1f}s: look straight at the camera"]
        lines += [f"{c.start:.1f}-{c.end:.1f}s: {WORDS[c.kind]}" for c in self.challenges]
        return lines

    def mirrored(self) -> ChallengeSession:
        """The same session with left and right swapped: what a recording shows when the
        camera mirrors (or does not mirror) differently from what the check assumes."""
        return replace(
            self, challenges=tuple(replace(c, kind=c.kind.mirrored) for c in self.challenges)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "challenges": [[str(c.kind), c.start, c.end] for c in self.challenges],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ChallengeSession:
        return cls(
            doc["id"],
            clock.utc(datetime.fromisoformat(doc["created_at"])),
            tuple(Challenge(ChallengeKind(k), float(s), float(e)) for k, s, e in doc["challenges"]),
        )


def new_session(count: int = 4, rng: random.Random | None = None) -> ChallengeSession:
    """A fresh sequence and timing from the OS's cryptographic random source (``rng`` only
    for reproducible tests and benchmarks).

    ``count`` turns, never the same twice in a row, always with a left and a right turn (the
    parallax check needs them), with a pause facing the camera between some of them: 160
    sequences of 4 turns, each with its own random timing."""
    if count < 2:
        raise ValueError("a session needs at least a left and a right turn")
    rng = rng or secrets.SystemRandom()
    while True:
        kinds = [rng.choice(TURNS) for _ in range(count)]
        repeats = any(a == b for a, b in itertools.pairwise(kinds))
        if not repeats and {ChallengeKind.LEFT, ChallengeKind.RIGHT} <= set(kinds):
            break
    steps = []
    for i, kind in enumerate(kinds):
        steps.append((kind, WINDOW_S))
        if i < count - 1 and rng.random() < PAUSE_CHANCE:
            steps.append((ChallengeKind.CENTRE, PAUSE_S))
    steps.append((ChallengeKind.CENTRE, WINDOW_S))
    challenges = []
    t = round(rng.uniform(*LEAD_IN_S), 1)
    for kind, lengths in steps:
        length = round(rng.uniform(*lengths), 1)
        challenges.append(Challenge(kind, round(t, 1), round(t + length, 1)))
        t += length
    return ChallengeSession(uuid.uuid4().hex, clock.now(), tuple(challenges))
