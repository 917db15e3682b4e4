"""Head pose against a face with a person's own nose drop."""

import numpy as np
import pytest

from likeness.faces.headpose import (
    GENERIC_NOSE_DROP,
    estimate_head_pose,
    level_nose_drop,
    opencv_model_5,
    pinhole_camera,
)

SIZE = (640, 480)


def _seen(drop: float, pitch: float) -> np.ndarray:
    """The 5 points of a face with this nose drop, 60 cm from the camera, looking ``pitch``
    degrees up (OpenCV's frame: y down, the camera looking along +z)."""
    import cv2

    b = np.radians(pitch)
    # Looking up turns the face about the x axis so that the nose (nearer the camera, smaller
    # z) moves up the image (smaller y).
    rot = np.array([[1, 0, 0], [0, np.cos(b), np.sin(b)], [0, -np.sin(b), np.cos(b)]])
    pixels, _ = cv2.projectPoints(
        opencv_model_5(drop) @ rot.T,
        np.zeros(3),
        np.array([0.0, 0.0, 6.5]),
        pinhole_camera(SIZE),
        None,
    )
    return pixels.reshape(5, 2)


@pytest.mark.parametrize("drop", [0.47, GENERIC_NOSE_DROP, 0.62, 0.68])
def test_a_level_face_gives_back_its_own_nose_drop(drop):
    assert level_nose_drop(_seen(drop, 0.0), SIZE) == pytest.approx(drop, abs=0.005)


def test_a_face_of_long_proportions_reads_its_tilt_only_with_its_own_drop():
    """A nose drop of 0.66 lies past the generic face's largest projected drop (0.59): against
    the generic face, its level face reads as seen from well above and looking up 10 degrees
    moves the reading 3; against its own drop both read true."""
    level, up = _seen(0.66, 0.0), _seen(0.66, 10.0)
    generic = estimate_head_pose(up, SIZE).pitch - estimate_head_pose(level, SIZE).pitch
    own = estimate_head_pose(up, SIZE, 0.66).pitch - estimate_head_pose(level, SIZE, 0.66).pitch
    assert estimate_head_pose(level, SIZE).pitch < -10
    assert abs(estimate_head_pose(level, SIZE, 0.66).pitch) < 1
    assert own == pytest.approx(10, abs=1)
    assert generic < 5


def test_no_drop_reads_a_face_level_when_none_can():
    """Points with the nose base above the eye line: no face seen from the front has them."""
    points = _seen(GENERIC_NOSE_DROP, 0.0)
    points[4, 1] = points[0, 1] - 40
    assert level_nose_drop(points, SIZE) is None
