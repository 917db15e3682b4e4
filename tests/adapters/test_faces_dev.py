"""Curation and the identity score on real photos (../shared/data/faces-dev)."""

import numpy as np
import pytest
from PIL import Image

from likeness.adapters.curation import CurationRules, curate
from likeness.adapters.identity import score_images
from likeness.faces.listing import list_faces
from likeness.testing.faces_dev import faces_dev_library
from likeness.testing.photos import scenery

PEOPLE = ["barack_obama", "joe_biden"]
GROUPS = ["obama_and_biden.jpg", "two_people.jpg"]


@pytest.fixture(scope="module")
def obama_biden(faces_dev, tmp_path_factory):
    """Obama's and Biden's single photos and the two photos with both; (lib, {name: id})."""
    lib, ids = faces_dev_library(faces_dev, tmp_path_factory.mktemp("obama-biden"), PEOPLE, GROUPS)
    yield lib, ids
    lib.close()


def _photos(faces_dev, name):
    return [
        np.asarray(Image.open(p).convert("RGB"))
        for p in sorted((faces_dev / "people" / name).iterdir())
    ]


def test_identity_score_matches_the_person_and_no_one_else(obama_biden, faces_dev):
    lib, ids = obama_biden
    own = score_images(lib, ids["barack_obama"], _photos(faces_dev, "barack_obama"))
    assert own.images == 5 and own.with_face == 5 and own.matched == 5
    assert own.mean_distance < own.threshold and "5 of 5" in own.summary()
    other = score_images(lib, ids["barack_obama"], _photos(faces_dev, "joe_biden"))
    assert other.with_face == 2 and other.matched == 0
    assert other.mean_distance > other.threshold
    # an image with both: the face closest to the person counts
    both = np.asarray(Image.open(faces_dev / "groups/obama_and_biden.jpg").convert("RGB"))
    assert score_images(lib, ids["joe_biden"], [both]).matched == 1
    blank = score_images(lib, ids["joe_biden"], [np.asarray(scenery(3))])
    assert blank.with_face == 0 and blank.mean_distance is None
    assert "no face found" in blank.summary()


def test_curation_skips_shared_photos_and_crops_around_the_face(obama_biden):
    lib, ids = obama_biden
    chosen = curate(lib, ids["barack_obama"], 256, CurationRules(min_photos=2))
    assert chosen.rejected["not the main face of the photo"] >= 1
    shared = {f["photo_id"] for f in list_faces(lib) if "/groups/" in f["photo"]}
    assert chosen.examples and not {e.photo_id for e in chosen.examples} & shared
    for e in chosen.examples:
        x0, y0, x1, y1 = e.crop_box
        fx0, fy0, fx1, fy1 = e.box
        assert x1 - x0 == y1 - y0  # square
        assert x0 <= fx0 and y0 <= fy0 and fx1 <= x1 and fy1 <= y1  # the face inside
        assert e.image.size == (256, 256)
        assert e.caption.startswith(f"a photo of {chosen.trigger} person")
