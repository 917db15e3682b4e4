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
    """NudeNet's 320 px detector, loaded once."""

    name = "nudenet-320n"

    def __init__(self, min_score: float = MIN_SCORE, labels: frozenset[str] = EXPLICIT) -> None:
        import nudenet
        import onnxruntime
        from nudenet import NudeDetector

        model = Path(nudenet.__file__).with_name("320n.onnx")  # the detector the wheel ships
        self._detector = NudeDetector(model_path=str(model))
        # One thread that sleeps when idle, in place of ONNX Runtime's default (a thread per
        # core, spinning between runs): one 320 px image takes 25 ms either way, and the
        # spinning threads took CPU from the sampling that runs beside the gate (the Ray
        # workers on the same cores, or this process's own next image).
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._detector.onnx_session = onnxruntime.InferenceSession(str(model), sess_options=options)
        self.min_score, self.labels = min_score, labels

    def explicit(self, image: np.ndarray) -> list[ExplicitFinding]:
        """Explicit findings in an RGB uint8 image (empty when there are none)."""
        rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
        found = []
        for d in self._detector.detect(np.ascontiguousarray(rgba)):
            if d["class"] in self.labels and d["score"] >= self.min_score:
                x, y, w, h = d["box"]
                found.append(ExplicitFinding(d["class"], float(d["score"]), (x, y, x + w, y + h)))
        return found
