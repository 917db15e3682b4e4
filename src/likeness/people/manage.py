"""People in the catalog: run grouping over stored faces, and the edits a person makes.

Names, hides, merges, splits and moves are user data. Every edit that places faces by hand
locks them (``Face.locked``), and a re-cluster maps its new groups back onto existing people by
overlap, so a re-cluster never loses a name, a merge or a manual move.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
from sqlalchemy import func, select, update

from likeness import clock
from likeness.errors import InvalidError, RefusedError
from likeness.faces.backends import backend_class
from likeness.faces.tables import Face
from likeness.library.tables import Photo, PhotoLabel
from likeness.people.grouping import GroupingParams, IncrementalGrouper, cluster_embeddings
from likeness.people.records import PersonNotFoundError, get_person
from likeness.people.tables import Person
from likeness.store import Library


class PeopleError(InvalidError):
    """A people edit that cannot be done (unknown id, faces that are not there...)."""


@dataclass
class _FaceTable:
    """Every face of the catalog as arrays, in face-id order (what grouping works on)."""

    ids: np.ndarray
    photo_ids: np.ndarray
    embeddings: np.ndarray
    person_ids: np.ndarray  # -1: no person
    locked: np.ndarray
    grouped: np.ndarray
    quality: np.ndarray

    def left_out(self, params: GroupingParams) -> np.ndarray:
        """Faces that take no part in grouping: marked "nobody" by hand, or too weak to trust
        (below ``min_quality``) unless a person placed them. They cannot link others either."""
        nobody = self.locked & (self.person_ids < 0)
        weak = ~self.locked & (self.quality < params.min_quality)
        return nobody | weak


def _load_faces(session, backend: str | None = None) -> _FaceTable:
    """Faces embedded by ``backend`` (default: the backend this process runs): embeddings of
    different models are not comparable."""
    backend = backend or backend_class().name
    rows = session.execute(
        select(
            Face.id,
            Face.photo_id,
            Face.embedding,
            Face.person_id,
            Face.locked,
            Face.grouped,
            Face.quality,
        )
        .join(Photo, Photo.id == Face.photo_id)
        .where(Photo.face_backend == backend)
        .order_by(Face.id)
    ).all()
    n = len(rows)

    def column(i, dtype, default=None):
        return np.fromiter(
            (r[i] if r[i] is not None else default for r in rows), dtype=dtype, count=n
        )

    embeddings = (
        np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(n, -1)
        if n
        else np.zeros((0, 128), dtype=np.float32)
    )
    return _FaceTable(
        ids=column(0, np.int64),
        photo_ids=column(1, np.int64),
        embeddings=embeddings,
        person_ids=column(3, np.int64, -1),
        locked=column(4, bool),
        grouped=column(5, bool),
        quality=column(6, np.float64),
    )


def _new_person(session) -> int:
    person = Person(created_at=clock.now())
    session.add(person)
    session.flush()
    return person.id


def assign_pending(lib: Library, params: GroupingParams | None = None) -> int:
    """Incremental grouping of every face not yet grouped. Returns how many got a person.

    Safe to call again after a crash: faces are marked grouped in the same transaction that
    records their person.
    """
    params = params or GroupingParams.for_backend()
    with lib.session() as s:
        t = _load_faces(s)
        pending = np.flatnonzero(~t.grouped & ~t.left_out(params))
        if len(pending) == 0:
            s.execute(update(Face).where(Face.grouped.is_(False)).values(grouped=True))
            return 0
        done = np.flatnonzero(t.grouped & ~t.left_out(params))
        grouper = IncrementalGrouper(
            t.embeddings[done], t.ids[done], t.photo_ids[done], t.person_ids[done], params
        )
        assigned: dict[int, int] = {}
        for i in pending.tolist():
            placed = grouper.assign(
                int(t.ids[i]), int(t.photo_ids[i]), t.embeddings[i], lambda: _new_person(s)
            )
            assigned.update(placed)
        for face_id, person in assigned.items():
            s.execute(
                update(Face)
                .where(Face.id == face_id, Face.locked.is_(False))
                .values(person_id=person)
            )
        s.execute(update(Face).where(Face.grouped.is_(False)).values(grouped=True))
        return sum(1 for f in t.ids[pending].tolist() if f in assigned)


def _carries_user_data(person: Person) -> bool:
    """Whether a person group means something beyond its faces: a name, a mark, an account,
    a wish never to be generated (whose group has no faces left, by design)."""
    return bool(
        person.name
        or person.hidden
        or person.is_owner
        or person.is_minor
        or person.consents_for_self
        or person.do_not_generate
    )


def recluster(lib: Library, params: GroupingParams | None = None) -> dict[str, int]:
    """Full re-cluster of every face, keeping names, hides, merges, splits and moves."""
    params = params or GroupingParams.for_backend()
    with lib.session() as s:
        t = _load_faces(s)
        face_ids, person_ids, locked = t.ids, t.person_ids, t.locked
        taking_part = ~t.left_out(params)
        labels = np.full(len(face_ids), -1, dtype=np.int64)
        labels[taking_part] = cluster_embeddings(
            t.embeddings[taking_part],
            t.photo_ids[taking_part],
            np.where(locked, person_ids, -1)[taking_part],
            params,
        )
        # Map each new group to the old person it overlaps most (locked faces decide first).
        people = {p.id: p for p in s.scalars(select(Person))}
        overlap: dict[tuple[int, int], int] = {}
        for label, old, lk in zip(
            labels.tolist(), person_ids.tolist(), locked.tolist(), strict=True
        ):
            if label >= 0 and old >= 0:
                overlap[(label, old)] = overlap.get((label, old), 0) + (1_000_000 if lk else 1)
        mapping: dict[int, int] = {}
        used: set[int] = set()
        for (label, old), _ in sorted(overlap.items(), key=lambda kv: -kv[1]):
            if label not in mapping and old not in used:
                mapping[label] = old
                used.add(old)
        created = 0
        for label in sorted(set(labels.tolist()) - {-1} - set(mapping)):
            mapping[label] = _new_person(s)
            created += 1
        new_person = np.array([mapping.get(lab, -1) for lab in labels.tolist()], dtype=np.int64)
        new_person[locked] = person_ids[locked]  # hand-placed faces never move
        changed = np.flatnonzero(new_person != person_ids)
        for i in changed.tolist():
            value = int(new_person[i]) if new_person[i] >= 0 else None
            s.execute(update(Face).where(Face.id == int(face_ids[i])).values(person_id=value))
        s.execute(update(Face).values(grouped=True))
        # People left without faces disappear unless they carry user data.
        still = set(new_person.tolist())
        removed = 0
        for pid, person in people.items():
            if pid not in still and not _carries_user_data(person):
                s.delete(person)
                removed += 1
        return {
            "faces": len(face_ids),
            "people": len(set(labels.tolist()) - {-1}),
            "created": created,
            "removed": removed,
            "moved": len(changed),
        }


# -- listing --------------------------------------------------------------------------------


@dataclass
class PersonSummary:
    id: int
    name: str | None
    face_count: int
    photo_count: int
    hidden: bool
    is_owner: bool
    suggested_names: list[str]
    is_minor: bool = False
    #: Erased their biometric data; never generated (``consent.erasure``).
    do_not_generate: bool = False

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "face_count": self.face_count,
            "photo_count": self.photo_count,
            "hidden": self.hidden,
            "is_owner": self.is_owner,
            "is_minor": self.is_minor,
            "do_not_generate": self.do_not_generate,
            "suggested_names": self.suggested_names,
        }


#: A Takeout label suggests a name for a group when it is on at least this share of the
#: group's photos, on at least MIN_LABEL_PHOTOS of them, and mostly on this group's photos.
LABEL_SHARE = 0.5
MIN_LABEL_PHOTOS = 2


def suggest_names(lib: Library) -> dict[int, list[str]]:
    """Names from Takeout ``people[].name`` labels that consistently co-occur with one group.

    A label is suggested for group G when it appears on most of G's photos (``LABEL_SHARE``)
    and G is where most of that label's labelled faces-photos went, so a name that is on every
    photo of a couple is not pinned on both partners unless the photos say so.
    """
    with lib.session() as s:
        rows = s.execute(
            select(Face.person_id, PhotoLabel.name, func.count(func.distinct(Face.photo_id)))
            .join(PhotoLabel, PhotoLabel.photo_id == Face.photo_id)
            .where(Face.person_id.is_not(None))
            .group_by(Face.person_id, PhotoLabel.name)
        ).all()
        photos_per_person = dict(
            s.execute(
                select(Face.person_id, func.count(func.distinct(Face.photo_id)))
                .where(Face.person_id.is_not(None))
                .group_by(Face.person_id)
            ).all()
        )
        label_people: dict[str, dict[int, int]] = {}
        for person, name, count in rows:
            label_people.setdefault(name, {})[person] = count
    result: dict[int, list[str]] = {}
    for name, per_person in label_people.items():
        # The label's best group must beat the runner-up clearly (it is "consistent").
        ranked = sorted(per_person.items(), key=lambda kv: -kv[1])
        best, count = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        share = count / max(1, photos_per_person.get(best, 1))
        if count >= MIN_LABEL_PHOTOS and share >= LABEL_SHARE and count > runner_up:
            result.setdefault(best, []).append(name)
    return {p: sorted(names) for p, names in result.items()}


def list_people(lib: Library, include_hidden: bool = False) -> list[PersonSummary]:
    """Everyone (hidden people too with ``include_hidden``), most faces first."""
    return _summaries(lib, include_hidden)


def person_summary(lib: Library, person_id: int) -> PersonSummary:
    """One person, hidden or not; ``PersonNotFoundError`` if there is none."""
    found = _summaries(lib, True, person_id)
    if not found:
        raise PersonNotFoundError(f"no person with id {person_id}", field="person")
    return found[0]


def _summaries(
    lib: Library, include_hidden: bool, person_id: int | None = None
) -> list[PersonSummary]:
    suggestions = suggest_names(lib)
    with lib.session() as s:
        counts = {
            pid: (faces, photos)
            for pid, faces, photos in s.execute(
                select(
                    Face.person_id, func.count(Face.id), func.count(func.distinct(Face.photo_id))
                )
                .where(
                    Face.person_id.is_not(None)
                    if person_id is None
                    else Face.person_id == person_id
                )
                .group_by(Face.person_id)
            ).all()
        }
        query = select(Person).order_by(Person.id)
        if person_id is not None:
            query = query.where(Person.id == person_id)
        people = s.scalars(query).all()
        result = []
        for p in people:
            if p.hidden and not include_hidden:
                continue
            faces, photos = counts.get(p.id, (0, 0))
            names = [n for n in suggestions.get(p.id, []) if n != p.name]
            result.append(
                PersonSummary(
                    p.id,
                    p.name,
                    faces,
                    photos,
                    p.hidden,
                    p.is_owner,
                    names,
                    p.is_minor,
                    p.do_not_generate,
                )
            )
    result.sort(key=lambda x: (-x.face_count, x.id))
    return result


def best_faces(lib: Library) -> dict[int, int]:
    """Each person's best face (highest quality): the face a person is shown by."""
    with lib.session() as s:
        rows = s.execute(
            select(Face.person_id, Face.id, Face.quality)
            .where(Face.person_id.is_not(None))
            .order_by(Face.person_id, Face.quality.desc(), Face.id)
        ).all()
    best: dict[int, int] = {}
    for person_id, face_id, _ in rows:
        best.setdefault(person_id, face_id)
    return best


