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
from sqlalchemy import select

from likeness.consent import audit
from likeness.consent.liveness import (
    VERSION,
    ChallengeSession,
    LiveCheck,
    LivenessResult,
    PoseCalibration,
    Prompt,
    enrolment_backend,
    enrolment_turned_faces,
    new_session,
    thresholds,
    verify_clip,
)
from likeness.errors import LikenessError
from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.dlib_cnn import DlibCnnFaceFinder
from likeness.faces.tracking import TrackingFaceBackend
from likeness.store import Library
from likeness.store.keys import seal
from likeness.store.models import Enrolment, EnrolmentSession, Face, Person, Photo

SESSION_TTL = timedelta(minutes=15)


class EnrolmentError(LikenessError, ValueError):
    """Enrolment could not be attempted (unknown person or session, expired session...)."""


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


def photo_group_embeddings(session, person_id: int) -> np.ndarray | None:
    """The embeddings of a person's faces in this library (None when there are none), from
    the enrolment backend only: embeddings of different models are not comparable."""
    rows = session.scalars(
        select(Face.embedding)
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.person_id == person_id, Photo.face_backend == DlibFaceBackend.name)
    ).all()
    return np.stack([np.frombuffer(r, dtype=np.float32) for r in rows]) if rows else None


def photo_group_calibration(session, person_id: int) -> PoseCalibration | None:
    """The person's own nose drop, that a clip's poses are read with, from their faces in this
    library (see ``liveness.PoseCalibration``)."""
    rows = session.execute(
        select(Face.landmarks, Photo.width, Photo.height)
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.person_id == person_id, Photo.face_backend == DlibFaceBackend.name)
    ).all()
    return PoseCalibration.from_faces(
        (tuple(tuple(p) for p in json.loads(landmarks)), (width, height))
        for landmarks, width, height in rows
    )


def _person(s, person_id: int) -> Person:
    person = s.get(Person, person_id)
    if person is None:
        raise EnrolmentError(f"no person with id {person_id}")
    return person


def start_enrolment(lib: Library, person_id: int, live: bool = False) -> ChallengeSession:
    """A fresh challenge session for the person, stored for one use. A recorded session's
    schedule is shown to the person before recording (``instructions``); a ``live`` one's is
    never shown: the live page reveals each prompt when it falls due (``open_live_enrolment``),
    and only a live session can be used live."""
    session = new_session()
    with lib.session() as s:
        person = _person(s, person_id)
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
    reference: np.ndarray
    calibration: PoseCalibration | None
    person_uid: str


def _claim(lib: Library, person_id: int, session_id: str, live: bool, now: datetime) -> _Claimed:
    """Mark the session used (single use, even if the check then fails or crashes)."""
    with lib.session() as s:
        person = _person(s, person_id)
        row = s.get(EnrolmentSession, session_id)
        if row is None or row.person_uid != person.uid:
            raise EnrolmentError(f"no enrolment session {session_id} for person {person_id}")
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
        reference = photo_group_embeddings(s, person_id)
        if reference is None:
            raise EnrolmentError(f"person {person_id} has no faces in the library to match against")
        row.used = True
        return _Claimed(
            ChallengeSession.from_json(document),
            reference,
            photo_group_calibration(s, person_id),
            person.uid,
        )


def _record(
    lib: Library, claimed: _Claimed, result: LivenessResult, live: bool, now: datetime
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
        "face_backend": DlibFaceBackend.name,
        "turned_face_finder": DlibCnnFaceFinder.name,
        **thresholds(),
        "nose_drop": claimed.calibration.drop if claimed.calibration else None,
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


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def enrol_from_frames(
    lib: Library,
    person_id: int,
    session_id: str,
    frames,
    now: datetime | None = None,
) -> EnrolmentResult:
    """Check a recording of session ``session_id`` and record the outcome (pass or fail)."""
    now = _now(now)
    claimed = _claim(lib, person_id, session_id, live=False, now=now)
    backend = enrolment_backend()
    result = verify_clip(
        frames,
        claimed.session,
        backend,
        claimed.reference,
        enrolment_turned_faces(backend),
        claimed.calibration,
    )
    return _record(lib, claimed, result, live=False, now=now)


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
            self.result = _record(self.lib, self.claimed, outcome, live=True, now=_now(now))
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
    claimed = _claim(lib, person_id, session_id, live=True, now=_now(now))
    backend = enrolment_backend()
    check = LiveCheck(
        claimed.session,
        TrackingFaceBackend(backend) if track_face else backend,
        claimed.reference,
        enrolment_turned_faces(backend),
        claimed.calibration,
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
) -> Enrolment:
    """The enrolment a verified grant rests on: passed, this person's, and recent."""
    with lib.session() as s:
        row = s.get(Enrolment, enrolment_id)
    if row is None or row.person_uid != person_uid:
        raise EnrolmentError(f"no enrolment {enrolment_id} for this person")
    if not row.passed:
        raise EnrolmentError(f"enrolment {enrolment_id} did not pass: {row.reason}")
    if now - row.created_at > max_age:
        raise EnrolmentError(f"enrolment {enrolment_id} is too old; enrol again")
    return row
