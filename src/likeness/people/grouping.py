"""Group faces into people: a full re-cluster, and incremental assignment as photos arrive.

Both work on embeddings with the same rules, so a re-cluster does not contradict what
incremental grouping built:

- Two faces join only over a neighbour link shorter than ``link_distance`` (nearest-neighbour
  search, never all pairs) and only if the two groups' mean embeddings are within
  ``centroid_distance`` (stops single-link chaining of two look-alike people through one
  ambiguous face).
- Two faces of the same photo are never the same person.
- Faces a person placed by hand (``locked``) never move, and groups holding locked faces of two
  different people never merge.
- A group smaller than ``min_faces`` is not a person: its faces stay unassigned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from likeness.faces.backends import backend_class
from likeness.faces.protocol import FaceBackend
from likeness.people.index import EmbeddingIndex, all_nearest_neighbours


@dataclass(frozen=True)
class GroupingParams:
    """How faces are grouped. The two distances belong to the face backend whose embeddings
    are grouped (``FaceDistances.link`` and ``.merge``): take them with ``for_backend``."""

    #: Two faces closer than this can be one person.
    link_distance: float
    #: Two groups merge only if their mean embeddings are closer than this.
    centroid_distance: float
    #: Neighbours looked at per face.
    neighbours: int = 12
    #: A person needs at least this many faces; smaller groups stay unassigned.
    min_faces: int = 2
    #: Faces below this quality (tiny, blurred, in profile) stay unassigned: their embeddings
    #: are unreliable and would link people who differ. Hand-placed faces are exempt.
    min_quality: float = 0.08

    @classmethod
    def for_backend(
        cls, backend: type[FaceBackend] | None = None, **overrides: float
    ) -> GroupingParams:
        """The parameters for grouping ``backend``'s embeddings (default: the backend this
        process runs), with ``overrides``."""
        distances = (backend or backend_class()).distances
        values = {"link_distance": distances.link, "centroid_distance": distances.merge}
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


class _Groups:
    """Union-find over faces with, per group: photos, locked person, embedding sum."""

    def __init__(self, embeddings: np.ndarray, photo_ids: np.ndarray, locked: np.ndarray):
        n = len(embeddings)
        self.parent = list(range(n))
        self.size = [1] * n
        self.photos: list[set[int] | None] = [{int(p)} for p in photo_ids.tolist()]
        self.locked: list[int] = [int(x) for x in locked.tolist()]  # -1: none
        self.sums = np.array(embeddings, dtype=np.float32, copy=True)  # 4 bytes: 1M faces fit

    def find(self, a: int) -> int:
        parent = self.parent
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return root

    def can_merge(self, ra: int, rb: int, centroid_limit: float | None) -> bool:
        la, lb = self.locked[ra], self.locked[rb]
        if la >= 0 and lb >= 0 and la != lb:
            return False
        pa, pb = self.photos[ra], self.photos[rb]
        assert pa is not None and pb is not None
        small, large = (pa, pb) if len(pa) < len(pb) else (pb, pa)
        if not small.isdisjoint(large):
            return False
        if centroid_limit is not None and (self.size[ra] > 1 or self.size[rb] > 1):
            ca = self.sums[ra] / self.size[ra]
            cb = self.sums[rb] / self.size[rb]
            if float(np.linalg.norm(ca - cb)) >= centroid_limit:
                return False
        return True

    def union(self, ra: int, rb: int) -> int:
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        pa, pb = self.photos[ra], self.photos[rb]
        assert pa is not None and pb is not None
        pa |= pb
        self.photos[rb] = None
        if self.locked[ra] < 0:
            self.locked[ra] = self.locked[rb]
        self.sums[ra] += self.sums[rb]
        return ra


def cluster_embeddings(
    embeddings: np.ndarray,
    photo_ids: np.ndarray,
    locked_person: np.ndarray | None = None,
    params: GroupingParams | None = None,
) -> np.ndarray:
    """Full clustering. Returns a group label per face (>= 0) or -1 for unassigned.

    ``locked_person`` gives, per face, the person a human placed it in (-1 where none). Faces
    locked to the same person always end in the same group; locked groups are kept whatever
    their size.
    """
    params = params or GroupingParams.for_backend()
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    photo_ids = np.asarray(photo_ids, dtype=np.int64)
    locked = (
        np.full(n, -1, dtype=np.int64)
        if locked_person is None
        else np.asarray(locked_person, dtype=np.int64)
    )
    groups = _Groups(embeddings, photo_ids, locked)

    # Hand-placed faces first: they belong together whatever the distances say.
    first_of: dict[int, int] = {}
    for i in np.flatnonzero(locked >= 0).tolist():
        person = int(locked[i])
        if person in first_of:
            ra, rb = groups.find(first_of[person]), groups.find(i)
            if ra != rb:
                groups.union(ra, rb)
        else:
            first_of[person] = i

    # Neighbour graph, shortest links first.
    k = min(params.neighbours + 1, n)
    dist, nbr = all_nearest_neighbours(embeddings, k)
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    dst, d = nbr.reshape(-1), dist.reshape(-1)
    keep = (dst > src) & (d < params.link_distance)  # one direction of each link, no self-links
    src, dst, d = src[keep], dst[keep], d[keep]
    order = np.argsort(d, kind="stable")
    find, can_merge, union = groups.find, groups.can_merge, groups.union
    for a, b in zip(src[order].tolist(), dst[order].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb and can_merge(ra, rb, params.centroid_distance):
            union(ra, rb)

    roots = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
    _, labels, counts = np.unique(roots, return_inverse=True, return_counts=True)
    big_enough = counts[labels] >= params.min_faces
    has_locked = np.zeros(len(counts), dtype=bool)
    has_locked[labels[locked >= 0]] = True
    keep_group = big_enough | has_locked[labels]
    return np.where(keep_group, labels, -1).astype(np.int64)


class IncrementalGrouper:
    """Assigns new faces one at a time against everything grouped so far.

    Holds a neighbour index over all known faces and each person's embedding sum, so one
    assignment costs one k-NN search plus a few vector operations.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        face_ids: np.ndarray,
        photo_ids: np.ndarray,
        person_ids: np.ndarray,
        params: GroupingParams | None = None,
    ) -> None:
        self.params = params or GroupingParams.for_backend()
        dim = embeddings.shape[1] if embeddings.ndim == 2 and len(embeddings) else 128
        self.index = (
            EmbeddingIndex.build(embeddings, face_ids) if len(embeddings) else EmbeddingIndex(dim)
        )
        self.face_photo: dict[int, int] = dict(
            zip(face_ids.tolist(), photo_ids.tolist(), strict=True)
        )
        self.face_person: dict[int, int] = {
            f: p for f, p in zip(face_ids.tolist(), person_ids.tolist(), strict=True) if p >= 0
        }
        self.face_vec: dict[int, np.ndarray] = {}
        self.person_sum: dict[int, np.ndarray] = {}
        self.person_count: dict[int, int] = {}
        self.photo_people: dict[int, set[int]] = {}
        for f, p, vec in zip(face_ids.tolist(), person_ids.tolist(), embeddings, strict=True):
            if p >= 0:
                self._count(f, p, vec)
            else:
                self.face_vec[f] = np.asarray(vec, dtype=np.float32)

    def _count(self, face_id: int, person: int, vec: np.ndarray) -> None:
        if person in self.person_sum:
            self.person_sum[person] += vec
            self.person_count[person] += 1
        else:
            self.person_sum[person] = np.array(vec, dtype=np.float64)
            self.person_count[person] = 1
        self.face_person[face_id] = person
        self.photo_people.setdefault(self.face_photo[face_id], set()).add(person)
        self.face_vec.pop(face_id, None)

    def assign(
        self, face_id: int, photo_id: int, embedding: np.ndarray, new_person: Callable[[], int]
    ) -> dict[int, int]:
        """Place one new face. Returns {face id: person id} for every face that got a person
        (the new face, and unassigned neighbours when they form a new person together).

        ``new_person()`` creates a person and returns its id (the caller owns the catalog).
        """
        p = self.params
        vec = np.asarray(embedding, dtype=np.float32)
        dist, ids = self.index.search(vec[None, :], p.neighbours)
        self.index.add(vec[None, :], np.array([face_id]))
        self.face_photo[face_id] = photo_id
        taken = self.photo_people.get(photo_id, set())
        votes: dict[int, float] = {}
        loose: list[int] = []
        for d, other in zip(dist[0].tolist(), ids[0].tolist(), strict=True):
            if other < 0 or d >= p.link_distance:
                continue
            person = self.face_person.get(other)
            if person is None:
                if self.face_photo.get(other) != photo_id:
                    loose.append(other)
            elif person not in taken:
                votes[person] = votes.get(person, 0.0) + (p.link_distance - d)
        for person in sorted(votes, key=votes.__getitem__, reverse=True):
            centroid = self.person_sum[person] / self.person_count[person]
            if float(np.linalg.norm(centroid - vec)) < p.centroid_distance:
                self._count(face_id, person, vec)
                return {face_id: person}
        # No person fits: a new one if enough unassigned faces agree, else stay unassigned.
        members = [face_id]
        photos = {photo_id}
        for other in loose:
            if other in self.face_vec and self.face_photo[other] not in photos:
                members.append(other)
                photos.add(self.face_photo[other])
        if len(members) < p.min_faces:
            self.face_vec[face_id] = vec
            return {}
        vectors = np.stack([vec if m == face_id else self.face_vec[m] for m in members])
        centroid = vectors.mean(axis=0)
        close = [
            m
            for m, v in zip(members, vectors, strict=True)
            if np.linalg.norm(v - centroid) < p.centroid_distance
        ]
        if len(close) < p.min_faces or face_id not in close:
            self.face_vec[face_id] = vec
            return {}
        person = new_person()
        for m, v in zip(members, vectors, strict=True):
            if m in close:
                self._count(m, person, v)
        return dict.fromkeys(close, person)
