"""Live enrolment: issue a challenge session, check a recording of it, keep the outcome.

``start_enrolment`` draws a fresh session for a person and stores it (single use, valid for
``SESSION_TTL``); the person records themselves following it; ``enrol_from_video`` checks the
recording (``liveness.verify_clip``) against the person's photo group and stores an
``Enrolment`` record: pass or fail, the challenge transcript, model and threshold versions, and
a salted hash of the face template. Frames are never stored. A passed enrolment is the evidence
a ``verified`` grant needs.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from likeness import clock
from likeness.consent import audit
from likeness.consent.liveness import (
    THRESHOLDS,
    VERSION,
    ChallengeSession,
    LiveCheck,
    LivenessResult,
    Prompt,
    liveness_poses,
    new_session,
    verify_clip,
)
from likeness.consent.tables import Enrolment, EnrolmentSession
from likeness.errors import InvalidError, NotFoundError
from likeness.faces import backends
from likeness.faces.headpose import PoseReader
from likeness.faces.protocol import TurnedFaceFinder
from likeness.people.identity import PhotoGroup, photo_group
from likeness.people.records import get_person
from likeness.store import Library
from likeness.store.keys import seal

SESSION_TTL = timedelta(minutes=15)


class EnrolmentError(InvalidError):
    """Enrolment could not be attempted (unknown person or session, expired session...)."""


class EnrolmentNotFoundError(NotFoundError, EnrolmentError):
    """No enrolment (or enrolment session) with that id for this person."""


@dataclass(frozen=True)
class EnrolmentResult:
    id: str
    passed: bool
    reason: str
    transcript: list[dict]
    template_commitment: str | None
    match_distance: float | None

    def as_json(self) -> dict:
        return self.__dict__.copy()


def template_commitment(salt: bytes, template: np.ndarray) -> str:
    """The salted hash that stands for a face template in records and grants."""
    return hashlib.sha256(salt + np.asarray(template, dtype="<f4").tobytes()).hexdigest()


def start_enrolment(lib: Library, person_id: int, live: bool = False) -> ChallengeSession:
    """A fresh challenge session for the person, stored for one use. A recorded session's
    schedule is shown to the person before recording (``instructions``); a ``live`` one's is
    never shown: the live page reveals each prompt when it falls due (``open_live_enrolment``),
    and only a live session can be used live."""
    session = new_session()
    with lib.session() as s:
        person = get_person(s, person_id)
        s.add(
            EnrolmentSession(
                id=session.id,
                person_uid=person.uid,
                created_at=session.created_at,
                document=json.dumps({**session.as_json(), "live": live}),
                used=False,
            )
        )
        audit.append(
            lib,
            s,
            "enrolment-session",
            {"session": session.id, "subject": person.uid, "live": live},
        )
    return session


#: Called with (frames checked, frames in the video or None when the file does not say).
ProgressCallback = Callable[[int, int | None], None]


def video_frame_count(path: Path) -> int | None:
    """How many frames the video file says it has (containers may not say, or be wrong)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    return count if count > 0 else None


def _reporting(
    frames: Iterable[tuple[float, np.ndarray]], progress: ProgressCallback, total: int | None
) -> Iterator[tuple[float, np.ndarray]]:
    for done, frame in enumerate(frames, start=1):
        yield frame
        progress(done, total)  # the checker asked for the next frame: this one is done


def read_video(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, RGB frame) for each frame of a video file."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise EnrolmentError(f"{path}: cannot read this video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield index / fps, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


@dataclass(frozen=True)
class _Claimed:
    """A session claimed for one check: what the check needs, and whom it is for."""

    session: ChallengeSession
    group: PhotoGroup
    person_uid: str


def _claim(lib: Library, person_id: int, session_id: str, live: bool, now: datetime) -> _Claimed:
    """Mark the session used (single use, even if the check then fails or crashes)."""
    with lib.session() as s:
        person = get_person(s, person_id)
        row = s.get(EnrolmentSession, session_id)
        if row is None or row.person_uid != person.uid:
            raise EnrolmentNotFoundError(
                f"no enrolment session {session_id} for person {person_id}"
            )
        if row.used:
            raise EnrolmentError(f"session {session_id} was already used; start a new one")
        if now - row.created_at > SESSION_TTL:
            raise EnrolmentError(f"session {session_id} expired; start a new one")
        document = json.loads(row.document)
        if bool(document.get("live")) != live:
            raise EnrolmentError(
                f"session {session_id} is for "
                + (
                    "the live page; record a session from `consent start`"
                    if not live
                    else "a recording (its schedule was shown); start a live session"
                )
            )
        group = photo_group(s, person_id)
        if group is None:
            raise EnrolmentError(f"person {person_id} has no faces in the library to match against")
        row.used = True
        return _Claimed(ChallengeSession.from_json(document), group, person.uid)


