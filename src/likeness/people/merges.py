"""Merging two people: previewed before, undoable after, and suggested where groups look alike.

A merge is the edit with the widest reach in the people room: every face of one person goes
into another, the merged person's row is deleted, and with it their permissions and adapters
stop applying (they name the person's uid, which no longer exists). So the web app shows what
a merge would do before it does it (``preview_merges``; ``workflows.preview_merge`` adds
what stops applying), every merge is recorded
(``PersonMerge``) and can be undone (``undo_merge``): the merged person comes back with their
id and uid, so their permissions and adapters apply again, and their faces go back to them.

``similar_people`` is the "is this Alice?" strip: named groups whose centroid lies close to a
person's, which grouping kept apart (its merge distance is tighter than the match distance).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from likeness import clock
from likeness.errors import ConflictError, LikenessError, NotFoundError
from likeness.faces.backends import backend_class
from likeness.faces.tables import Face
from likeness.library.tables import Photo
from likeness.people.identity import PhotoGroup
from likeness.people.manage import (
    ConsentsForSelfError,
    PeopleError,
    PersonSummary,
    _not_self_consenting,
    best_faces,
    person_summary,
)
from likeness.people.records import get_person
from likeness.people.tables import Person, PersonMerge
from likeness.store import Library


class MergeNotFoundError(NotFoundError):
    """No recorded merge with that id."""


class UndoError(ConflictError):
    """A merge that can no longer be undone (undone already, or its target is gone)."""


@dataclass(frozen=True)
class MergePreview:
    """What merging ``other`` into ``target`` would do, said before it is done."""

    target: PersonSummary
    other: PersonSummary
    target_face: int | None
    other_face: int | None
    #: The name the merged person will have.
    name_after: str | None
    #: Photos both appear in: one person cannot be in a photo twice, so the merge is refused.
    shared_photos: int
    #: The other is a minor and the target is not: the merged person is marked a minor.
    minor_carried: bool
    #: Why the merge would be refused, in words; None when it would go ahead.
    refusal: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target.as_json() | {"face": self.target_face},
            "other": self.other.as_json() | {"face": self.other_face},
            "name_after": self.name_after,
            "faces_moving": self.other.face_count,
            "photos_moving": self.other.photo_count,
            "shared_photos": self.shared_photos,
            "minor_carried": self.minor_carried,
            "refusal": self.refusal,
        }


#: A merge can be undone for this long; its record is deleted after it.
UNDO_WINDOW = timedelta(days=7)


def _shared_photos(s: Session, people: list[int], other_id: int) -> int:
    """How many of ``other_id``'s faces are on a photo with one of ``people``."""
    return s.execute(
        select(func.count())
        .select_from(Face)
        .where(Face.person_id == other_id)
        .where(Face.photo_id.in_(select(Face.photo_id).where(Face.person_id.in_(people))))
    ).scalar_one()


def _refusal(
    s: Session, target: Person, other: Person, shared: int, before: Sequence[int] = ()
) -> LikenessError | None:
    """Why ``other`` cannot be merged into ``target`` once ``before`` (other people) were,
    ``shared`` being how many of their faces are on a photo with those people; None when
    it can."""
    if target.id == other.id or other.id in before:
        return PeopleError("cannot merge a person with itself")
    try:
        _not_self_consenting(target, other)
    except ConsentsForSelfError as refused:
        return refused
    if shared:
        return PeopleError(
            f"person {other.id} appears in {shared} photo(s) together with "
            f"{'the people merged before' if before else f'person {target.id}'}; one person "
            "cannot be in a photo twice (move single faces instead)"
        )
    return None


def preview_merges(lib: Library, target_id: int, others: list[int]) -> list[MergePreview]:
    """What merging ``others`` into ``target_id`` one after the other would do, each as it
    would find the target after the ones before it (the name it has by then, the photos of
    the people merged before); changes nothing. What stops applying with a merged person
    (their permissions, their adapters) is the rooms above's to say:
    ``workflows.preview_merge``."""
    faces = best_faces(lib)
    target_summary = person_summary(lib, target_id)
    previews = []
    with lib.session() as s:
        target = get_person(s, target_id)
        name, minor = target.name, target.is_minor
        before: list[int] = []
        for other_id in others:
            other = get_person(s, other_id)
            shared = _shared_photos(s, [target_id, *before], other_id)
            refusal = _refusal(s, target, other, shared, before)
            previews.append(
                MergePreview(
                    target_summary,
                    person_summary(lib, other_id),
                    faces.get(target_id),
                    faces.get(other_id),
                    name or other.name,
                    shared,
                    other.is_minor and not minor,
                    str(refusal) if refusal else None,
                )
            )
            if refusal is None:
                name, minor = name or other.name, minor or other.is_minor
                before.append(other_id)
    return previews


