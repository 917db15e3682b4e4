"""Synthetic face embeddings: clusters shaped like dlib's 128-d space."""

from __future__ import annotations

import numpy as np


def blobs(n_people: int, per_person: int, spread: float = 0.12, seed: int = 0):
    """Unit-scale 128-d clusters: same-person distances ~0.25-0.45, different people ~1.0+."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 128)) * 0.1
    emb = np.repeat(centres, per_person, axis=0) + rng.normal(size=(n_people * per_person, 128)) * (
        spread / np.sqrt(128) * 2
    )
    truth = np.repeat(np.arange(n_people), per_person)
    return emb.astype(np.float32), truth
