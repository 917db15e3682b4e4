"""Grouping rules on synthetic embeddings (fast, exact expectations)."""

import numpy as np
import pytest

from likeness.people.grouping import GroupingParams, IncrementalGrouper, cluster_embeddings
from likeness.testing.embeddings import blobs


def test_separates_people_and_keeps_each_together():
    emb, truth = blobs(5, 6)
    labels = cluster_embeddings(emb, np.arange(len(emb)))
    assert (labels >= 0).all()
    for person in range(5):
        assert len(set(labels[truth == person])) == 1
    assert len(set(labels)) == 5


def test_two_faces_of_one_photo_are_never_one_person():
    emb, _ = blobs(1, 4)
    photos = np.array([1, 1, 2, 3])  # faces 0 and 1 share a photo (a mirror, a poster...)
    labels = cluster_embeddings(emb, photos)
    assert labels[0] != labels[1]


def test_small_groups_and_loners_stay_unassigned():
    emb, _ = blobs(3, 1)
    labels = cluster_embeddings(emb, np.arange(3), params=GroupingParams.for_backend(min_faces=2))
    assert (labels == -1).all()


def test_locked_faces_stay_together_and_apart():
    emb, _ = blobs(1, 6)
    locked = np.array([7, 7, 7, 9, 9, -1])  # a person split one cluster in two by hand
    labels = cluster_embeddings(emb, np.arange(6), locked)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4] != labels[0]


def test_no_chaining_between_two_people_through_one_ambiguous_face():
    emb, _ = blobs(2, 8, seed=3)
    a, b = emb[:8].mean(axis=0), emb[8:].mean(axis=0)
    bridge = (a + b) / 2  # halfway: each side's link is shorter than link_distance
    params = GroupingParams.for_backend(link_distance=float(np.linalg.norm(a - b)) * 0.75)
    labels = cluster_embeddings(np.vstack([emb, bridge[None]]), np.arange(17), params=params)
    assert len(set(labels[:8])) == 1 and len(set(labels[8:16])) == 1
    assert labels[0] != labels[8]


def test_incremental_assignment_matches_full_clustering():
    emb, truth = blobs(4, 5, seed=1)
    order = np.random.default_rng(0).permutation(len(emb))
    grouper = IncrementalGrouper(
        np.zeros((0, 128), np.float32),
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
    )
    counter = iter(range(100, 200))
    person_of: dict[int, int] = {}
    for i in order.tolist():
        person_of.update(grouper.assign(i, i, emb[i], lambda: next(counter)))
    assert sorted(person_of) == list(range(len(emb)))
    for person in range(4):
        assert len({person_of[i] for i in np.flatnonzero(truth == person)}) == 1
    assert len(set(person_of.values())) == 4


def test_incremental_never_puts_a_second_face_of_a_photo_in_a_person():
    emb, _ = blobs(1, 3)
    grouper = IncrementalGrouper(emb[:2], np.array([0, 1]), np.array([10, 11]), np.array([5, 5]))
    assert grouper.assign(2, 10, emb[2], lambda: 99) == {}


@pytest.mark.slow
def test_large_library_groups_precisely_through_the_approximate_neighbour_path():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from _common import bcubed
    from grouping_scale import synthetic_library

    emb, photos, truth = synthetic_library(120_000, seed=3)
    labels = cluster_embeddings(emb, photos)
    sample = np.random.default_rng(0).choice(len(emb), 20_000, replace=False)
    precision, recall, _ = bcubed(
        {int(i): int(labels[i]) if labels[i] >= 0 else None for i in sample},
        {int(i): int(truth[i]) for i in sample},
    )
    assert precision > 0.99 and recall > 0.85
