"""The output safety gate on real faces (../shared/data/faces-dev), two-person photos included."""

import numpy as np
import pytest
from PIL import Image

from likeness.consent.audit import list_audit
from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.consent.policy import authorize
from likeness.safety.gate import SafetyGate
from likeness.safety.nsfw import NudityDetector
from likeness.testing.faces_dev import faces_dev_library
from likeness.testing.photos import astronaut, scenery

STYLIZED = "generate-stylized"


@pytest.fixture(scope="module")
def world(faces_dev, tmp_path_factory):
    """Obama (consented to stylized generation), Biden (no grant), and the photos with both."""
    lib, ids = faces_dev_library(
        faces_dev,
        tmp_path_factory.mktemp("safety"),
        ["barack_obama", "joe_biden"],
        ["obama_and_biden.jpg"],
    )
    issue_grant(lib, ids["barack_obama"], [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    yield lib, ids
    lib.close()


@pytest.fixture(scope="module")
def nudity():
    return NudityDetector()


def _photo(faces_dev, rel: str) -> np.ndarray:
    return np.asarray(Image.open(faces_dev / rel).convert("RGB"))


def _gate(lib, subjects, nudity, require_presence=True):
    """A gate for an attested (tiny-model) Decision, asked to check presence and placement as
    it does for real models: these photos stand in for a real model's outputs."""
    decision = authorize(lib, STYLIZED, subjects, model="tiny")
    assert decision.allowed, decision.reason
    return SafetyGate(lib, decision, nudity=nudity, require_presence=require_presence)


def test_the_consented_person_passes_and_the_verdict_is_audited(world, faces_dev, nudity):
    lib, ids = world
    obama = ids["barack_obama"]
    verdict = _gate(lib, [obama], nudity).check(_photo(faces_dev, "people/barack_obama/2.jpg"))
    assert verdict.allowed, verdict.reason
    assert [f.person_id for f in verdict.faces] == [obama]
    entry = list_audit(lib, 1)[0]
    assert entry["kind"] == "safety" and entry["payload"]["allowed"] is True
    assert entry["payload"]["faces"] == [obama]
    assert "obama" not in str(entry).lower()  # ids and hashes, never names


def test_a_person_asked_for_must_appear(world, faces_dev, nudity):
    lib, ids = world
    gate = _gate(lib, [ids["barack_obama"]], nudity)
    stranger = gate.check(_photo(faces_dev, "people/kit_harington/1.jpg"))
    assert not stranger.allowed and "does not appear" in stranger.reason
    assert [f.person_id for f in stranger.faces] == [None]
    empty = gate.check(np.asarray(scenery(4, (256, 256))))
    assert not empty.allowed and "does not appear" in empty.reason


def test_faces_of_nobody_in_the_library_pass(world, faces_dev, nudity):
    lib, _ = world
    gate = _gate(lib, [], nudity)  # no one mentioned: a picture of no one's likeness
    verdict = gate.check(_photo(faces_dev, "people/kit_harington/1.jpg"))
    assert verdict.allowed and verdict.faces and verdict.faces[0].person_id is None


def test_an_unmentioned_library_person_without_consent_refuses_the_image(world, faces_dev, nudity):
    lib, ids = world
    obama, biden = ids["barack_obama"], ids["joe_biden"]
    alone = _gate(lib, [], nudity).check(_photo(faces_dev, "people/joe_biden/1.jpg"))
    assert not alone.allowed and f"person {biden}" in alone.reason
    both = _gate(lib, [obama], nudity).check(_photo(faces_dev, "groups/obama_and_biden.jpg"))
    assert not both.allowed and f"person {biden}" in both.reason
    # The photo also shows a child looking down in the corner, a face of no library person.
    identified = sorted(f.person_id for f in both.faces if f.person_id is not None)
    assert identified == sorted([obama, biden])


def test_the_face_placed_for_a_person_must_be_that_person(world, faces_dev, nudity, tmp_path):
    lib, ids = world
    obama, biden = ids["barack_obama"], ids["joe_biden"]
    photo = _photo(faces_dev, "groups/obama_and_biden.jpg")
    # Biden consents too, in a copy of the library, so both may appear.
    import shutil

    from likeness.store import Library

    shutil.copytree(lib.home, tmp_path / "home")
    with Library.open(tmp_path / "home") as both_lib:
        issue_grant(both_lib, biden, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
        gate = _gate(both_lib, [obama, biden], nudity)
        plain = gate.check(photo)
        assert plain.allowed, plain.reason
        where = {f.person_id: f.box for f in plain.faces}
        h, w = photo.shape[:2]

        def region(box):  # a generous region around a face
            x0, y0, x1, y1 = box
            return (max(0, x0 - 20), max(0, y0 - 20), min(w, x1 + 20), min(h, y1 + 20))

        right = gate.check(photo, {obama: region(where[obama]), biden: region(where[biden])})
        assert right.allowed, right.reason
        swapped = gate.check(photo, {obama: region(where[biden]), biden: region(where[obama])})
        assert not swapped.allowed
        assert f"the face placed for person {obama} is person {biden}" in swapped.reason


def test_the_detector_finds_what_nudenet_itself_finds(nudity):
    """The gate's array postprocessing against NudeNet's own ``detect`` (its Python loop):
    the same classes, scores and boxes, on a portrait, wide and tall crops of it (NudeNet
    pads them square, which its box arithmetic undoes) and a scene."""
    from nudenet import NudeDetector

    reference = NudeDetector()
    portrait = np.asarray(astronaut())
    images = [portrait, portrait[100:400], portrait[:, 150:350], np.asarray(scenery(3, (480, 320)))]
    found_any = False
    for image in images:
        rgba = np.ascontiguousarray(np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]))
        theirs = [(d["class"], d["score"], tuple(d["box"])) for d in reference.detect(rgba)]
        ours = nudity.detect(image)
        assert [(c, b) for c, _, b in ours] == [(c, b) for c, _, b in theirs]
        assert np.allclose([s for _, s, _ in ours], [s for _, s, _ in theirs], atol=1e-4)
        found_any |= bool(ours)
    assert found_any  # the comparison saw detections, not only empty lists


def test_explicit_content_is_refused(world, nudity):
    """No explicit photo is kept in the test data: NudeNet runs on a real photo, the gate is
    told to treat the class it finds there (a woman's face) as explicit, and must refuse."""
    lib, _ = world
    image = np.asarray(astronaut())
    assert nudity.explicit(image) == []  # an ordinary portrait is not explicit
    strict = NudityDetector(labels=frozenset({"FACE_FEMALE"}))
    [finding] = strict.explicit(image)
    assert finding.label == "FACE_FEMALE" and finding.score > 0.5
    verdict = _gate(lib, [], strict).check(image)
    assert not verdict.allowed and "explicit content (FACE_FEMALE)" in verdict.reason


def test_tiny_model_outputs_need_no_face_but_faces_are_still_checked(world, faces_dev, nudity):
    lib, ids = world
    gate = _gate(lib, [ids["barack_obama"]], nudity, require_presence=None)
    assert gate.check(np.asarray(scenery(5, (128, 128)))).allowed  # tiny models draw no one
    biden = gate.check(_photo(faces_dev, "people/joe_biden/1.jpg"))
    assert not biden.allowed and f"person {ids['joe_biden']}" in biden.reason


def test_an_apps_refusal_names_only_the_people_it_asked_for(world, faces_dev, nudity):
    """The verdict reaches an app (its job's result): a face of someone outside its request
    is refused without saying who; the audit log keeps the id for the owner."""
    lib, ids = world
    obama, biden = ids["barack_obama"], ids["joe_biden"]
    [grant] = [
        issue_grant(lib, obama, [Scope.GENERATE_STYLIZED], Trust.ATTESTED, grantee="app:postcards")
    ]
    decision = authorize(lib, STYLIZED, [obama], "app:postcards", "tiny", within=[grant.id])
    assert decision.allowed and decision.grant_ids == (grant.id,)
    gate = SafetyGate(lib, decision, nudity=nudity, require_presence=True)
    both = gate.check(_photo(faces_dev, "groups/obama_and_biden.jpg"))
    assert not both.allowed and "a person in the library" in both.reason
    assert f"person {biden}" not in both.reason and str(biden) not in both.reason
    assert biden in list_audit(lib, 1)[0]["payload"]["faces"]
    missing = gate.check(_photo(faces_dev, "people/kit_harington/1.jpg"))
    assert f"person {obama} was asked for" in missing.reason  # its own person, by id


def test_a_clip_showing_an_unconsented_face_in_a_few_frames_is_refused(world, faces_dev, nudity):
    """Frames of faces-dev photos through the clip gate: Obama (consented to video here) in
    every frame passes as one track; Biden (no grant) in three of twelve refuses the clip,
    naming the first frame he is in; each verdict is one audit entry for the clip."""
    lib, ids = world
    obama, biden = ids["barack_obama"], ids["joe_biden"]
    issue_grant(lib, obama, [Scope.GENERATE_VIDEO], Trust.ATTESTED)
    decision = authorize(lib, "generate-video", [obama], model="tiny")
    assert decision.allowed, decision.reason
    gate = SafetyGate(lib, decision, nudity=nudity, require_presence=True)
    photo = _photo(faces_dev, "people/barack_obama/2.jpg")
    clean = gate.check_clip(np.stack([np.roll(photo, 2 * i, axis=1) for i in range(6)]))
    assert clean.allowed and "1 tracks" in clean.reason, clean.reason
    assert {f.person_id for f in clean.faces} == {obama}
    assert list_audit(lib, 1)[0]["payload"]["frames"] == 6
    joe = Image.open(faces_dev / "people/joe_biden/1.jpg").convert("RGB")
    joe = np.asarray(joe.resize((photo.shape[1], photo.shape[0])))
    frames = np.stack([photo] * 12)
    frames[5:8] = joe
    refused = gate.check_clip(frames)
    assert not refused.allowed
    assert refused.reason.startswith(f"frame 5: a face matches person {biden}, who has no grant")
    entry = list_audit(lib, 1)[0]["payload"]
    assert entry["allowed"] is False and biden in entry["faces"] and entry["frames"] == 12
