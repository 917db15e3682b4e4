"""The face backend is chosen in one place (``likeness.faces.backends``): a second backend,
plugged in from outside likeness, runs import, grouping, the identity match and the adapter
score with its own embeddings and thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from likeness.adapters.identity import score_images
from likeness.errors import UnavailableError
from likeness.faces import backends
from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.importing import import_photos
from likeness.library.tables import Photo
from likeness.people.identity import photo_group
from likeness.people.manage import list_people
from likeness.store import Library
from likeness.testing import backends as plugin
from likeness.testing.libraries import astronaut_variants, hopper_variants, two_people_photos
from likeness.testing.photos import jpeg_bytes, write


def test_the_default_backend_is_dlib_and_an_unknown_one_is_a_clear_error(monkeypatch):
    monkeypatch.delenv(backends.BACKEND_ENV, raising=False)
    assert backends.backend_class() is DlibFaceBackend
    monkeypatch.setenv(backends.BACKEND_ENV, "no-such-backend")
    with pytest.raises(UnavailableError, match="no face backend 'no-such-backend'"):
        backends.backend_class()
    monkeypatch.setenv(backends.BACKEND_ENV, "likeness.faces.nothing:Here")
    with pytest.raises(UnavailableError, match="cannot be loaded"):
        backends.backend_class()


@pytest.mark.slow  # 9 s; `make test-all`
def test_a_second_backend_runs_the_whole_flow_with_its_own_thresholds(tmp_path, monkeypatch):
    import torch  # noqa: F401 (with torch loaded, import workers start from a fork server)

    # A fork server started before the backend was chosen keeps the environment it started
    # with: the importer must tell its workers which backend, not leave it to inheritance.
    monkeypatch.delenv(backends.BACKEND_ENV, raising=False)
    warm = tmp_path / "warm"
    write(warm / "one.jpg", jpeg_bytes(astronaut_variants()[0]))
    with Library.open(tmp_path / "warm-home") as lib:
        import_photos(lib, warm, workers=1)
    monkeypatch.setenv(backends.BACKEND_ENV, plugin.SPEC)
    photos = two_people_photos(tmp_path / "photos")
    with Library.open(tmp_path / "home") as lib:
        report = import_photos(lib, photos, workers=1)
        assert report.faces >= 8
        with lib.session() as s:
            assert set(s.scalars(select(Photo.face_backend))) == {plugin.ScaledFaceBackend.name}
        people = list_people(lib)
        assert len(people) == 2  # grouped with the plug-in's link and merge distances
        astronaut_id = max(people, key=lambda p: p.face_count).id
        with lib.session() as s:
            group = photo_group(s, astronaut_id)
            assert photo_group(s, astronaut_id, DlibFaceBackend) is None  # never compared
        assert group.backend == plugin.ScaledFaceBackend.name
        assert group.match_distance == pytest.approx(3 * 0.55)

        image = np.asarray(astronaut_variants()[0])
        [face] = plugin.ScaledFaceBackend().analyze(image)
        # Matched by the plug-in's threshold, in its own space (three times dlib's).
        assert group.matches(face.embedding)
        turned = np.asarray(hopper_variants()[0])
        [other] = plugin.ScaledFaceBackend().analyze(turned)
        assert not group.matches(other.embedding)

        score = score_images(lib, astronaut_id, [image, turned])
        assert (score.with_face, score.matched) == (2, 1)
        assert score.threshold == pytest.approx(3 * 0.55)
