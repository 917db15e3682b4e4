"""Nearest-neighbour search over face embeddings (faiss).

Exact search (a flat index) for libraries up to ``EXACT_LIMIT`` faces; an inverted-file index
(IVF, k-means cells, a few probed per query) above that, which keeps both the all-faces
neighbour graph of a full re-cluster and the per-face search of incremental grouping fast at a
million faces. Distances are Euclidean, as dlib's thresholds are.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_LIMIT = 50_000


class EmbeddingIndex:
    def __init__(self, dim: int, expected_size: int = 0, train_on: np.ndarray | None = None):
        import faiss

        self.dim = dim
        self._ids = np.zeros(0, dtype=np.int64)
        if expected_size <= EXACT_LIMIT or train_on is None:
            self._index = faiss.IndexFlatL2(dim)
            self.exact = True
        else:
            nlist = int(min(16384, max(256, 4 * math.sqrt(expected_size))))
            quantizer = faiss.IndexFlatL2(dim)
            self._index = faiss.IndexIVFFlat(quantizer, dim, nlist)
            sample = train_on
            if len(sample) > 64 * nlist:
                rng = np.random.default_rng(0)
                sample = sample[rng.choice(len(sample), 64 * nlist, replace=False)]
            self._index.train(np.ascontiguousarray(sample, dtype=np.float32))
            self._index.nprobe = 12
            self.exact = False

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray) -> EmbeddingIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = cls(vectors.shape[1] if vectors.ndim == 2 else 128, len(vectors), vectors)
        index.add(vectors, ids)
        return index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(vectors) == 0:
            return
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._ids = np.concatenate([self._ids, np.asarray(ids, dtype=np.int64)])

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, ids) of the k nearest, shape (n, k); missing neighbours have id -1."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(self) == 0:
            n = len(vectors)
            return np.full((n, k), np.inf, np.float32), np.full((n, k), -1, np.int64)
        sq, pos = self._index.search(vectors, min(k, len(self)))
        if pos.shape[1] < k:
            pad = k - pos.shape[1]
            sq = np.pad(sq, ((0, 0), (0, pad)), constant_values=np.inf)
            pos = np.pad(pos, ((0, 0), (0, pad)), constant_values=-1)
        ids = np.where(pos >= 0, self._ids[np.clip(pos, 0, None)], -1)
        return np.sqrt(np.maximum(sq, 0)).astype(np.float32), ids
