"""A second fingerprint that survives crops, small rotations and frames: local features.

PDQ hashes the whole picture, so cutting 5% off one side moves it past the match distance
(``benchmarks/provenance_robustness.py``). Local features do not care what was cut away:
OpenCV's ORB finds corners at several scales, each with a 256-bit binary descriptor that turns
with the corner, and a copy is the output when enough of its corners match the output's *and*
agree on one geometric transform (a similarity: shift, turn, scale), checked by RANSAC. A
mirrored copy is described a second time mirrored back (ORB descriptors are not mirror
invariant). The geometric check is what makes this a fingerprint and not a texture
comparison: unrelated pictures share some similar corners, never dozens in the same
arrangement.

What is kept per output (``tables.OutputKeypoints``): the strongest ``STORED`` corners'
positions and descriptors, in a frame where the output's longer side is ``SIDE`` pixels. The
strongest ``INDEXED`` of them go into an approximate nearest-neighbour index
(``keypoint_index``) that proposes candidates; the geometric check decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Outputs are described with their longer side scaled to this many pixels.
SIDE = 512
#: A copy is described at its own size, its longer side brought within these bounds: a
#: screenshot keeps the resolution its picture has, a small repost is enlarged for ORB.
COPY_SIDES = (512, 1024)
#: Corners kept per output, and how many of the strongest go into the search index.
STORED = 256
INDEXED = 32
#: Corners described per copy (as it is, and again mirrored back).
QUERIED = 1000
#: At least this many corners must agree on one transform for a match. Over 10,000
#: unrelated images and their flips the most that ever agreed was far below it, while crops
#: of a quarter and turns of 5 degrees keep several times as many
#: (``benchmarks/provenance_robustness.py`` prints both).
MIN_INLIERS = 20
#: Lowe's ratio test: a corner's best match must be clearly better than its second best.
RATIO = 0.8
#: Corners further apart than this (of 256 bits) are not a match at all.
MAX_BITS = 80
#: RANSAC's reprojection tolerance, in pixels of the output's frame.
TOLERANCE = 6.0


@dataclass(frozen=True)
class Keypoints:
    """Corner positions (n, 2), float32, in the frame they were found in, and their ORB
    descriptors (n, 32), uint8, strongest first."""

    points: np.ndarray
    descriptors: np.ndarray
    #: The frame's size, (width, height).
    size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.descriptors)

    def to_bytes(self) -> tuple[bytes, bytes]:
        """(points, descriptors) as stored."""
        return (
            np.ascontiguousarray(self.points, "<f4").tobytes(),
            np.ascontiguousarray(self.descriptors, np.uint8).tobytes(),
        )

    @classmethod
    def from_bytes(cls, points: bytes, descriptors: bytes, size: tuple[int, int]) -> Keypoints:
        return cls(
            np.frombuffer(points, "<f4").reshape(-1, 2),
            np.frombuffer(descriptors, np.uint8).reshape(-1, 32),
            size,
        )


@dataclass(frozen=True)
class Correspondence:
    """How a copy lies on the output it matched: the similarity that maps the output's frame
    onto the copy's, and how many corners agree with it."""

    inliers: int
    mirrored: bool
    degrees: float  # the copy turned by this many degrees, counter-clockwise positive
    scale: float  # the copy's size against the output's (as described)
    shown: float  # the share of the output's area that lies inside the copy

    def words(self) -> str:
        """What was done to the output to make the copy, as a person would say it."""
        parts = []
        if self.mirrored:
            parts.append("mirrored")
        if abs(self.degrees) >= 0.5:
            side = "left" if self.degrees > 0 else "right"
            parts.append(f"turned {abs(self.degrees):.0f}° to the {side}")
        if self.shown < 0.97:
            parts.append(f"cropped to {self.shown:.0%} of it")
        return ", ".join(parts) if parts else "as it is"


def _grey(pixels: np.ndarray, longest: int) -> np.ndarray:
    import cv2

    from likeness.faces.scaling import resize_image

    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    return resize_image(grey, longest / max(grey.shape))


#: ORB finds no corner within 31 px of an edge: a thinner picture (a 1 px line scaled up)
#: has none, and OpenCV's pyramid would fail on it.
THINNEST = 64


def _describe(grey: np.ndarray, keep: int, found: int) -> Keypoints:
    import cv2

    size = (grey.shape[1], grey.shape[0])
    none = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), size)
    if min(size) < THINNEST:
        return none
    orb = cv2.ORB_create(nfeatures=found, scaleFactor=1.2, nlevels=8, fastThreshold=10)
    corners, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or not corners:
        return none
    order = np.argsort([-c.response for c in corners], kind="stable")[:keep]
    points = np.array([corners[i].pt for i in order], np.float32).reshape(-1, 2)
    return Keypoints(points, descriptors[order], size)


def describe_output(pixels: np.ndarray) -> Keypoints:
    """The corners kept for a stamped output (RGB uint8), its longer side at ``SIDE``."""
    return _describe(_grey(pixels, SIDE), STORED, STORED * 4)


def describe_copy(pixels: np.ndarray) -> tuple[Keypoints, Keypoints]:
    """The corners of a file that may be a copy: as it is, and mirrored back."""
    h, w = pixels.shape[:2]
    longest = min(max(max(h, w), COPY_SIDES[0]), COPY_SIDES[1])
    grey = _grey(pixels, longest)
    return (
        _describe(grey, QUERIED, QUERIED),
        _describe(np.ascontiguousarray(grey[:, ::-1]), QUERIED, QUERIED),
    )


def match(
    copy: Keypoints, output: Keypoints, mirrored: bool = False, min_inliers: int = MIN_INLIERS
) -> Correspondence | None:
    """The transform most of the output's matched corners agree on, if at least
    ``min_inliers`` do (``mirrored`` says ``copy`` was described mirrored back). A lower
    ``min_inliers`` than the default is for measuring how near unrelated images come."""
    import cv2

    min_inliers = max(min_inliers, 3)  # a similarity needs two points; RANSAC a third
    if len(copy) < 2 or len(output) < 2:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(output.descriptors, copy.descriptors, k=2)
    good = [
        best
        for best, second in (p for p in pairs if len(p) == 2)
        if best.distance < RATIO * second.distance and best.distance <= MAX_BITS
    ]
    if len(good) < min_inliers:
        return None
    source = np.float32([output.points[g.queryIdx] for g in good])
    target = np.float32([copy.points[g.trainIdx] for g in good])
    transform, inliers = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=TOLERANCE, maxIters=2000
    )
    if transform is None or int(inliers.sum()) < min_inliers:
        return None
    a, b = float(transform[0, 0]), float(transform[1, 0])
    scale = math.hypot(a, b)
    if not 1 / 8 <= scale <= 8:  # a degenerate fit, not a copy
        return None
    degrees = -math.degrees(math.atan2(b, a))  # image rows grow downwards
    if mirrored:
        degrees = -degrees
    return Correspondence(
        int(inliers.sum()), mirrored, degrees, scale, _shown(transform, output.size, copy.size)
    )


def _shown(transform: np.ndarray, output: tuple[int, int], copy: tuple[int, int]) -> float:
    """The share of the output's area that the transform puts inside the copy's frame,
    estimated on a grid of 40 by 40 cells."""
    w, h = output
    xs, ys = np.meshgrid((np.arange(40) + 0.5) * w / 40, (np.arange(40) + 0.5) * h / 40)
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    mapped = transform @ grid
    inside = (mapped[0] >= 0) & (mapped[0] <= copy[0]) & (mapped[1] >= 0) & (mapped[1] <= copy[1])
    return float(inside.mean())
