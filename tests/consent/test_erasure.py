"""Erase my biometric data: what goes, what stays, and that the wish holds afterwards (the
gate, the safety gate on a photo of them, a later import of new photos of them)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from likeness.adapters.manage import list_adapters
from likeness.adapters.storage import adapter_path
from likeness.consent.audit import list_audit, verify_audit
from likeness.consent.erasure import (
    NotYoursToEraseError,
    do_not_generate_state,
    erase_biometric_data,
    erase_do_not_generate_template,
)
from likeness.consent.grants import DoNotGenerateError, Scope, Trust, grants_for, issue_grant
from likeness.consent.policy import authorize
from likeness.consent.tables import PersonAccount
from likeness.faces.backends import backend_class
from likeness.faces.tables import Face
from likeness.importing import import_photos
from likeness.people.manage import ConsentsForSelfError, recluster
from likeness.people.merges import merge_people
from likeness.people.records import get_person
from likeness.people.tables import Person
from likeness.safety.gate import SafetyGate
from likeness.testing.libraries import copy_home, hopper_variants
from likeness.testing.photos import astronaut, jpeg_bytes, write
from likeness.workflows import erase

STYLIZED = "generate-stylized"


def _face_count(lib, person: int | None = None) -> int:
    with lib.session() as s:
        q = select(func.count(Face.id))
        if person is not None:
            q = q.where(Face.person_id == person)
        return s.scalar(q)


def _photos(lib) -> list[tuple[int, bytes]]:
    """The catalog's photos, and each one's file's bytes."""
    import os
    from pathlib import Path

    from likeness.library.tables import PhotoFile

    with lib.session() as s:
        rows = s.execute(select(PhotoFile.photo_id, PhotoFile.location)).all()
    return sorted((pid, Path(os.fsdecode(loc)).read_bytes()) for pid, loc in rows)


