"""Smaller copies of a photo for the detectors, made from exact halvings.

Why: the detectors look at a 12 MP photo at many sizes (P-Net's pyramid from 0.75 MP down to a
few hundred pixels, R-Net's and O-Net's 24 and 48 px crops of boxes of any width, HOG's checks
of each proposal on a crop scaled so the face is 115 px wide).
OpenCV's area filter has a fast path for an exact factor of 2: halving a 12 MP photo takes
about 3 ms of CPU, against 25-30 ms to scale it by an arbitrary factor such as 0.2 or 0.3. So
each copy is scaled from the smallest halving still larger than it, and the halvings of one
photo are made once (``Halvings``). Successive box filters blur a little more than one box
filter of the whole factor (a few grey levels apart on fine texture, about one once both are
smoothed); the detectors do not notice (faces-dev and phone-library recall, proposal recall
and grouping are unchanged: benchmarks/).
"""

from __future__ import annotations

import numpy as np


def halve(image: np.ndarray) -> np.ndarray:
    """The image at half size by 2x2 box filtering (an odd last row or column is dropped, so
    that OpenCV takes its exact-halving path)."""
    import cv2

    h, w = image.shape[:2]
    even = image[: h - h % 2, : w - w % 2]
    return cv2.resize(even, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def resize_image(image: np.ndarray, scale: float) -> np.ndarray:
    """The image scaled by ``scale`` (box filter down, bilinear up, as the detectors expect)."""
    if abs(scale - 1.0) < 1e-3:
        return image
    return Halvings(image).resize(scale)


class Halvings:
    """A photo and its halvings, made as they are first needed; copies at any smaller scale
    and crops at a given size are cut from the nearest halving above them."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self._levels = [image]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the full photo."""
        return self.image.shape[1], self.image.shape[0]

    def _level(self, k: int) -> np.ndarray:
        while len(self._levels) <= k:
            self._levels.append(halve(self._levels[-1]))
        return self._levels[k]

    def _deepest(self, width: float, height: float) -> int:
        """The most-halved level at least ``width`` x ``height`` (of the photo's pixels scaled
        to that level: the photo's size halved k times)."""
        w, h = self.size
        k = 0
        while (w >> (k + 1)) >= width and (h >> (k + 1)) >= height and (w >> (k + 1)) > 0:
            k += 1
        return k

    def resize(self, scale: float, smooth: bool = True) -> np.ndarray:
        """The photo scaled by ``scale`` to (round(width * scale), round(height * scale)).

        Below half size, the nearest halving above is scaled the rest of the way (by less
        than 2), with the area filter, or bilinear when ``smooth`` is False: 7x cheaper, and
        the halvings have already removed most of what bilinear would alias."""
        import cv2

        w, h = self.size
        target = (max(1, round(w * scale)), max(1, round(h * scale)))
        if scale >= 1:
            if target == (w, h):
                return self.image
            return cv2.resize(self.image, target, interpolation=cv2.INTER_LINEAR)
        level = self._level(self._deepest(*target))
        if level.shape[1::-1] == target:
            return level
        interpolation = cv2.INTER_AREA if smooth else cv2.INTER_LINEAR
        return cv2.resize(level, target, interpolation=interpolation)

    def crop(self, box: np.ndarray | tuple[float, ...], size: int) -> np.ndarray:
        """The pixels of ``box`` (x0, y0, x1, y1 in photo pixels; zero outside the photo, as
        MTCNN's authors pad) at ``size`` x ``size``, cut from the most-halved level where the
        box is still at least ``size`` px wide and high."""
        import cv2

        x0, y0, x1, y1 = (float(v) for v in box)
        k = 0
        while (x1 - x0) / 2 ** (k + 1) >= size and (y1 - y0) / 2 ** (k + 1) >= size:
            k += 1
        k = min(k, self._deepest(1, 1))
        image = self._level(k)
        h, w = image.shape[:2]
        f = 2**k
        x0, y0, x1, y1 = (round(v / f) for v in (x0, y0, x1, y1))
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if (cx0, cy0, cx1, cy1) == (x0, y0, x1, y1):
            part = image[y0:y1, x0:x1]
        else:
            part = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
            if cx1 > cx0 and cy1 > cy0:
                part[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = image[cy0:cy1, cx0:cx1]
        return cv2.resize(part, (size, size), interpolation=cv2.INTER_AREA)
