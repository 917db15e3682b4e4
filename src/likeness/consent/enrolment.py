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
    PoseCalibration,
    enrolment_backend,
    enrolment_turned_faces,
    new_session,
    thresholds,
    verify_clip,
)
from likeness.errors import LikenessError
from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.dlib_cnn import DlibCnnFaceFinder
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
    """The pitch the person's eye-level face reads as, from their faces in this library (see
    ``liveness.PoseCalibration``)."""
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


def start_enrolment(lib: Library, person_id: int) -> ChallengeSession:
    session = new_session()
    with lib.session() as s:
        person = _person(s, person_id)
        s.add(
            EnrolmentSession(
                id=session.id,
                person_uid=person.uid,
                created_at=session.created_at,
                document=json.dumps(session.as_json()),
                used=False,
            )
        )
        audit.append(lib, s, "enrolment-session", {"session": session.id, "subject": person.uid})
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


def enrol_from_frames(
    lib: Library,
    person_id: int,
    session_id: str,
    frames,
    now: datetime | None = None,
) -> EnrolmentResult:
    """Check a recording of session ``session_id`` and record the outcome (pass or fail)."""
    now = (now or datetime.now()).replace(microsecond=0)
    with lib.session() as s:
        person = _person(s, person_id)
        row = s.get(EnrolmentSession, session_id)
        if row is None or row.person_uid != person.uid:
            raise EnrolmentError(f"no enrolment session {session_id} for person {person_id}")
        if row.used:
            raise EnrolmentError(f"session {session_id} was already used; start a new one")
        if now - row.created_at > SESSION_TTL:
            raise EnrolmentError(f"session {session_id} expired; start a new one")
        row.used = True  # single use, even if the check below fails or crashes
        session = ChallengeSession.from_json(json.loads(row.document))
        reference = photo_group_embeddings(s, person_id)
        calibration = photo_group_calibration(s, person_id)
        uid = person.uid
    if reference is None:
        raise EnrolmentError(f"person {person_id} has no faces in the library to match against")
    backend = enrolment_backend()
    result = verify_clip(
        frames, session, backend, reference, enrolment_turned_faces(backend), calibration
    )
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
        "face_backend": DlibFaceBackend.name,
        "turned_face_finder": DlibCnnFaceFinder.name,
        **thresholds(),
        "eye_level_pitch": calibration.pitch if calibration else None,
    }
    with lib.session() as s:
        s.add(
            Enrolment(
                id=record.id,
                person_uid=uid,
                session_id=session_id,
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
