"""Merges are previewed, recorded and undone on a real catalog; alike groups are suggested."""

import numpy as np
import pytest
from sqlalchemy import select

from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.consent.policy import Action, ModelKind, authorize
from likeness.faces.tables import Face
from likeness.people.manage import (
    PeopleError,
    assign_pending,
    list_people,
    name_person,
    recluster,
    set_owner,
    split_person,
)
from likeness.people.merges import (
    MergeNotFoundError,
    UndoError,
    merge_people,
    preview_merge,
    recent_merges,
    similar_people,
    undo_merge,
)
from likeness.testing.embeddings import blobs
from tests.people.test_manage import add_faces, people_of


@pytest.fixture
def three_people(lib):
    emb, truth = blobs(3, 4, seed=5)
    ids = add_faces(lib, emb)
    assign_pending(lib)
    return lib, [[ids[i] for i in np.flatnonzero(truth == t)] for t in range(3)]


def _locks(lib, faces):
    with lib.session() as s:
        return dict(s.execute(select(Face.id, Face.locked).where(Face.id.in_(faces))).all())


def test_preview_says_what_a_merge_does_and_changes_nothing(three_people):
    lib, faces = three_people
    a, b, _ = (people_of(lib, f)[0] for f in faces)
    name_person(lib, b, "Bob")
    issue_grant(lib, b, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    preview = preview_merge(lib, a, b)
    assert preview.refusal is None
    assert preview.name_after == "Bob"  # a has no name: it takes b's
    assert (preview.other.face_count, preview.grants_left, preview.adapters_left) == (4, 1, 0)
    assert preview.as_json()["faces_moving"] == 4
    assert {p.id for p in list_people(lib)} >= {a, b}  # nothing happened

    assert "itself" in preview_merge(lib, a, a).refusal


def test_a_merge_is_undone_with_the_person_their_faces_and_their_grants(three_people):
    lib, faces = three_people
    a, b, _ = (people_of(lib, f)[0] for f in faces)
    set_owner(lib, b)
    name_person(lib, b, "Bob")
    issue_grant(lib, b, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    locks_before = _locks(lib, faces[0])
    assert authorize(lib, Action.GENERATE_STYLIZED, [b], model=ModelKind.TINY).allowed

    merged = merge_people(lib, a, b)
    assert merged.faces_moved == 4 and merged.other_name == "Bob"
    assert people_of(lib, faces[1]) == [a] * 4
    assert not authorize(lib, Action.GENERATE_STYLIZED, [b], model=ModelKind.TINY).allowed
    assert [m.id for m in recent_merges(lib)] == [merged.id]

    undone = undo_merge(lib, merged.id)
    assert (undone.person_id, undone.faces_restored, undone.faces_elsewhere) == (b, 4, 0)
    assert people_of(lib, faces[1]) == [b] * 4
    people = {p.id: p for p in list_people(lib)}
    assert people[b].name == "Bob" and people[b].is_owner
    assert people[a].name is None and not people[a].is_owner  # what the merge gave a went back
    assert _locks(lib, faces[0]) == locks_before
    # The same uid: Bob's grant covers Bob again.
    assert authorize(lib, Action.GENERATE_STYLIZED, [b], model=ModelKind.TINY).allowed
    assert recent_merges(lib) == []
    with pytest.raises(UndoError, match="undone already"):
        undo_merge(lib, merged.id)
    with pytest.raises(MergeNotFoundError):
        undo_merge(lib, 999)


def test_undo_leaves_faces_moved_since_and_survives_a_recluster(three_people):
    lib, faces = three_people
    a, b, c = (people_of(lib, f)[0] for f in faces)
    merged = merge_people(lib, a, b)
    split_person(lib, a, faces[1][:1], name="Someone else")  # one of b's faces moved on
    recluster(lib)
    undone = undo_merge(lib, merged.id)
    assert (undone.faces_restored, undone.faces_elsewhere) == (3, 1)
    assert people_of(lib, faces[1][1:]) == [b] * 3

    merged = merge_people(lib, c, b)
    merge_people(lib, a, c)  # the target of the first merge is gone
    with pytest.raises(UndoError, match="gone since"):
        undo_merge(lib, merged.id)


def test_a_refused_merge_records_nothing(three_people):
    lib, faces = three_people
    a, b, _ = (people_of(lib, f)[0] for f in faces)
    with lib.session() as s:  # one of a's faces in the photo of one of b's
        s.get(Face, faces[0][0]).photo_id = s.get(Face, faces[1][0]).photo_id
    assert "appear in 1 photo" in preview_merge(lib, a, b).refusal
    with pytest.raises(PeopleError, match="appear in 1 photo"):
        merge_people(lib, a, b)
    assert recent_merges(lib) == []


def test_similar_people_suggest_a_named_group_that_looks_alike(three_people):
    lib, faces = three_people
    a, b, _ = (people_of(lib, f)[0] for f in faces)
    name_person(lib, a, "Alice")
    name_person(lib, b, "Bob")
    part = split_person(lib, a, faces[0][:2])  # Alice in two groups, the new one unnamed
    found = similar_people(lib, part)
    assert [p.name for p in found] == ["Alice"]
    assert found[0].distance < 0.55
    assert [p.name for p in similar_people(lib, b)] == []  # no one looks like Bob