class PeopleSort(StrEnum):
    """Orders a list of people can be read in."""

    PHOTOS = "photos"  # most photos first
    NAME = "name"  # named people A to Z, then unnamed ones by id
    RECENT = "recent"  # the latest photo taken first; people with no dated photo last


@dataclass
class PeoplePage:
    """One page of a people listing, and what it is a page of."""

    people: list[PersonSummary]
    #: People matching the search, all pages together.
    total: int
    offset: int
    limit: int | None
    #: The date the latest photo of each listed person was taken, if any photo is dated.
    last_seen: dict[int, datetime]
    #: Each listed person's best face (``best_faces``), what the person is shown by.
    best_face: dict[int, int]


def find_people(
    lib: Library,
    search: str | None = None,
    sort: PeopleSort | str = PeopleSort.PHOTOS,
    offset: int = 0,
    limit: int | None = None,
    include_hidden: bool = False,
) -> PeoplePage:
    """People whose name (or a suggested name) contains ``search`` (any case), in ``sort``
    order, ``limit`` of them from ``offset``: what a library of thousands of people is
    browsed by (the web app's People page, ``likeness people --search``).

    The counts are one grouped query over every face, so a page costs the same whichever
    page it is; only the listed people's best faces are looked up."""
    sort = PeopleSort(sort)
    if offset < 0 or (limit is not None and limit < 1):
        raise PeopleError("a page starts at 0 or later and holds at least one person")
    people = _summaries(lib, include_hidden)
    if search and (needle := search.strip().casefold()):
        people = [
            p
            for p in people
            if any(needle in n.casefold() for n in [p.name or "", *p.suggested_names])
        ]
    with lib.session() as s:
        last_seen = dict(
            s.execute(
                select(Face.person_id, func.max(Photo.taken_at))
                .join(Photo, Photo.id == Face.photo_id)
                .where(Face.person_id.is_not(None), Photo.taken_at.is_not(None))
                .group_by(Face.person_id)
            ).all()
        )
    if sort is PeopleSort.NAME:
        people.sort(key=lambda p: (p.name is None, (p.name or "").casefold(), p.id))
    elif sort is PeopleSort.RECENT:
        oldest = datetime.min
        people.sort(
            key=lambda p: (p.id not in last_seen, -_ordinal(last_seen.get(p.id, oldest)), p.id)
        )
    else:
        people.sort(key=lambda p: (-p.photo_count, -p.face_count, p.id))
    total = len(people)
    page = people[offset : None if limit is None else offset + limit]
    shown = {p.id for p in page}
    if limit is None:
        best = best_faces(lib)
    else:
        with lib.session() as s:
            rows = s.execute(
                select(Face.person_id, Face.id)
                .where(Face.person_id.in_(shown))
                .order_by(Face.person_id, Face.quality.desc(), Face.id)
            ).all()
        best = {}
        for person_id, face_id in rows:
            best.setdefault(person_id, face_id)
    return PeoplePage(
        page,
        total,
        offset,
        limit,
        {k: v for k, v in last_seen.items() if k in shown},
        {k: v for k, v in best.items() if k in shown},
    )


