"""The face backend protocol: what the rest of likeness needs from a face model, and no more.

A backend turns an upright RGB image into faces with a box, 5 landmarks, an embedding and a
quality score, and says which embedding distances mean what (``FaceDistances``): a threshold
belongs to the model whose embeddings it compares. Grouping only compares embeddings of the
same backend (``FaceBackend.name``), so a stronger embedder (e.g. an ONNX ArcFace file a user
brings) is added as another module in ``faces/`` and named in ``faces.backends``, without
touching import, grouping, consent or the safety gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from likeness.faces.detection import DetectionSettings


@dataclass(frozen=True)
class DetectedFace:
    """One face found in an upright image; coordinates are pixels of that image."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    landmarks: tuple[tuple[float, float], ...]  # 5 points: eye corners (4) and nose base
    embedding: np.ndarray  # float32, shape (embedding_dim,)
    detector_score: float
    sharpness: float  # 0..1
    frontalness: float  # 0..1, 1 = looking straight at the camera
    quality: float  # 0..1, combines size, sharpness and pose


@dataclass(frozen=True)
class LocatedFace:
    """A face found and aligned but not yet embedded (``DetectedFace`` without the embedding
    and the scores read from it): the embedding network is close to half of a video frame's
    cost, and a liveness check needs the embeddings of the frames facing the camera only
    (``consent.liveness.reader``), so a backend that can stop here (``locate`` and
    ``embed_located``) saves it on a head's turns."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    landmarks: tuple[tuple[float, float], ...]  # 5 points: eye corners (4) and nose base
    detector_score: float
    chip: np.ndarray  # the aligned crop the embedder takes (RGB uint8)


@dataclass(frozen=True)
class FaceDistances:
    """The Euclidean embedding distances that mean something for one backend's embeddings."""

    #: A face is a person's when it is closer than this to the centroid of their photo group
    #: (consent's match, the safety gate, an adapter's likeness score: ``people.identity``).
    same_person: float
    #: Grouping: two faces closer than this can be one person.
    link: float
    #: Grouping: two groups merge only if their mean embeddings are closer than this.
    merge: float
    #: Live enrolment: every frame of one clip shows one face (within this of each other).
    same_face: float


class FaceBackend(Protocol):
    """A face model: detection, 5-point alignment and an embedding in one call.

    The three attributes are the class's own (read without loading a model). A class that
    follows it takes ``settings`` (``faces.detection.DetectionSettings``, which it may read
    as far as it applies) and may offer ``for_video_frames()`` (a variant for one
    large face a frame, for enrolment clips) and ``turned_face_finder()`` (a
    ``TurnedFaceFinder`` for frames where a turned head leaves its detector's range)."""

    #: Identifies the model family and version; embeddings of different names are not comparable.
    name: str
    embedding_dim: int
    distances: FaceDistances

    def __init__(self, settings: DetectionSettings | None = None) -> None: ...

    def analyze(self, image: np.ndarray) -> list[DetectedFace]:
        """Find and embed every face in an upright RGB uint8 image of shape (H, W, 3)."""
        ...


@runtime_checkable
class LocatingBackend(Protocol):
    """A backend that can find and align faces without embedding them, and embed them after
    (``LocatedFace``): what a check that needs the embeddings of some frames only calls.
    ``embed_located(locate(image))`` must be ``analyze(image)``: a subclass that changes
    ``analyze`` (another embedding space) changes these too, or the liveness check, which
    calls them, reads embeddings that ``analyze`` would not give."""

    def locate(self, image: np.ndarray) -> list[LocatedFace]: ...

    def embed_located(self, located: list[LocatedFace]) -> list[DetectedFace]: ...


class TurnedFaceFinder(Protocol):
    """Finds a face near where one was a moment ago, when the backend lost it (a head turned
    beyond its detector's range)."""

    name: str

    def find_near(
        self, image: np.ndarray, box: tuple[int, int, int, int]
    ) -> DetectedFace | None: ...
