"""Merges are previewed, recorded and undone on a real catalog; alike groups are suggested."""

from datetime import UTC, datetime, timedelta

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
    set_minor,
    set_owner,
    split_person,
)
from likeness.people.merges import (
    UNDO_WINDOW,
    MergeNotFoundError,
    UndoError,
    merge_people,
    preview_merge,
    preview_merges,
    recent_merges,
    similar_people,
    undo_merge,
)
from likeness.people.tables import PersonMerge
from likeness.testing.embeddings import blobs
from likeness.workflows import preview_merge as preview_merge_and_what_stops
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
    [consequence] = preview_merge_and_what_stops(lib, a, [b])
    preview = consequence.preview
    assert preview.refusal is None
    assert preview.name_after == "Bob"  # a has no name: it takes b's
    assert (preview.other.face_count, consequence.grants_left, consequence.adapters_left) == (
        4,
        1,
        0,
    )
    assert consequence.as_json()["faces_moving"] == 4
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
    assert "in 1 photo" in preview_merge(lib, a, b).refusal
    with pytest.raises(PeopleError, match="in 1 photo"):
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


def test_a_minors_mark_goes_with_their_faces_and_back_with_an_undo(three_people):
    """Merging a minor into an adult marks the merged person a minor (their faces are never
    generated photoreal); the preview says so; an undo takes the mark back; and "is this
    …?" never offers a minor to an adult."""
    lib, faces = three_people
    a, b, _ = (people_of(lib, f)[0] for f in faces)
    set_minor(lib, b)
    assert preview_merge(lib, a, b).minor_carried
    merged = merge_people(lib, a, b)
    assert {p.id: p.is_minor for p in list_people(lib)}[a]
    undo_merge(lib, merged.id)
    minors = {p.id for p in list_people(lib) if p.is_minor}
    assert minors == {b}
    name_person(lib, a, "Alice")
    part = split_person(lib, a, faces[0][:2])
    set_minor(lib, part)
    assert similar_people(lib, part) == []


def faces_c(lib, faces):
    return people_of(lib, faces[2])[0]


def test_an_undo_never_makes_two_owners(three_people):
    lib, faces = three_people
    a, b, c = (people_of(lib, f)[0] for f in faces)
    set_owner(lib, a)
    merged = merge_people(lib, b, a)  # the owner merged into b: b is the owner now
    set_owner(lib, c)  # then the owner says c is them
    undo_merge(lib, merged.id)
    assert [p.id for p in list_people(lib) if p.is_owner] == [c]


def test_several_people_are_previewed_as_one_merge(three_people):
    """B and C are in a photo together (not with A): merging both into A is refused for C
    once B is in, and C's preview says so; the name after is the first name taken."""
    lib, faces = three_people
    a, b, c = (people_of(lib, f)[0] for f in faces)
    name_person(lib, b, "Bob")
    name_person(lib, c, "Cy")
    with lib.session() as s:
        s.get(Face, faces[2][0]).photo_id = s.get(Face, faces[1][0]).photo_id
    first, second = preview_merges(lib, a, [b, c])
    assert first.refusal is None and first.name_after == "Bob"
    assert "together with the people merged before" in second.refusal
    assert second.name_after == "Bob"


def test_an_undo_restores_each_faces_lock_and_expires_with_the_window(three_people):
    lib, faces = three_people
    a, b, _ = (people_of(lib, f)[0] for f in faces)
    locks_before = _locks(lib, faces[1])
    assert not any(locks_before.values())  # grouped, never placed by hand
    merged = merge_people(lib, a, b)
    undo_merge(lib, merged.id)
    assert _locks(lib, faces[1]) == locks_before
    again = merge_people(lib, a, b)
    with lib.session() as s:  # eight days ago
        s.get(PersonMerge, again.id).merged_at -= UNDO_WINDOW + timedelta(days=1)
    assert recent_merges(lib) == []
    with pytest.raises(UndoError, match="older than 7 days"):
        undo_merge(lib, again.id)
    merge_people(lib, a, faces_c(lib, faces))  # the next merge deletes the stale record
    with lib.session() as s:
        assert s.get(PersonMerge, again.id) is None


def test_an_expired_grant_is_not_counted_as_one_that_stops(three_people):
    lib, faces = three_people
    a, b, _ = (people_of(lib, f)[0] for f in faces)
    issue_grant(
        lib,
        b,
        [Scope.GENERATE_STYLIZED],
        Trust.ATTESTED,
        expires_in=timedelta(days=1),
        now=datetime.now(UTC) - timedelta(days=3),
    )
    assert preview_merge_and_what_stops(lib, a, [b])[0].grants_left == 0