def _ordinal(moment: datetime) -> float:
    """A date as a number that sorts as it does (naive local wall time, as photos keep it)."""
    return (moment - datetime.min).total_seconds()


# -- edits ----------------------------------------------------------------------------------


def name_person(lib: Library, person_id: int, name: str) -> None:
    name = name.strip()
    if not name:
        raise PeopleError("a name cannot be empty")
    if any(unicodedata.category(c) == "Cc" for c in name):
        # A NUL cannot even be stored in PostgreSQL; a newline or an escape would forge
        # lines in every listing and log that shows the name.
        raise PeopleError("a name cannot contain control characters (NUL, newlines, escapes)")
    with lib.session() as s:
        get_person(s, person_id).name = name


def hide_person(lib: Library, person_id: int, hidden: bool = True) -> None:
    with lib.session() as s:
        get_person(s, person_id).hidden = hidden


def set_minor(lib: Library, person_id: int, minor: bool = True) -> None:
    """A minor is never generated photoreal, whatever grants exist (the policy checks this).
    A minor who consents for themselves stays marked: their permissions need their
    guardian's approval (``consent.guardians``), which un-marking would drop."""
    with lib.session() as s:
        person = get_person(s, person_id)
        if person.is_minor and not minor and person.consents_for_self:
            raise ConsentsForSelfError(
                f"person {person_id} is a minor with an account: they stay marked, so that "
                "their guardian keeps approving what they give"
            )
        person.is_minor = minor


