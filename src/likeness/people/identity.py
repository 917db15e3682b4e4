"""Whether a face belongs to a person: the one rule, for consent, the safety gate and adapters.

A person is known by their *photo group*: the embeddings of their faces in this library, made
by one face backend. A face belongs to them when its embedding lies closer than the backend's
``FaceDistances.same_person`` to the group's centroid. Live enrolment matches a clip's face
this way, an imported grant's template, the safety gate every face in a generated image, and
an adapter's score its samples: one rule, so a face the gate calls Alice is a face enrolment
would have accepted as Alice.

Why the centroid: a person's photos span years, light and angles; the centroid of many of
them sits near the middle of that spread, while a nearest-neighbour rule lets one mislabelled
or look-alike face in a group accept strangers (benchmarks/match_threshold.py measures the
genuine and impostor distances the threshold sits between).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from likeness.faces.backends import backend_class
from likeness.faces.protocol import FaceBackend
from likeness.faces.tables import Face
from likeness.library.tables import Photo


@dataclass(frozen=True)
class PhotoGroup:
    """A person's faces as one backend embedded them, and the rule that matches a face to them."""

    person_id: int | None
    backend: str
    embeddings: np.ndarray  # (n, dim) float32
    match_distance: float
    centroid: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        embeddings = np.asarray(self.embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or not len(embeddings):
            raise ValueError("a photo group needs at least one embedding, shape (n, dim)")
        object.__setattr__(self, "embeddings", embeddings)
        object.__setattr__(self, "centroid", embeddings.mean(axis=0))

    @classmethod
    def of_embeddings(
        cls,
        embeddings: np.ndarray,
        backend: type[FaceBackend] | FaceBackend | None = None,
        *,
        person_id: int | None = None,
    ) -> PhotoGroup:
        """A group from embeddings at hand (a test's, a benchmark's), judged by ``backend``'s
        threshold (default: the backend this process runs)."""
        backend = backend or backend_class()
        embeddings = np.asarray(embeddings, dtype=np.float32)
        return cls(
            person_id,
            backend.name,
            embeddings.reshape(-1, backend.embedding_dim),
            backend.distances.same_person,
        )

    def distance(self, embedding: np.ndarray) -> float:
        """Euclidean distance from ``embedding`` to the group's centroid."""
        return float(np.linalg.norm(np.asarray(embedding, np.float32) - self.centroid))

    def matches(self, embedding: np.ndarray) -> bool:
        """Whether a face with this embedding is this person (by ``match_distance``)."""
        return self.distance(embedding) < self.match_distance


def photo_group(
    session: Session, person_id: int, backend: type[FaceBackend] | None = None
) -> PhotoGroup | None:
    """``person_id``'s photo group as ``backend`` (default: this process's) embedded it; None
    when no face of theirs was analysed by that backend (embeddings of different models are
    not comparable)."""
    backend = backend or backend_class()
    rows = session.execute(
        select(Face.embedding)
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.person_id == person_id, Photo.face_backend == backend.name)
        .order_by(Face.id)
    ).all()
    if not rows:
        return None
    return PhotoGroup.of_embeddings(
        np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in rows]),
        backend,
        person_id=person_id,
    )


def photo_groups(session: Session, backend: type[FaceBackend] | None = None) -> list[PhotoGroup]:
    """Every person's photo group (people with faces by ``backend``), by person id."""
    backend = backend or backend_class()
    rows = session.execute(
        select(Face.person_id, Face.embedding)
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.person_id.is_not(None), Photo.face_backend == backend.name)
        .order_by(Face.person_id, Face.id)
    ).all()
    by_person: dict[int, list[np.ndarray]] = {}
    for person, blob in rows:
        if person is not None:  # (the query asks for people's faces only)
            by_person.setdefault(person, []).append(np.frombuffer(blob, dtype=np.float32))
    return [
        PhotoGroup.of_embeddings(np.stack(found), backend, person_id=person)
        for person, found in sorted(by_person.items())
    ]


def closest_group(
    groups: list[PhotoGroup], embedding: np.ndarray
) -> tuple[PhotoGroup | None, float | None]:
    """The group whose centroid is nearest ``embedding``, if the face matches it, and that
    distance (None, None with no groups). A face matches at most one person: the nearest."""
    if not groups:
        return None, None
    centroids = np.stack([g.centroid for g in groups])
    distances = np.linalg.norm(centroids - np.asarray(embedding, np.float32)[None, :], axis=1)
    best = int(np.argmin(distances))
    d = float(distances[best])
    return (groups[best] if d < groups[best].match_distance else None), d


@lru_cache(maxsize=256)
def _salted_rotation(salt: bytes, dim: int) -> np.ndarray:
    """A random orthogonal (dim, dim) matrix drawn from ``salt``: the QR factor of a Gaussian
    matrix, its signs fixed so the draw is uniform over rotations (Mezzadri 2007). Cached
    (read-only): an import reads the templates again for every photo."""
    import hashlib

    seed = int.from_bytes(hashlib.sha256(b"likeness-salted-template\0" + salt).digest(), "big")
    gaussian = np.random.default_rng(seed).standard_normal((dim, dim))
    q, r = np.linalg.qr(gaussian)
    rotation = (q * np.sign(np.diag(r))[None, :]).astype(np.float32)
    rotation.setflags(write=False)
    return rotation


@dataclass(frozen=True)
class SaltedTemplate:
    """One person's face, kept only to recognise them after they erased their biometric data
    (``consent.erasure``): the centroid of their photo group under a random rotation drawn
    from a salt, plus the distance that matches.

    A rotation keeps distances, so a face matches the template exactly when it would have
    matched the centroid (the rule of this module, not an approximation). The rotated vector
    is not the person's embedding: another library, or a second template of the same person
    with another salt, cannot be compared with it, and deleting the template (or its salt)
    cancels it for good. It is not a secret from whoever holds this catalog, who holds the
    salt too; it is one vector instead of every face's, and it serves only to refuse."""

    backend: str
    salt: bytes
    template: np.ndarray  # (dim,) float32: the rotated centroid
    match_distance: float
    rotation: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        template = np.asarray(self.template, np.float32).reshape(-1)
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "rotation", _salted_rotation(self.salt, template.shape[0]))

    @classmethod
    def of_group(cls, group: PhotoGroup, salt: bytes) -> SaltedTemplate:
        rotation = _salted_rotation(salt, group.centroid.shape[0])
        return cls(group.backend, salt, rotation @ group.centroid, group.match_distance)

    def distance(self, embedding: np.ndarray) -> float:
        rotated = self.rotation @ np.asarray(embedding, np.float32)
        return float(np.linalg.norm(rotated - self.template))

    def matches(self, embedding: np.ndarray) -> bool:
        return self.distance(embedding) < self.match_distance
