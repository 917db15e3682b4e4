"""Face quality: how useful a face is for grouping and, later, for training an adapter.

Three measurable parts, each in 0..1: size (pixels across the face), sharpness (variance of the
Laplacian of the aligned face chip) and frontalness (symmetry of the eyes around the nose in the
5-point landmarks). The product ranks faces; it is a ranking, not a probability.
"""

from __future__ import annotations

import numpy as np

#: A face this wide (pixels) or wider counts as full size; dlib's aligned chips are 150 px.
FULL_SIZE_PX = 150.0
#: Laplacian variance of a chip that counts as fully sharp (grayscale 0..255 values).
FULL_SHARPNESS = 400.0


def size_score(box: tuple[int, int, int, int]) -> float:
    side = min(box[2] - box[0], box[3] - box[1])
    return float(min(1.0, max(0.0, side / FULL_SIZE_PX)))


def sharpness_score(chip: np.ndarray) -> float:
    """Variance of a 4-neighbour Laplacian over a grayscale face chip, mapped to 0..1."""
    gray = chip.astype(np.float32)
    if gray.ndim == 3:
        gray = gray @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = (
        -4 * gray[1:-1, 1:-1] + gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:]
    )
    return float(min(1.0, lap.var() / FULL_SHARPNESS))


def frontalness_score(landmarks: tuple[tuple[float, float], ...]) -> float:
    """1.0 when the nose sits midway between the eyes (no yaw), falling towards 0 in profile."""
    pts = np.asarray(landmarks, dtype=np.float64)
    eye_a = pts[0:2].mean(axis=0)
    eye_b = pts[2:4].mean(axis=0)
    nose = pts[4]
    axis = eye_b - eye_a
    length = float(np.linalg.norm(axis))
    if length < 1e-6:
        return 0.0
    # Position of the nose along the eye axis: 0.5 is frontal.
    t = float(np.dot(nose - eye_a, axis) / length**2)
    return float(max(0.0, 1.0 - 2.0 * abs(t - 0.5)))


def combined_quality(size: float, sharpness: float, frontalness: float) -> float:
    return float(size * (0.25 + 0.75 * sharpness) * (0.25 + 0.75 * frontalness))
