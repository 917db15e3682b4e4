"""Erase my biometric data: a person's faces leave the library, and they are never generated.

``erase_biometric_data`` deletes, for one person group:

- their faces' records: the embeddings, landmarks and boxes (so no crop of them can be made,
  shown or exported), and faces of no one that match them (below);
- their liveness enrolments (the sealed templates and commitments) and challenge sessions;
- their key (``store.keys``): every adapter trained on them, and any copy of one taken
  elsewhere, cannot be read any more (``workflows.erase`` then deletes the adapters' files
  and records: they sit in a room above this one);

revokes every grant about them, and marks the group **do-not-generate**: the gate refuses
every action for them whatever grants exist (``consent.policy``).

What is kept, and why:

- the owner's photos, untouched: they are the owner's, and a face in them is not deleted by
  deleting its record (a re-import finds it again, and the template below withholds it);
- the person group itself (its id, uid, the owner's name for it, and the marks): grants, apps
  and the audit log name it, and the do-not-generate mark must live somewhere;
- the signed grants, revoked, and the audit log: the history of what was allowed and done,
  which the person can still read and export;
- their account and passkeys, so that they can sign in, see this, and erase the template;
- one **salted template** per face backend (``people.identity.SaltedTemplate``: the centroid
  of their faces under a random rotation drawn from a salt). Without it the wish could not be
  kept: the safety gate would pass a generated image showing them as "no one in the library",
  and the next import would group their faces again. It serves only to refuse: the safety
  gate refuses an image with a face matching it, and imports do not keep matching faces. The
  person can erase it too (``erase_do_not_generate_template``); the mark stays, but from then
  on nothing recognises their face.

Only the person may erase, once they have an account; for a person without one, the owner may
(acting on their request). Either way the audit log says who.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from likeness import clock
from likeness.consent import audit
from likeness.consent.grants import grants_for, revoke_grant
from likeness.consent.guardians import lapse_requests_of
from likeness.consent.requests import lapse_grant_requests
from likeness.consent.tables import Enrolment, EnrolmentSession, PersonAccount
from likeness.errors import RefusedError
from likeness.faces.backends import UnknownBackendError, backend_class
from likeness.faces.tables import Face
from likeness.library.tables import Photo
from likeness.people.identity import SaltedTemplate, photo_group
from likeness.people.records import get_person
from likeness.people.tables import DoNotGenerateTemplate
from likeness.store import Library, hold_write_lock

ERASED_REASON = "the person erased their biometric data and asked never to be generated"


class NotYoursToEraseError(RefusedError):
    """Erasing for a person who has an account: only they decide that."""


@dataclass(frozen=True)
class Erasure:
    """What ``erase_biometric_data`` did."""

    person_id: int
    faces_deleted: int
    #: Faces of no one in the library that matched the person, deleted too.
    unassigned_faces_deleted: int
    enrolments_deleted: int
    grants_revoked: int
    key_destroyed: bool
    #: The face backends a salted template was kept for.
    templates_kept: tuple[str, ...]
    #: Backends whose embeddings of the person could not be templated (not installed here).
    templates_missing: tuple[str, ...] = ()
    #: Filled in by ``workflows.erase``, which deletes them.
    adapters_deleted: int = 0

    def as_json(self) -> dict:
        return {
            "person": self.person_id,
            "faces_deleted": self.faces_deleted,
            "unassigned_faces_deleted": self.unassigned_faces_deleted,
            "enrolments_deleted": self.enrolments_deleted,
            "adapters_deleted": self.adapters_deleted,
            "grants_revoked": self.grants_revoked,
            "key_destroyed": self.key_destroyed,
            "templates_kept": list(self.templates_kept),
            "templates_missing": list(self.templates_missing),
        }


def _check_eraser(s: Session, uid: str, by: str) -> None:
    if by == audit.person_actor(uid):
        return
    if by != audit.OWNER:
        raise NotYoursToEraseError("only the person, or the owner for a person without account")
    if s.get(PersonAccount, uid) is not None:
        raise NotYoursToEraseError(
            "this person has an account: only they can erase their biometric data"
        )


def _backends_of(s: Session, person_id: int) -> list[str]:
    """The face backends that embedded this person's faces (their photos' ``face_backend``)."""
    return list(
        s.scalars(
            select(Photo.face_backend)
            .join(Face, Face.photo_id == Photo.id)
            .where(Face.person_id == person_id)
            .distinct()
            .order_by(Photo.face_backend)
        )
    )


def _delete_matching_unassigned(s: Session, backend: str, template: SaltedTemplate) -> int:
    rows = s.execute(
        select(Face.id, Face.embedding)
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.person_id.is_(None), Photo.face_backend == backend)
    ).all()
    doomed = [i for i, blob in rows if template.matches(np.frombuffer(blob, "<f4"))]
    if doomed:
        s.execute(delete(Face).where(Face.id.in_(doomed)))
    return len(doomed)


def erase_biometric_data(lib: Library, person_id: int, by: str = audit.OWNER) -> Erasure:
    """Erase what the library holds to recognise and depict this person, and mark them
    do-not-generate (see the module's docstring for what is deleted and what is kept).

    The mark and the deletions of faces and enrolments are one transaction, made first, so
    work under way (a training, a batch) stops at its next ``check_in_force``; the grants
    and the key follow. Running it again finishes an erasure that was interrupted. Front
    ends call ``workflows.erase``, which also deletes the adapters."""
    now = clock.now()
    kept: list[str] = []
    missing: list[str] = []
    with lib.session() as s:
        hold_write_lock(s)
        person = get_person(s, person_id)
        uid = person.uid
        _check_eraser(s, uid, by)
        unassigned = 0
        for backend in _backends_of(s, person_id):
            try:
                group = photo_group(s, person_id, backend_class(backend))
            except UnknownBackendError:
                missing.append(backend)
                continue
            assert group is not None  # (the person has faces by this backend)
            template = SaltedTemplate.of_group(group, secrets.token_bytes(32))
            s.merge(
                DoNotGenerateTemplate(
                    person_uid=uid,
                    backend=backend,
                    created_at=now,
                    salt=template.salt,
                    template=template.template.astype("<f4").tobytes(),
                    match_distance=template.match_distance,
                    faces_withheld=0,
                )
            )
            kept.append(backend)
            unassigned += _delete_matching_unassigned(s, backend, template)
        faces = s.execute(delete(Face).where(Face.person_id == person_id)).rowcount
        enrolments = s.execute(delete(Enrolment).where(Enrolment.person_uid == uid)).rowcount
        s.execute(delete(EnrolmentSession).where(EnrolmentSession.person_uid == uid))
        person.do_not_generate = True
        s.flush()
    lapse_requests_of(lib, uid)  # permissions they asked their guardian for
    lapse_grant_requests(lib, person_uid=uid)  # permissions asked of them, by the owner or apps
    had_key = lib.keys.has_person_key(uid)  # (revoking the owner's grant destroys it too)
    revoked = sum(
        revoke_grant(lib, g.id, reason=ERASED_REASON, by=by)
        for g in grants_for(lib, uid)
        if g.revoked_at is None
    )
    lib.keys.destroy_person_key(uid)
    key_destroyed = had_key and not lib.keys.has_person_key(uid)
    result = Erasure(
        person_id,
        faces,
        unassigned,
        enrolments,
        revoked,
        key_destroyed,
        tuple(kept),
        tuple(missing),
    )
    with lib.session() as s:
        audit.append(
            lib,
            s,
            "erase",
            {
                "subject": uid,
                "by": by,
                "faces": faces + unassigned,
                "enrolments": enrolments,
                "grants": revoked,
                "templates": kept,
            },
        )
    return result


def erase_do_not_generate_template(lib: Library, person_id: int, by: str = audit.OWNER) -> int:
    """Delete the salted templates kept for a person who erased their biometric data (the
    number deleted). The do-not-generate mark stays: the gate still refuses every action for
    them; but nothing recognises their face any more (the safety gate, imports)."""
    with lib.session() as s:
        hold_write_lock(s)
        person = get_person(s, person_id)
        _check_eraser(s, person.uid, by)
        if not person.do_not_generate:
            raise NotYoursToEraseError(
                "this person has not erased their biometric data: there is no template to erase"
            )
        deleted = s.execute(
            delete(DoNotGenerateTemplate).where(DoNotGenerateTemplate.person_uid == person.uid)
        ).rowcount
        audit.append(lib, s, "erase-template", {"subject": person.uid, "by": by, "n": deleted})
    return deleted


@dataclass(frozen=True)
class DoNotGenerateState:
    """What a person's page and the CLI say about an erasure."""

    erased: bool
    templates: tuple[str, ...]
    faces_withheld: int

    def as_json(self) -> dict:
        return {
            "erased": self.erased,
            "templates": list(self.templates),
            "faces_withheld": self.faces_withheld,
        }


def do_not_generate_state(lib: Library, person_id: int) -> DoNotGenerateState:
    with lib.session() as s:
        person = get_person(s, person_id)
        rows = s.scalars(
            select(DoNotGenerateTemplate).where(DoNotGenerateTemplate.person_uid == person.uid)
        ).all()
        return DoNotGenerateState(
            person.do_not_generate,
            tuple(sorted(r.backend for r in rows)),
            sum(r.faces_withheld for r in rows),
        )