def set_owner(lib: Library, person_id: int) -> None:
    """Mark the library owner ("me"). Only one person can be the owner; verified later."""
    with lib.session() as s:
        person = get_person(s, person_id)
        s.execute(update(Person).values(is_owner=False))
        person.is_owner = True


class ConsentsForSelfError(RefusedError):
    """A regrouping that would touch the faces of a person who consents for themselves."""


def _not_self_consenting(*people: Person | None) -> None:
    for person in people:
        if person is not None and person.consents_for_self:
            raise ConsentsForSelfError(
                f"person {person.id} consents for themselves: their faces cannot be merged, "
                "split or moved (that would carry their consent to other faces)"
            )
        if person is not None and person.do_not_generate:
            raise ConsentsForSelfError(
                f"person {person.id} asked never to be generated: their group cannot be "
                "merged, split or given faces (the mark would be lost or carried to others)"
            )


def move_faces(lib: Library, face_ids: list[int], person_id: int | None) -> int:
    """Put faces in a person (or, with None, mark them as nobody), locked against re-clusters."""
    with lib.session() as s:
        faces = s.scalars(select(Face).where(Face.id.in_(face_ids))).all()
        missing = sorted(set(face_ids) - {f.id for f in faces})
        if missing:
            raise PeopleError(f"no face with id {', '.join(map(str, missing))}")
        _not_self_consenting(*(s.get(Person, f.person_id) for f in faces if f.person_id))
        if person_id is not None:
            _not_self_consenting(get_person(s, person_id))
            photos = [f.photo_id for f in faces]
            if len(set(photos)) != len(photos):
                raise PeopleError("two of these faces are in the same photo: not one person")
            clash = s.scalars(
                select(Face.id).where(
                    Face.person_id == person_id,
                    Face.photo_id.in_(photos),
                    Face.id.not_in(face_ids),
                )
            ).all()
            if clash:
                raise PeopleError(
                    f"person {person_id} already has face(s) {clash} in the same photo"
                )
        for f in faces:
            f.person_id = person_id
            f.locked = True
            f.grouped = True
        return len(faces)


