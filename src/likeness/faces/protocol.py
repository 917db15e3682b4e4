"""The face backend protocol: what the rest of likeness needs from a face model, and no more.

A backend turns an upright RGB image into faces with a box, 5 landmarks, an embedding and a
quality score. Grouping only compares embeddings of the same backend (``FaceBackend.name``), so a
stronger embedder (e.g. an ONNX ArcFace file a user brings) can be added as another module without
touching import or grouping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


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


class FaceBackend(Protocol):
    """A face model: detection, 5-point alignment and an embedding in one call."""

    #: Identifies the model family and version; embeddings of different names are not comparable.
    name: str
    embedding_dim: int
    #: Distance (Euclidean on the embedding) below which two faces are likely the same person.
    match_distance: float

    def analyze(self, image: np.ndarray) -> list[DetectedFace]:
        """Find and embed every face in an upright RGB uint8 image of shape (H, W, 3)."""
        ...
