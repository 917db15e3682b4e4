"""A perceptual fingerprint of each output: Meta's PDQ hash (256 bits, via ``pdqhash``).

Re-encoding, resizing and light crops move a PDQ hash by a few dozen bits at most, while
unrelated images differ by about 128; the local manifest store is searched by Hamming distance.
Like the watermark it is a lookup key, not proof.
"""

from __future__ import annotations

import numpy as np

#: At most this many of the 256 bits may differ for a match (PDQ's authors suggest 31).
MATCH_BITS = 31


def pdq(image: np.ndarray) -> tuple[bytes, int]:
    """(the 32-byte PDQ hash, PDQ's quality 0..100) of an RGB uint8 image."""
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(image))
    return np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)


def distance(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())
