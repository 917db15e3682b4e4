"""Duplicates: exact ones by content hash (indexed once), near ones by perceptual hash (linked)."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

#: Two photos whose 64-bit pHashes differ in at most this many bits are near duplicates
#: (re-encodes, resizes, small edits). Crops and flips are different photos.
NEAR_DUPLICATE_BITS = 6


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(pixels: np.ndarray) -> int:
    """64-bit DCT perceptual hash (imagehash.phash) as a signed int64 (fits SQLite INTEGER).

    The photo is first box-reduced by an integer factor to ~128 px (pHash itself works on 32x32,
    so this changes nothing but the cost, 4x lower than a resampling thumbnail).
    """
    import imagehash

    image = Image.fromarray(pixels)
    factor = max(1, min(image.size) // 128)
    if factor > 1:
        image = image.reduce(factor)
    bits = np.packbits(imagehash.phash(image).hash.flatten())
    return int(np.frombuffer(bits.tobytes(), dtype=">i8")[0])


class NearDuplicateIndex:
    """All known pHashes in memory (8 bytes a photo) for a vectorised Hamming-distance search."""

    def __init__(self, ids: list[int], hashes: list[int]) -> None:
        n = len(ids)
        self._ids = np.zeros(max(1024, 2 * n), dtype=np.int64)
        self._hashes = np.zeros(max(1024, 2 * n), dtype=np.uint64)
        self._ids[:n] = ids
        self._hashes[:n] = np.asarray(hashes, dtype=np.int64).view(np.uint64)
        self._n = n

    def find(self, phash: int) -> int | None:
        """The id of the closest earlier photo within NEAR_DUPLICATE_BITS, if any."""
        if self._n == 0:
            return None
        x = np.bitwise_xor(self._hashes[: self._n], np.uint64(phash & ((1 << 64) - 1)))
        distances = np.bitwise_count(x)
        best = int(np.argmin(distances))
        return int(self._ids[best]) if distances[best] <= NEAR_DUPLICATE_BITS else None

    def add(self, photo_id: int, phash: int) -> None:
        if self._n == len(self._ids):  # grow geometrically: adds stay O(1) amortised
            self._ids = np.concatenate([self._ids, np.zeros_like(self._ids)])
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        self._ids[self._n] = photo_id
        self._hashes[self._n] = np.uint64(phash & ((1 << 64) - 1))
        self._n += 1