def preview_merge(lib: Library, target_id: int, other_id: int) -> MergePreview:
    """What ``merge_people(lib, target_id, other_id)`` would do; changes nothing."""
    return preview_merges(lib, target_id, [other_id])[0]


@dataclass(frozen=True)
class MergeRecord:
    """A merge as the owner sees it afterwards, with what they need to undo it."""

    id: int
    target_id: int
    target_name: str | None
    other_id: int
    other_name: str | None
    faces_moved: int
    merged_at: datetime
    undone_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target_id,
            "target_name": self.target_name,
            "other": self.other_id,
            "other_name": self.other_name,
            "faces_moved": self.faces_moved,
            "merged_at": self.merged_at.isoformat(),
            "undone_at": self.undone_at.isoformat() if self.undone_at else None,
        }


def _record(s: Session, row: PersonMerge) -> MergeRecord:
    other = json.loads(row.other)
    target = s.get(Person, row.target_id)
    return MergeRecord(
        row.id,
        row.target_id,
        target.name if target else None,
        other["id"],
        other["name"],
        len(json.loads(row.face_ids)),
        row.merged_at,
        row.undone_at,
    )


def merge_people(lib: Library, target_id: int, other_id: int) -> MergeRecord:
    """Move every face of ``other`` into ``target`` (locked), then delete ``other``; recorded,
    so ``undo_merge`` can bring ``other`` back.

    The target keeps its name; if it had none it takes the other's.
    """
    with lib.session() as s:
        target, other = get_person(s, target_id), get_person(s, other_id)
        refusal = _refusal(s, target, other, _shared_photos(s, [target_id], other_id))
        if refusal:
            raise refusal
        now = clock.now()
        # Records past the undo window go (they hold a name and face ids for nothing).
        s.execute(delete(PersonMerge).where(PersonMerge.merged_at < now - UNDO_WINDOW))
        target_faces = s.execute(
            select(Face.id, Face.locked).where(Face.person_id == target_id)
        ).all()
        other_faces = s.execute(
            select(Face.id, Face.locked).where(Face.person_id == other_id)
        ).all()
        row = PersonMerge(
            target_id=target_id,
            target_before=json.dumps(
                {
                    "name": target.name,
                    "is_owner": target.is_owner,
                    "is_minor": target.is_minor,
                    "unlocked": [f for f, locked in target_faces if not locked],
                }
            ),
            other=json.dumps(
                {
                    "id": other.id,
                    "uid": other.uid,
                    "name": other.name,
                    "hidden": other.hidden,
                    "is_owner": other.is_owner,
                    "is_minor": other.is_minor,
                    "created_at": other.created_at.isoformat(),
                }
            ),
            face_ids=json.dumps([[f, bool(locked)] for f, locked in other_faces]),
            merged_at=now,
        )
        s.add(row)
        target.name = target.name or other.name
        target.is_owner = target.is_owner or other.is_owner
        # A minor's faces stay a minor's: the merged person is one (never generated photoreal).
        target.is_minor = target.is_minor or other.is_minor
        s.execute(
            update(Face)
            .where(Face.person_id.in_([target_id, other_id]))
            .values(person_id=target_id, locked=True)
        )
        s.delete(other)
        s.flush()
        return _record(s, row)


def recent_merges(lib: Library, target_id: int | None = None, limit: int = 10) -> list[MergeRecord]:
    """Merges that can still be undone (not undone, within ``UNDO_WINDOW``), newest first,
    into ``target_id`` only if given: the People page and the target's page offer to undo
    them."""
    with lib.session() as s:
        query = (
            select(PersonMerge)
            .where(PersonMerge.undone_at.is_(None))
            .where(PersonMerge.merged_at >= clock.now() - UNDO_WINDOW)
            .order_by(PersonMerge.id.desc())
            .limit(limit)
        )
        if target_id is not None:
            query = query.where(PersonMerge.target_id == target_id)
        return [_record(s, row) for row in s.scalars(query).all()]


@dataclass(frozen=True)
class UndoneMerge:
    person_id: int
    faces_restored: int
    #: Faces of the merged person moved elsewhere since the merge: they stay where they are.
    faces_elsewhere: int