def _record(
    lib: Library,
    claimed: _Claimed,
    result: LivenessResult,
    live: bool,
    now: datetime,
    finder: TurnedFaceFinder | None,
    poses: PoseReader,
) -> EnrolmentResult:
    """Store the outcome (pass or fail) with its transcript and versions, and a sealed
    template and its salted commitment when it passed."""
    uid = claimed.person_uid
    commitment = salt = sealed = None
    if result.template is not None:
        salt = secrets.token_bytes(16)
        commitment = template_commitment(salt, result.template)
        key = lib.keys.person_key(uid, create=True)
        sealed = seal(key, result.template.astype("<f4").tobytes(), uid.encode())
    record = EnrolmentResult(
        uuid.uuid4().hex,
        result.passed,
        result.reason,
        result.transcript,
        commitment,
        result.match_distance,
    )
    versions = {
        "liveness": VERSION,
        "mode": "live" if live else "recorded",
        "face_backend": claimed.group.backend,
        "turned_face_finder": finder.name if finder is not None else None,
        **THRESHOLDS.record(backends.backend_class(claimed.group.backend).distances),
        "poses": poses.name,
    }
    with lib.session() as s:
        s.add(
            Enrolment(
                id=record.id,
                person_uid=uid,
                session_id=claimed.session.id,
                created_at=now,
                passed=record.passed,
                reason=record.reason,
                transcript=json.dumps(record.transcript),
                versions=json.dumps(versions),
                template_commitment=commitment,
                template_salt=salt,
                template_sealed=sealed,
                match_distance=record.match_distance,
            )
        )
        audit.append(
            lib,
            s,
            "enrolment",
            {
                "enrolment": record.id,
                "subject": uid,
                "passed": record.passed,
                "template_commitment": commitment,
            },
        )
    return record


def enrol_from_frames(
    lib: Library,
    person_id: int,
    session_id: str,
    frames,
    now: datetime | None = None,
) -> EnrolmentResult:
    """Check a recording of session ``session_id`` and record the outcome (pass or fail)."""
    now = clock.now(now)
    claimed = _claim(lib, person_id, session_id, live=False, now=now)
    backend = backends.video_frame_backend()
    finder = backends.turned_face_finder(backend)
    poses = liveness_poses()
    result = verify_clip(frames, claimed.session, backend, claimed.group, finder, poses=poses)
    return _record(lib, claimed, result, live=False, now=now, finder=finder, poses=poses)


class LiveEnrolment:
    """A live enrolment under way (``open_live_enrolment``): ``feed`` each camera frame,
    show the prompt it returns, and ``finish`` once ``done`` (or when the camera stops)."""

    def __init__(self, lib: Library, claimed: _Claimed, check: LiveCheck):
        self.lib, self.claimed, self.check = lib, claimed, check
        self.result: EnrolmentResult | None = None

    @property
    def done(self) -> bool:
        return self.check.done

    def feed(self, t: float, image: np.ndarray) -> Prompt:
        return self.check.feed(t, image)

    def finish(self, now: datetime | None = None) -> EnrolmentResult:
        """Judge and record the enrolment (once)."""
        if self.result is None:
            outcome = self.check.finish()
            self.result = _record(
                self.lib,
                self.claimed,
                outcome,
                live=True,
                now=clock.now(now),
                finder=self.check.finder,
                poses=self.check.clip.poses,
            )
        return self.result


def open_live_enrolment(
    lib: Library,
    person_id: int,
    session_id: str,
    now: datetime | None = None,
    track_face: bool = True,
) -> LiveEnrolment:
    """Claim live session ``session_id`` (``start_enrolment(live=True)``) for checking frames
    as the camera sends them. ``track_face`` looks for the face near where it was, to keep
    up with the camera (``faces.tracking``); False scans every whole frame."""
    claimed = _claim(lib, person_id, session_id, live=True, now=clock.now(now))
    backend = backends.video_frame_backend()
    check = LiveCheck(
        claimed.session,
        backends.tracking(backend) if track_face else backend,
        claimed.group,
        backends.turned_face_finder(backend),
    )
    return LiveEnrolment(lib, claimed, check)


def enrol_from_video(
    lib: Library,
    person_id: int,
    session_id: str,
    video: Path,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> EnrolmentResult:
    """Check a video file of session ``session_id`` (``enrol_from_frames``), reading it once;
    ``progress`` hears of every frame checked."""
    video = Path(video)
    if not video.is_file():
        raise EnrolmentError(f"{video}: no such file")
    frames = read_video(video)
    if progress is not None:
        frames = _reporting(frames, progress, video_frame_count(video))
    return enrol_from_frames(lib, person_id, session_id, frames, now)


def passed_enrolment(
    lib: Library,
    enrolment_id: str,
    person_uid: str,
    now: datetime,
    max_age: timedelta = timedelta(days=1),
    live: bool = False,
) -> Enrolment:
    """The enrolment a verified grant rests on: passed, this person's, and recent; with
    ``live``, from a live session too (the camera in front of them, prompts revealed one at
    a time), not a recorded clip's (its whole schedule shown beforehand), which anyone
    holding a photo could have made: what a person's own account and grants rest on."""
    with lib.session() as s:
        row = s.get(Enrolment, enrolment_id)
        drawn = s.get(EnrolmentSession, row.session_id) if row is not None else None
    if row is None or row.person_uid != person_uid:
        raise EnrolmentNotFoundError(f"no enrolment {enrolment_id} for this person")
    if not row.passed:
        raise EnrolmentError(f"enrolment {enrolment_id} did not pass: {row.reason}")
    if now - row.created_at > max_age:
        raise EnrolmentError(f"enrolment {enrolment_id} is too old; enrol again")
    if live and (drawn is None or json.loads(drawn.document).get("live") is not True):
        raise EnrolmentError("this needs a live enrolment, not one from a recorded clip")
    return row
