"""The dlib backend on real faces (scikit-image's astronaut, faces-dev photos)."""

from functools import cache

import numpy as np
import pytest
from PIL import Image

from likeness.faces.analyze import analyze_photo
from likeness.faces.detection import DetectionSettings
from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.quality import frontalness_score
from likeness.testing.photos import astronaut, jpeg_bytes, scenery


@cache
def backend(thorough: bool = False) -> DlibFaceBackend:
    return DlibFaceBackend(DetectionSettings(thorough=thorough))


def _face_of(image: Image.Image):
    faces = backend().analyze(np.asarray(image))
    assert len(faces) == 1, faces
    return faces[0]


def test_finds_embeds_and_scores_one_face():
    face = _face_of(astronaut())
    x0, y0, x1, y1 = face.box
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200
    assert len(face.landmarks) == 5
    assert all(x0 - 5 <= x <= x1 + 5 and y0 - 5 <= y <= y1 + 5 for x, y in face.landmarks)
    assert face.embedding.shape == (128,) and face.embedding.dtype == np.float32
    assert 0 < face.quality <= 1 and face.frontalness > 0.5


def test_same_person_is_close_across_variants_and_others_are_not(faces_dev):
    a = _face_of(astronaut()).embedding
    b = _face_of(
        astronaut().resize((300, 300)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    ).embedding
    other = _face_of(Image.open(faces_dev / "people/barack_obama/1.jpg").convert("RGB")).embedding
    assert np.linalg.norm(a - b) < 0.45
    assert np.linalg.norm(a - other) > 0.6


def _small_face_scene(face_px: int, size=(3000, 2000)) -> Image.Image:
    """A multi-megapixel scene with one face about ``face_px`` wide."""
    scene = scenery(7, size)
    face = astronaut().crop((150, 40, 300, 210))  # face box ~ 90 px wide in the 512 px original
    scale = face_px / 90
    face = face.resize((round(face.width * scale), round(face.height * scale)), Image.LANCZOS)
    scene.paste(face, (1700, 900))
    return scene


def test_finds_a_40_px_face_in_a_6_megapixel_photo():
    faces = backend().analyze(np.asarray(_small_face_scene(44)))
    assert len(faces) == 1
    x0, _, x1, _ = faces[0].box
    assert 1690 < x0 < 1760 and 35 < x1 - x0 < 60


def test_thorough_finds_a_small_face_beside_a_big_one():
    scene = _small_face_scene(44)
    scene.paste(astronaut().crop((100, 0, 400, 330)).resize((600, 660)), (100, 100))
    quick = backend().analyze(np.asarray(scene))
    thorough = backend(True).analyze(np.asarray(scene))
    assert len(thorough) == 2
    assert len(quick) >= 1


def test_boxes_are_in_upright_pixels_of_an_exif_rotated_photo():
    from PIL.ExifTags import Base

    upright = astronaut()
    exif = Image.Exif()
    exif[Base.Orientation] = 8  # viewers turn the stored pixels 90 degrees counter-clockwise
    stored = upright.transpose(Image.Transpose.ROTATE_270)
    result = analyze_photo(jpeg_bytes(stored, exif), backend())
    assert (result.width, result.height) == upright.size
    expected = _face_of(upright).box
    got = result.faces[0].box
    assert np.abs(np.subtract(got, expected)).max() < 12


def test_no_faces_in_scenery():
    assert backend().analyze(np.asarray(scenery(3, (640, 480)))) == []


def test_frontalness_falls_with_yaw():
    frontal = ((0, 0), (10, 0), (30, 0), (40, 0), (20, 15))
    turned = ((0, 0), (10, 0), (30, 0), (40, 0), (34, 15))
    assert frontalness_score(frontal) == pytest.approx(1.0)
    assert frontalness_score(turned) < 0.5


def test_video_frames_read_landmarks_finer_than_a_pixel():
    """A face moved by a third of a pixel moves its video landmarks by about that much (whole
    pixels cannot: one pixel of the nose point is about 3 degrees of a 180 px face's yaw);
    the embedding is the photo backend's, unchanged."""
    import cv2

    video = DlibFaceBackend.for_video_frames()
    photo = np.asarray(astronaut())
    [face] = video.analyze(photo)
    moved = cv2.warpAffine(photo, np.float32([[1, 0, 1 / 3], [0, 1, 0]]), photo.shape[1::-1])
    [shifted] = video.analyze(moved)
    dx = np.array(shifted.landmarks)[:, 0] - np.array(face.landmarks)[:, 0]
    assert abs(float(np.median(dx)) - 1 / 3) < 0.2
    assert any(x != round(x) for x, _ in face.landmarks)
    whole = DlibFaceBackend(DetectionSettings(**{**video.settings.__dict__, "landmark_upscale": 1}))
    [same] = whole.analyze(photo)
    assert np.allclose(same.embedding, face.embedding)