def undo_merge(lib: Library, merge_id: int) -> UndoneMerge:
    """Bring a merged person back: their row (same id and uid, so their permissions and
    adapters apply again) and those of their faces still in the merge's target. What the
    merge changed on the target (its name taken from the other, the owner mark, the lock on
    its faces) goes back too."""
    with lib.session() as s:
        row = s.get(PersonMerge, merge_id)
        if row is None:
            raise MergeNotFoundError(f"no merge with id {merge_id}", field="merge")
        if row.undone_at is not None:
            raise UndoError(f"merge {merge_id} was undone already")
        if row.merged_at < clock.now() - UNDO_WINDOW:
            raise UndoError(
                f"merge {merge_id} is older than {UNDO_WINDOW.days} days and can no longer be "
                "undone: split the faces off by hand instead"
            )
        target = s.get(Person, row.target_id)
        if target is None:
            raise UndoError(
                f"person {row.target_id} is gone since this merge (merged or erased): "
                "move the faces by hand instead"
            )
        _not_self_consenting(target)
        other = json.loads(row.other)
        before = json.loads(row.target_before)
        # The owner mark goes back only if the target still holds it from this merge: an
        # owner named since keeps it (one owner at a time).
        owner_back = other["is_owner"] and target.is_owner and not before["is_owner"]
        # (They did not consent for themselves: such a person is never merged. No account is
        # made for them while they are merged away: ``consent.accounts.register_passkey``
        # refuses a group that is gone.)
        restored = Person(
            id=other["id"],
            uid=other["uid"],
            name=other["name"],
            hidden=other["hidden"],
            is_owner=owner_back,
            is_minor=other["is_minor"],
            created_at=datetime.fromisoformat(other["created_at"]),
        )
        s.add(restored)
        s.flush()
        locks = {face: bool(locked) for face, locked in json.loads(row.face_ids)}
        back = s.scalars(
            select(Face.id).where(Face.id.in_(list(locks)), Face.person_id == target.id)
        ).all()
        # Each face as locked as it was before the merge.
        held = [f for f in back if locks[f]]
        free = [f for f in back if not locks[f]]
        for faces, locked in ((held, True), (free, False)):
            s.execute(
                update(Face).where(Face.id.in_(faces)).values(person_id=restored.id, locked=locked)
            )
        s.execute(
            update(Face)
            .where(Face.id.in_(before["unlocked"]), Face.person_id == target.id)
            .values(locked=False)
        )
        if before["name"] is None and target.name == other["name"]:
            target.name = None
        if owner_back:
            target.is_owner = False
        if other["is_minor"] and not before.get("is_minor", True):
            target.is_minor = False  # the mark the merge carried over goes back with them
        row.undone_at = clock.now()
        return UndoneMerge(restored.id, len(back), len(locks) - len(back))


@dataclass(frozen=True)
class SimilarPerson:
    """A named person whose faces look like another's: "is this Alice?"."""

    id: int
    name: str
    face: int | None
    #: Between the two groups' centroids; below the backend's same-person distance.
    distance: float

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "face": self.face, "distance": self.distance}


def similar_people(lib: Library, person_id: int, limit: int = 3) -> list[SimilarPerson]:
    """Named people who could be ``person_id``: their photo groups' centroids lie within the
    backend's same-person distance of theirs, they never share a photo with them, and a merge
    with them is allowed (no one who consents for themselves or asked never to be generated).
    Nearest first, at most ``limit``."""
    backend = backend_class()
    with lib.session() as s:
        get_person(s, person_id)
        rows = s.execute(
            select(Face.person_id, Face.photo_id, Face.embedding)
            .join(Photo, Photo.id == Face.photo_id)
            .join(Person, Person.id == Face.person_id)
            .where(Photo.face_backend == backend.name)
            .where((Person.id == person_id) | (Person.name.is_not(None) & ~Person.hidden))
            .where(~Person.consents_for_self, ~Person.do_not_generate)
        ).all()
        names = dict(
            s.execute(select(Person.id, Person.name).where(Person.name.is_not(None))).all()
        )
        minors = set(s.scalars(select(Person.id).where(Person.is_minor)).all())
    embeddings: dict[int, list[np.ndarray]] = {}
    photos: dict[int, set[int]] = {}
    for person, photo, blob in rows:
        if person is None:  # (the join keeps people's faces only)
            continue
        embeddings.setdefault(person, []).append(np.frombuffer(blob, dtype=np.float32))
        photos.setdefault(person, set()).add(photo)
    if person_id not in embeddings:
        return []
    mine = PhotoGroup.of_embeddings(np.stack(embeddings.pop(person_id)), backend)
    faces = best_faces(lib)
    found = []
    for other, found_embeddings in embeddings.items():
        # Never in a photo with them, and a minor only for a minor (a merge carries the mark).
        if photos[other] & photos[person_id] or (other in minors) != (person_id in minors):
            continue
        centroid = np.stack(found_embeddings).mean(axis=0)
        distance = mine.distance(centroid)
        if distance < mine.match_distance:
            found.append(SimilarPerson(other, str(names[other]), faces.get(other), distance))
    found.sort(key=lambda p: p.distance)
    return found[:limit]
