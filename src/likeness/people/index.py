"""Nearest-neighbour search over face embeddings (faiss).

Two jobs, two shapes of search:

- ``EmbeddingIndex``: one face at a time against everything known (incremental grouping).
  Exact (flat) up to ``EXACT_LIMIT`` faces, an inverted-file index (IVF: k-means cells, a few
  probed per query) above that.
- ``all_nearest_neighbours``: every face's neighbours at once (a full re-cluster). Above
  ``EXACT_LIMIT`` it joins each k-means cell with its nearest cells by dense matrix products,
  which is several times faster than a million separate IVF queries.

Distances are Euclidean, as dlib's thresholds are.
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
            # ~2 sqrt(n) cells trained on 40 samples each (faiss's guidance) with a short
            # k-means: face clusters are tight, so coarse cells lose few true neighbours.
            nlist = int(min(4096, max(256, 2 * math.sqrt(expected_size))))
            nlist = max(1, min(nlist, len(train_on) // 40))  # k-means needs samples per cell
            quantizer = faiss.IndexFlatL2(dim)
            self._index = faiss.IndexIVFFlat(quantizer, dim, nlist)
            self._index.cp.niter = 10
            sample = train_on
            if len(sample) > 40 * nlist:
                rng = np.random.default_rng(0)
                sample = sample[rng.choice(len(sample), 40 * nlist, replace=False)]
            self._index.train(np.ascontiguousarray(sample, dtype=np.float32))
            self._index.nprobe = 8
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


#: Cells a full re-cluster searches for each cell's faces: its own and the nearest others.
JOIN_PROBE = 6


def all_nearest_neighbours(
    vectors: np.ndarray, k: int, exact_limit: int = EXACT_LIMIT
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices) of each vector's k nearest vectors (itself included), (n, k).

    Exact up to ``exact_limit`` vectors. Above, approximate: vectors are put in ~sqrt(n) k-means
    cells and each cell is searched exactly against its JOIN_PROBE nearest cells. A neighbour
    in a cell not probed is missed (on the synthetic benchmark, a few percent of those within
    the linking distance); a cluster needs only some of its links to hold together. Missing
    neighbours are -1.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    k = min(k, n)
    if n <= exact_limit:
        flat = faiss.IndexFlatL2(dim)
        flat.add(vectors)
        sq, idx = flat.search(vectors, k)
        return np.sqrt(np.maximum(sq, 0)), idx
    nlist = int(math.sqrt(n))
    rng = np.random.default_rng(0)
    kmeans = faiss.Kmeans(dim, nlist, niter=10, seed=1)
    kmeans.train(vectors[rng.choice(n, min(n, 40 * nlist), replace=False)])
    _, cell = kmeans.index.search(vectors, 1)
    cell = cell[:, 0]
    _, near_cells = kmeans.index.search(kmeans.centroids, JOIN_PROBE)
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(nlist + 1))
    distances = np.full((n, k), np.inf, dtype=np.float32)
    indices = np.full((n, k), -1, dtype=np.int64)
    for c in range(nlist):
        queries = order[bounds[c] : bounds[c + 1]]
        if len(queries) == 0:
            continue
        candidates = np.concatenate(
            [order[bounds[j] : bounds[j + 1]] for j in near_cells[c] if j >= 0]
        )
        flat = faiss.IndexFlatL2(dim)
        flat.add(vectors[candidates])
        kk = min(k, len(candidates))
        sq, idx = flat.search(vectors[queries], kk)
        distances[queries, :kk] = np.sqrt(np.maximum(sq, 0))
        indices[queries, :kk] = candidates[idx]
    return distances, indices
