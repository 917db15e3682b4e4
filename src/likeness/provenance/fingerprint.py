"""A perceptual fingerprint of each output: Meta's PDQ hash (256 bits, via ``pdqhash``).

Re-encoding and resizing move a PDQ hash by a few dozen bits at most, while unrelated images
differ by about 128; the local manifest store is searched by Hamming distance. Crops are
another matter: measured on 30 stamped photos, cutting 5% off one side moved the hash by 52
to 76 bits, past the match distance (``benchmarks/provenance_robustness.py``); a copy that
was cropped, turned a few degrees or framed is found by its corners instead (``keypoints``).
A copy that was mirrored or turned by quarter turns is found through PDQ's dihedral
variants: the query is hashed as each of its 8 flips and turns (one pass,
``pdqhash.compute_dihedral``) and the nearest variant counts. Like the watermark it is a
lookup key, not proof.
"""

from __future__ import annotations

import numpy as np

#: At most this many of the 256 bits may differ for a match (PDQ's authors suggest 31).
MATCH_BITS = 31


#: Images are hashed with their longer side brought down to this: PDQ reduces every image to
#: 64x64 luminance first, so a larger one gives the same hash (a few bits either way),
#: only slower (32 ms at 1 MP against 5 ms; 4 bits apart on a photo).
HASHED_SIDE = 512


def _hashed(image: np.ndarray) -> np.ndarray:
    from likeness.faces.scaling import resize_image

    longest = max(image.shape[:2])
    scale = min(1.0, HASHED_SIDE / longest)
    return np.ascontiguousarray(resize_image(image, scale))


def pdq(image: np.ndarray) -> tuple[bytes, int]:
    """(the 32-byte PDQ hash, PDQ's quality 0..100) of an RGB uint8 image."""
    import pdqhash

    bits, quality = pdqhash.compute(_hashed(image))
    return np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def distances(variants: list[bytes], hashes: list[bytes]) -> np.ndarray:
    """The Hamming distance of each hash to each variant, (hashes, variants), all at once."""
    queries = np.frombuffer(b"".join(variants), np.uint8).reshape(len(variants), 32)
    stored = np.frombuffer(b"".join(hashes), np.uint8).reshape(len(hashes), 32)
    return _POPCOUNT[stored[:, None, :] ^ queries[None, :, :]].sum(axis=2)


def distance(a: bytes, b: bytes) -> int:
    """The Hamming distance between two hashes (``distances`` of one against one)."""
    return int(distances([a], [b])[0, 0])


#: How a copy was turned or flipped from the original when its hash's dihedral variant i
#: (``pdqhash.compute_dihedral``'s order) is the original's hash: variant 1 turns the copy a
#: quarter to the left, which undoes a quarter turn to the right.
COPY_WAS = (
    "as it is",
    "turned a quarter to the right",
    "turned upside down",
    "turned a quarter to the left",
    "flipped upside down",
    "mirrored left to right",
    "mirrored across its diagonal",
    "mirrored across its other diagonal",
)


def pdq_variants(image: np.ndarray) -> list[bytes]:
    """The PDQ hashes of an RGB uint8 image as it is and as each of its flips and quarter
    turns (8, in ``COPY_WAS``'s order), computed in one pass."""
    import pdqhash

    hashes, _ = pdqhash.compute_dihedral(_hashed(image))
    return [np.packbits(np.asarray(h).astype(np.uint8)).tobytes() for h in hashes]


#: The multi-index (``tables.PdqChunk``): 16 chunks of 16 bits. Any two hashes within
#: ``MATCH_BITS`` (31) agree to within one bit on at least one chunk.
CHUNKS = 16
assert CHUNKS * 2 > MATCH_BITS


def chunks(hash_: bytes) -> list[int]:
    """The hash's 16 chunks, each a 16-bit number (big-endian, in the hash's byte order)."""
    return [int.from_bytes(hash_[2 * i : 2 * i + 2], "big") for i in range(CHUNKS)]


def chunk_probes(hashes: list[bytes]) -> list[set[int]]:
    """For each chunk position, the values to look up: each hash's chunk and its 16
    one-bit neighbours."""
    probes: list[set[int]] = [set() for _ in range(CHUNKS)]
    for hash_ in hashes:
        for i, value in enumerate(chunks(hash_)):
            probes[i].add(value)
            probes[i].update(value ^ (1 << bit) for bit in range(16))
    return probes


def nearest(variants: list[bytes], stored: list[tuple[int, bytes]]) -> tuple[int, int, int] | None:
    """Of ``stored`` (key, hash) pairs, the one nearest any of ``variants`` within
    ``MATCH_BITS``: (key, distance, variant index), or None."""
    if not stored:
        return None
    bits = distances(variants, [h for _, h in stored])
    row, variant = np.unravel_index(int(np.argmin(bits)), bits.shape)
    d = int(bits[row, variant])
    return (stored[row][0], d, int(variant)) if d <= MATCH_BITS else None
