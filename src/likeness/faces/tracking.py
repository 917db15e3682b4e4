"""A face backend for video of one person: looks for the face where it just was.

Live enrolment checks each camera frame as it arrives, and must keep up with the camera. On a
640x480 frame, dlib's HOG scan of the whole frame is most of the time (about 36 of 57 ms on
two cores); the face moves little from one frame to the next (a head turning at 65 degrees a
second moves its box a fraction of its width in a 30th of a second). ``TrackingFaceBackend``
scans only the region around the last frame's face (``REACH`` face widths on every side:
about a third of the frame's pixels for a 180 px face), and the whole frame every
``FULL_EVERY`` frames and whenever the region does not show exactly one face, so a second
face coming into view, or the face leaving the region, is seen within ``FULL_EVERY`` frames.
Landmarks and embeddings are computed on the whole frame as before; only the search is
narrowed. HOG's scan grid starts at the region's corner rather than the frame's, so the box
can come from the next level of its pyramid (1.2 times larger or smaller), as it can between
two frames of a whole-frame scan; the landmarks, and so the pose and the embedding, hardly
change (tests/faces/test_tracking.py).
"""

from __future__ import annotations

import numpy as np

from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.protocol import DetectedFace, LocatedFace

#: The region scanned around the last face, in face widths on each side.
REACH = 0.4
#: The whole frame is scanned at least this often (frames).
FULL_EVERY = 5


class TrackingFaceBackend:
    """``DlibFaceBackend`` for consecutive frames of one video (keeps the last face's box:
    use one per video)."""

    def __init__(
        self, backend: DlibFaceBackend, reach: float = REACH, full_every: int = FULL_EVERY
    ):
        self.backend, self.reach, self.full_every = backend, reach, full_every
        self.name, self.embedding_dim = backend.name, backend.embedding_dim
        self.distances = backend.distances
        self.last: tuple[int, int, int, int] | None = None
        self.since_full = 0
        self.full_scans = 0

    def analyze(self, image: np.ndarray) -> list[DetectedFace]:
        return self.backend.embed_located(self.locate(image))

    def locate(self, image: np.ndarray) -> list[LocatedFace]:
        """The faces found and aligned, not embedded (``DlibFaceBackend.locate``)."""
        faces = self._near_last(image) if self.since_full < self.full_every - 1 else None
        if faces is None:
            faces = self.backend.locate(image)
            self.since_full, self.full_scans = 0, self.full_scans + 1
        else:
            self.since_full += 1
        self.last = faces[0].box if len(faces) == 1 else None
        return faces

    def embed_located(self, located: list[LocatedFace]) -> list[DetectedFace]:
        return self.backend.embed_located(located)

    def _near_last(self, image: np.ndarray) -> list[LocatedFace] | None:
        """The one face in the region around the last one (None: scan the whole frame)."""
        if self.last is None:
            return None
        x0, y0, x1, y1 = self.last
        pad = round(self.reach * (x1 - x0))
        h, w = image.shape[:2]
        rx0, ry0 = max(0, x0 - pad), max(0, y0 - pad)
        rx1, ry1 = min(w, x1 + pad), min(h, y1 + pad)
        found = self.backend.detect(np.ascontiguousarray(image[ry0:ry1, rx0:rx1]))
        if len(found) != 1:
            return None
        (bx0, by0, bx1, by1), score = found[0]
        return self.backend.align(image, [((bx0 + rx0, by0 + ry0, bx1 + rx0, by1 + ry0), score)])
