"""People edits in a real catalog survive re-clusters; Takeout labels suggest names."""

import uuid
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import select

from likeness.faces.tables import Face
from likeness.library.tables import Photo, PhotoLabel
from likeness.people.manage import (
    PeopleError,
    assign_pending,
    hide_person,
    list_people,
    move_faces,
    name_person,
    recluster,
    set_owner,
    split_person,
    suggest_names,
)
from likeness.people.merges import merge_people
from likeness.people.records import PersonNotFoundError
from likeness.testing.embeddings import blobs


def add_faces(
    lib, emb: np.ndarray, labels: dict[int, list[str]] | None = None, quality: float = 0.5
) -> list[int]:
    """One photo per face, with optional Takeout labels per face index; returns face ids."""
    ids = []
    with lib.session() as s:
        for i, vec in enumerate(emb):
            photo = Photo(
                content_hash=uuid.uuid4().hex * 2,
                width=100,
                height=100,
                format="JPEG",
                face_backend="dlib-hog-resnet-v1",
                indexed_at=datetime.now(),
            )
            s.add(photo)
            s.flush()
            for name in (labels or {}).get(i, []):
                s.add(PhotoLabel(photo_id=photo.id, name=name))
            face = Face(
                photo_id=photo.id,
                x0=0,
                y0=0,
                x1=50,
                y1=50,
                landmarks="[]",
                embedding=vec.astype("<f4").tobytes(),
                detector_score=1.0,
                quality=quality,
                sharpness=0.5,
                frontalness=0.5,
                locked=False,
                grouped=False,
            )
            s.add(face)
            s.flush()
            ids.append(face.id)
    return ids


def people_of(lib, face_ids):
    with lib.session() as s:
        rows = dict(s.execute(select(Face.id, Face.person_id).where(Face.id.in_(face_ids))).all())
    return [rows[f] for f in face_ids]


@pytest.fixture
def three_people(lib):
    emb, truth = blobs(3, 4, seed=5)
    ids = add_faces(lib, emb)
    assign_pending(lib)
    by_truth = [[ids[i] for i in np.flatnonzero(truth == t)] for t in range(3)]
    return lib, by_truth


def test_incremental_grouping_finds_the_people(three_people):
    lib, faces = three_people
    people = [set(people_of(lib, f)) for f in faces]
    assert all(len(p) == 1 and None not in p for p in people)
    assert len(set.union(*people)) == 3


def test_names_merges_splits_moves_and_hides_survive_recluster(three_people):
    lib, faces = three_people
    a, b, c = (people_of(lib, f)[0] for f in faces)
    name_person(lib, a, "Alice")
    set_owner(lib, a)
    hide_person(lib, c)
    merge_people(lib, a, b)  # the user says a and b are one person
    new = split_person(lib, a, faces[0][:2], name="Alice as a child")
    move_faces(lib, [faces[2][0]], None)  # not a face the user wants grouped
    before = {
        p.id: (p.name, p.face_count, p.hidden, p.is_owner)
        for p in list_people(lib, include_hidden=True)
    }
    all_faces = [f for group in faces for f in group]
    faces_before = people_of(lib, all_faces)
    recluster(lib)
    after = {
        p.id: (p.name, p.face_count, p.hidden, p.is_owner)
        for p in list_people(lib, include_hidden=True)
    }
    assert after == before
    assert people_of(lib, all_faces) == faces_before
    assert after[new][0] == "Alice as a child"
    assert people_of(lib, [faces[2][0]]) == [None]


def test_recluster_keeps_the_name_when_groups_change(three_people):
    lib, faces = three_people
    a = people_of(lib, faces[0])[0]
    name_person(lib, a, "Alice")
    with lib.session() as s:  # forget the grouping, as if a new backend re-grouped everything
        for f in s.scalars(select(Face)):
            f.person_id = None if f.id != faces[0][0] else a
    recluster(lib)
    named = [p for p in list_people(lib) if p.name == "Alice"]
    assert len(named) == 1 and named[0].face_count == 4


def test_edits_refuse_what_cannot_be(three_people, lib):
    lib, faces = three_people
    a, b = people_of(lib, faces[0])[0], people_of(lib, faces[1])[0]
    with pytest.raises(PersonNotFoundError, match="no person with id 999"):
        name_person(lib, 999, "x")
    with pytest.raises(PeopleError, match="itself"):
        merge_people(lib, a, a)
    with pytest.raises(PeopleError, match="do not belong"):
        split_person(lib, a, faces[1][:1])
    with pytest.raises(PeopleError, match="no face with id"):
        move_faces(lib, [123456], b)


def test_merge_refuses_people_who_share_a_photo(lib):
    emb, _ = blobs(2, 2, seed=2)
    ids = add_faces(lib, emb)
    assign_pending(lib)
    with lib.session() as s:  # put face 0 of person A into the photo of a face of person B
        f0, f2 = s.get(Face, ids[0]), s.get(Face, ids[2])
        f0.photo_id = f2.photo_id
    a, b = people_of(lib, [ids[0], ids[2]])
    with pytest.raises(PeopleError, match="in 1 photo"):
        merge_people(lib, a, b)


def test_takeout_labels_suggest_names_that_consistently_co_occur(lib):
    emb, _ = blobs(2, 4, seed=8)
    # Alice is labelled on 3 of her 4 photos; "Party" is on one photo of each: no suggestion.
    labels = {0: ["Alice"], 1: ["Alice"], 2: ["Alice", "Party"], 4: ["Party"]}
    ids = add_faces(lib, emb, labels)
    assign_pending(lib)
    alice = people_of(lib, [ids[0]])[0]
    assert suggest_names(lib) == {alice: ["Alice"]}
    listed = {p.id: p.suggested_names for p in list_people(lib)}
    assert listed[alice] == ["Alice"]
    name_person(lib, alice, "Alice")
    assert {p.id: p.suggested_names for p in list_people(lib)}[alice] == []


def test_a_face_marked_nobody_does_not_recruit_new_faces(lib):
    emb, _ = blobs(1, 2, seed=4)
    first = add_faces(lib, emb[:1])
    assign_pending(lib)
    move_faces(lib, first, None)
    second = add_faces(lib, emb[1:])
    assign_pending(lib)
    assert people_of(lib, first + second) == [None, None]


def test_weak_faces_stay_unassigned_and_link_nobody(lib):
    emb, _ = blobs(1, 4, seed=6)
    weak = add_faces(lib, emb[:2], quality=0.01)  # tiny, blurred: unreliable embeddings
    strong = add_faces(lib, emb[2:])
    assign_pending(lib)
    assert people_of(lib, weak) == [None, None]
    assert len(set(people_of(lib, strong)) - {None}) == 1
    recluster(lib)
    assert people_of(lib, weak) == [None, None]
    with lib.session() as s:
        assert all(f.grouped for f in s.scalars(select(Face)))


def test_a_name_with_control_characters_is_refused_and_changes_nothing(three_people):
    """A NUL cannot be stored in PostgreSQL (the property test of the gate found it there as
    a 500-to-be); a newline or an escape would forge lines wherever the name is listed."""
    lib, _ = three_people
    person = list_people(lib)[0]
    for bad in ("Ann\x00", "Ann\nBob", "\x1b[31mAnn"):
        with pytest.raises(PeopleError, match="control characters"):
            name_person(lib, person.id, bad)
    assert list_people(lib)[0].name == person.name
    name_person(lib, person.id, "Ann-Marie O'Neil")
    assert list_people(lib)[0].name == "Ann-Marie O'Neil"
