"""The people table as other rooms read it: one person by id, or a clear not-found.

Why a module of its own: consent, adapters, the server and the command line each need "the
person with this id, or an error that says there is none"; they get it here instead of each
querying the table and wording the error its own way. It imports only the store, so every room
above ``people`` may use it without loading the face models.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from likeness.errors import NotFoundError
from likeness.people.tables import Person


class PersonNotFoundError(NotFoundError):
    """No person with that id."""


def get_person(session: Session, person_id: int) -> Person:
    """The person with ``person_id``, hidden or not; ``PersonNotFoundError`` if none."""
    person = session.get(Person, person_id)
    if person is None:
        raise PersonNotFoundError(f"no person with id {person_id}", field="person")
    return person


@dataclass(frozen=True)
class PersonRecord:
    """What other rooms read of a person: no faces, no embeddings."""

    id: int
    uid: str
    name: str | None
    is_owner: bool
    is_minor: bool
    hidden: bool
    #: Erased their biometric data; never generated (``consent.erasure``).
    do_not_generate: bool = False


def person_records(session: Session, ids: Collection[int] | None = None) -> dict[int, PersonRecord]:
    """People by id (those of ``ids`` that exist, or everyone), in id order."""
    query = select(Person).order_by(Person.id)
    if ids is not None:
        query = query.where(Person.id.in_(list(ids)))
    return {
        p.id: PersonRecord(p.id, p.uid, p.name, p.is_owner, p.is_minor, p.hidden, p.do_not_generate)
        for p in session.scalars(query)
    }


def person_ids_by_uid(session: Session) -> dict[str, int]:
    """Each person's id by their uid (the stable id grants and adapters are bound to: ids
    are this library's, uids travel with a grant)."""
    return {uid: pid for uid, pid in session.execute(select(Person.uid, Person.id))}


def person_id_of(session: Session, uid: str) -> int | None:
    """The id of the person with ``uid`` here, if they still exist."""
    return session.scalar(select(Person.id).where(Person.uid == uid))