def new_person_from_faces(lib: Library, face_ids: list[int], name: str | None = None) -> int:
    """Make a new person of these faces (unassigned ones, or taken from their people), locked
    against re-clusters: "new person" in the unassigned-faces picker. Returns the new id."""
    if not face_ids:
        raise PeopleError("name the faces the new person is made of", field="faces")
    with lib.session() as s:
        new_id = _new_person(s)
        if name and name.strip():
            s.get(Person, new_id).name = name.strip()
    try:
        move_faces(lib, face_ids, new_id)
    except Exception:
        with lib.session() as s:  # nothing moved: the empty person goes again
            s.delete(s.get(Person, new_id))
        raise
    return new_id


def split_person(lib: Library, person_id: int, face_ids: list[int], name: str | None = None) -> int:
    """Move some faces of a person into a new person (locked both ways). Returns the new id."""
    with lib.session() as s:
        _not_self_consenting(get_person(s, person_id))
        owned = set(
            s.scalars(
                select(Face.id).where(Face.person_id == person_id, Face.id.in_(face_ids))
            ).all()
        )
        stray = sorted(set(face_ids) - owned)
        if stray:
            raise PeopleError(f"face(s) {stray} do not belong to person {person_id}")
        if not face_ids:
            raise PeopleError("name the faces to split off", field="faces")
        new_id = _new_person(s)
        if name:
            s.get(Person, new_id).name = name.strip()
        s.execute(update(Face).where(Face.id.in_(face_ids)).values(person_id=new_id, locked=True))
        # The faces that stay are locked too, so a re-cluster cannot undo the split.
        s.execute(update(Face).where(Face.person_id == person_id).values(locked=True))
        return new_id
