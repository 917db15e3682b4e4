"""A second face backend, written as a user's plug-in would be, for the test that proves a new
backend needs no edit outside ``likeness/faces``.

``ScaledFaceBackend`` finds faces with the dlib backend but describes them in a space of its
own: each embedding is turned by a fixed rotation and stretched three times, so its distances
are three times dlib's and it brings thresholds to match. Code that compared its embeddings
with dlib's thresholds (0.55), or with dlib's embeddings, would get them wrong.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import numpy as np

from likeness.faces.detection import DetectionSettings
from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.protocol import DetectedFace, FaceDistances

#: How ``$LIKENESS_FACE_BACKEND`` names it (a module path: it is not in ``BACKENDS``).
SPEC = "likeness.testing.backends:ScaledFaceBackend"
STRETCH = 3.0


def _rotation(dim: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((dim, dim)))
    return q.astype(np.float32)


class ScaledFaceBackend:
    name: ClassVar[str] = "scaled-dlib-test-v1"
    embedding_dim: ClassVar[int] = DlibFaceBackend.embedding_dim
    distances: ClassVar[FaceDistances] = FaceDistances(
        same_person=STRETCH * DlibFaceBackend.distances.same_person,
        link=STRETCH * DlibFaceBackend.distances.link,
        merge=STRETCH * DlibFaceBackend.distances.merge,
        same_face=STRETCH * DlibFaceBackend.distances.same_face,
    )

    def __init__(self, settings: DetectionSettings | None = None) -> None:
        self._dlib = DlibFaceBackend(settings)
        self._turn = _rotation(self.embedding_dim)

    def analyze(self, image: np.ndarray) -> list[DetectedFace]:
        return [
            replace(f, embedding=(STRETCH * (self._turn @ f.embedding)).astype(np.float32))
            for f in self._dlib.analyze(image)
        ]
