"""Explicit-content detection with NudeNet (its ONNX detector ships inside the wheel)."""

from __future__ import annotations

from dataclasses import dataclass

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
        from nudenet import NudeDetector

        self._detector = NudeDetector()
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