@pytest.fixture
def world(trained_two_people_home, tmp_path):
    home, alice, grace = trained_two_people_home
    lib = copy_home(home, tmp_path / "home")
    issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    issue_grant(lib, grace, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    yield lib, alice, grace
    lib.close()


def _hopper(index: int = 0) -> np.ndarray:
    return np.asarray(hopper_variants()[index])


def test_erasure_deletes_what_recognises_and_depicts_the_person_and_keeps_the_rest(world):
    lib, alice, grace = world
    with lib.session() as s:
        uid = get_person(s, grace).uid
    adapters = list_adapters(lib, grace)
    assert adapters and lib.keys.has_person_key(uid)
    files = [adapter_path(lib, uid, a.id) for a in adapters]
    assert all(f.exists() for f in files)
    alice_faces, grace_faces = _face_count(lib, alice), _face_count(lib, grace)
    photos_before = _photos(lib)

    done = erase(lib, grace)

    assert done.faces_deleted == grace_faces > 0
    assert done.adapters_deleted == len(adapters) and done.grants_revoked == 2  # train, stylized
    assert done.key_destroyed and not lib.keys.has_person_key(uid)
    assert done.templates_kept == (backend_class().name,)
    assert _face_count(lib, grace) == 0 and _face_count(lib, alice) == alice_faces
    assert not list_adapters(lib, grace) and not any(f.exists() for f in files)
    assert all(g.revoked_at is not None for g in grants_for(lib, uid))
    # The group stays, marked, with the owner's name for it; the photos are untouched.
    with lib.session() as s:
        person = get_person(s, grace)
        assert person.do_not_generate and person.name == "Grace Hopper"
    assert _photos(lib) == photos_before
    assert do_not_generate_state(lib, grace).as_json() == {
        "erased": True,
        "templates": [backend_class().name],
        "faces_withheld": 0,
    }
    entry = next(e for e in reversed(list_audit(lib)) if e["kind"] == "erase")
    assert entry["payload"]["by"] == "owner" and entry["payload"]["subject"] == uid
    assert "grace" not in str(entry).lower()
    assert verify_audit(lib).ok
    # A re-cluster keeps the group (it has no faces, by design), and no one can regroup it.
    recluster(lib)
    with lib.session() as s:
        assert get_person(s, grace).do_not_generate
    with pytest.raises(ConsentsForSelfError):
        merge_people(lib, alice, grace)


def test_after_erasure_every_action_is_refused_and_an_image_showing_them_too(world):
    lib, alice, grace = world
    assert authorize(lib, STYLIZED, [grace], model="tiny").allowed
    erase_biometric_data(lib, grace)

    for action in ("train-adapter", STYLIZED, "generate-photoreal", "export-adapter"):
        decision = authorize(lib, action, [grace], model="tiny")
        assert not decision.allowed
        assert decision.reason == f"person {grace} asked never to be generated"
    with pytest.raises(DoNotGenerateError):
        issue_grant(lib, grace, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)

    # An image showing her is refused (her faces' records are gone: only the template knows
    # her), for the owner's picture of no one and for Alice's alike; Alice's own passes.
    nobody = SafetyGate(lib, authorize(lib, STYLIZED, [], model="tiny"))
    verdict = nobody.check(_hopper(1))
    assert not verdict.allowed
    assert verdict.reason == f"a face matches person {grace}, who asked never to be generated"
    assert verdict.faces[0].never and verdict.faces[0].person_id == grace
    for_alice = SafetyGate(lib, authorize(lib, STYLIZED, [alice], model="tiny"))
    assert not for_alice.check(_hopper(2)).allowed
    alice_verdict = for_alice.check(np.asarray(astronaut()))
    assert alice_verdict.allowed, alice_verdict.reason


def test_a_later_import_withholds_new_photos_of_them(world, tmp_path):
    lib, alice, grace = world
    erase_biometric_data(lib, grace)
    people_before = _face_count(lib)
    new = tmp_path / "new-photos"
    # New framings of her photo (not in the library) and one of Alice, who stays.
    from PIL import Image

    base = Image.fromarray(_hopper(0))
    write(new / "grace-new-1.jpg", jpeg_bytes(base.crop((20, 30, 380, 420)).resize((360, 390))))
    write(new / "grace-new-2.jpg", jpeg_bytes(base.rotate(4).resize((420, 640))))
    write(new / "alice-new.jpg", jpeg_bytes(astronaut().crop((40, 0, 460, 420))))

    report = import_photos(lib, new, workers=1)

    assert report.added == 3 and report.withheld == 2 and report.faces == 1
    assert _face_count(lib) == people_before + 1
    assert do_not_generate_state(lib, grace).faces_withheld == 2
    with lib.session() as s:
        new_face = s.scalar(select(Face).order_by(Face.id.desc()))
        assert new_face.person_id == alice


def test_the_template_can_be_erased_too_and_the_mark_stays(world):
    lib, _, grace = world
    erase_biometric_data(lib, grace)
    assert erase_do_not_generate_template(lib, grace) == 1
    assert do_not_generate_state(lib, grace).templates == ()
    # Nothing recognises her face any more: an image of her is a face of no one here ...
    nobody = SafetyGate(lib, authorize(lib, STYLIZED, [], model="tiny"))
    assert nobody.check(_hopper(1)).allowed
    # ... but nothing can be made of her by name: the mark stays.
    assert not authorize(lib, STYLIZED, [grace], model="tiny").allowed


def test_only_the_person_erases_once_they_have_an_account(world):
    lib, alice, grace = world
    with lib.session() as s:
        uid = get_person(s, grace).uid
        s.add(
            PersonAccount(
                person_uid=uid,
                user_handle=b"h" * 16,
                created_at=get_person(s, grace).created_at,
                invitation_id="i" * 32,
            )
        )
    with pytest.raises(NotYoursToEraseError):
        erase_biometric_data(lib, grace)
    with pytest.raises(NotYoursToEraseError):
        erase_biometric_data(lib, grace, by=f"person:{get_uid(lib, alice)}")
    assert _face_count(lib, grace) > 0  # nothing was touched
    assert erase_biometric_data(lib, grace, by=f"person:{uid}").faces_deleted > 0
    with pytest.raises(NotYoursToEraseError):
        erase_do_not_generate_template(lib, grace)  # the owner cannot undo her wish's template


def get_uid(lib, person: int) -> str:
    with lib.session() as s:
        return get_person(s, person).uid


def test_an_erasure_during_an_import_withholds_the_photos_after_it(world, tmp_path):
    lib, _, grace = world
    new = tmp_path / "new-photos"
    for i, image in enumerate(hopper_variants()):
        write(new / f"grace-{i}.jpg", jpeg_bytes(image.rotate(3)))
    faces_before = _face_count(lib)
    erased = []

    def erase_after_the_first_photo(done: int, total: int) -> None:
        if done >= 1 and not erased:
            erased.append(erase(lib, grace))

    report = import_photos(lib, new, workers=1, progress=erase_after_the_first_photo)
    # The photos recorded after it are withheld; the faces recorded before it, not yet
    # grouped, went with the erasure (faces of no one that match her).
    assert report.added == 4 and report.withheld >= 3
    assert erased[0].unassigned_faces_deleted == report.faces
    assert _face_count(lib) == faces_before - erased[0].faces_deleted
    with lib.session() as s:
        assert s.scalar(select(func.count(Person.id)).where(Person.do_not_generate.is_(False))) == 1
