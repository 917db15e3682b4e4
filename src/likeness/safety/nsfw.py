"""Explicit-content detection with NudeNet (its ONNX detector ships inside the wheel)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: NudeNet's classes that make an image explicit. Covered body parts, faces, feet, bellies
#: and armpits do not.
EXPLICIT = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "ANUS_EXPOSED",
        "BUTTOCKS_EXPOSED",
    }
)
#: Detection score from which an explicit class counts.
MIN_SCORE = 0.45


@dataclass(frozen=True)
class ExplicitFinding:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1


class NudityDetector:
    """NudeNet's 320 px detector, loaded once. NudeNet's own preprocessing and model; its
    postprocessing (a Python loop over the model's 2,100 candidate boxes: 11 ms an image,
    a third of the detector's time) is done here with array operations, to the same
    detections (``tests/safety/test_gate.py`` compares the two)."""

    name = "nudenet-320n"
    #: NudeNet's candidate and overlap thresholds (its ``_postprocess``): a candidate counts
    #: from 0.2, and non-maximum suppression keeps boxes from 0.25 that overlap less than 0.45.
    CANDIDATE_SCORE, NMS_SCORE, NMS_OVERLAP = 0.2, 0.25, 0.45

    def __init__(self, min_score: float = MIN_SCORE, labels: frozenset[str] = EXPLICIT) -> None:
        import nudenet
        import onnxruntime

        model = Path(nudenet.__file__).with_name("320n.onnx")  # the detector the wheel ships
        # One thread that sleeps when idle, in place of ONNX Runtime's default (a thread per
        # core, spinning between runs): one 320 px image takes 25 ms either way, and the
        # spinning threads took CPU from the sampling that runs beside the gate (the Ray
        # workers on the same cores, or this process's own next image).
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(model), sess_options=options)
        self._input = self._session.get_inputs()[0].name
        self._size = 320
        #: NudeNet's class names, in its model's output order.
        self.classes: list[str] = list(vars(nudenet.nudenet)["__labels"])
        self.min_score, self.labels = min_score, labels

    def detect(self, image: np.ndarray) -> list[tuple[str, float, tuple[int, int, int, int]]]:
        """Every detection NudeNet makes in an RGB uint8 image, as its ``detect`` reports it:
        (class, score, (x, y, width, height)) after its non-maximum suppression."""
        import cv2
        from nudenet.nudenet import _read_image

        rgba = np.ascontiguousarray(np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]))
        blob, _, _, x_pad, y_pad, width, height = _read_image(rgba, self._size)
        [output] = self._session.run(None, {self._input: blob})[:1]
        rows = np.squeeze(output).T  # candidates x (cx, cy, w, h, one score per class)
        scores = rows[:, 4:].max(axis=1)
        keep = scores >= self.CANDIDATE_SCORE
        rows, scores = rows[keep], scores[keep]
        classes = rows[:, 4:].argmax(axis=1)
        w, h = rows[:, 2], rows[:, 3]
        x, y = rows[:, 0] - w / 2, rows[:, 1] - h / 2
        sx, sy = (width + x_pad) / self._size, (height + y_pad) / self._size
        x, y, w, h = x * sx, y * sy, w * sx, h * sy
        x, y = np.clip(x, 0, width), np.clip(y, 0, height)
        w, h = np.minimum(w, width - x), np.minimum(h, height - y)
        boxes = np.stack([x, y, w, h], axis=1)
        kept = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.NMS_SCORE, self.NMS_OVERLAP)
        return [
            (
                self.classes[int(classes[i])],
                float(scores[i]),
                (int(x[i]), int(y[i]), int(w[i]), int(h[i])),
            )
            for i in np.asarray(kept, dtype=int).reshape(-1)
        ]

    def explicit(self, image: np.ndarray) -> list[ExplicitFinding]:
        """Explicit findings in an RGB uint8 image (empty when there are none)."""
        return [
            ExplicitFinding(label, score, (x, y, x + w, y + h))
            for label, score, (x, y, w, h) in self.detect(image)
            if label in self.labels and score >= self.min_score
        ]
