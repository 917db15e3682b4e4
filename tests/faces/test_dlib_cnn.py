"""dlib's CNN detector, looking near where a face was (real model, real photo)."""

import numpy as np

from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.dlib_cnn import DlibCnnFaceFinder
from likeness.testing.photos import astronaut, scenery


def test_finds_the_face_near_its_last_box_and_describes_it_like_the_backend():
    backend = DlibFaceBackend()
    finder = DlibCnnFaceFinder(backend)
    pixels = np.asarray(astronaut())
    [hog] = backend.analyze(pixels)
    face = finder.find_near(pixels, hog.box)
    assert face is not None
    x0, y0, x1, y1 = face.box
    cx, cy = (hog.box[0] + hog.box[2]) / 2, (hog.box[1] + hog.box[3]) / 2
    assert x0 < cx < x1 and y0 < cy < y1  # the same face
    assert np.linalg.norm(face.embedding - hog.embedding) < 0.3  # the same person


def test_finds_nothing_where_there_is_no_face():
    finder = DlibCnnFaceFinder(DlibFaceBackend())
    pixels = np.asarray(scenery())
    h, w = pixels.shape[:2]
    assert finder.find_near(pixels, (w // 3, h // 3, w // 3 + 120, h // 3 + 120)) is None
