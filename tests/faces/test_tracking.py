"""Tracking the face across video frames: the same faces as a whole-frame scan, faster, and
a second face or a moved face still seen."""

from __future__ import annotations

from functools import cache

import numpy as np

from likeness.faces.backends import video_frame_backend
from likeness.faces.tracking import FULL_EVERY, TrackingFaceBackend
from likeness.testing.clips import prepared
from likeness.testing.photos import astronaut


@cache
def frame() -> np.ndarray:
    return prepared(astronaut())[0]


def test_a_tracked_face_is_the_face_a_whole_frame_scan_finds():
    backend = video_frame_backend()
    tracking = TrackingFaceBackend(backend)
    [whole] = backend.analyze(frame())
    for _ in range(FULL_EVERY * 2):
        [tracked] = tracking.analyze(frame())
        # The scan grid starts at the region's corner: the box may come from the next level
        # of HOG's pyramid (1.2x), as it may between two frames of a whole-frame scan. The
        # landmarks, and so the pose and the embedding, hardly change.
        assert np.abs(np.subtract(tracked.landmarks, whole.landmarks)).max() <= 2
        # (A few hundredths, against a same-face distance of 0.5.)
        spread = np.linalg.norm(tracked.embedding - whole.embedding)
        assert spread < 0.15 * backend.distances.same_face
        width, whole_width = tracked.box[2] - tracked.box[0], whole.box[2] - whole.box[0]
        assert 1 / 1.25 <= width / whole_width <= 1.25
    assert tracking.full_scans == 2  # one in FULL_EVERY frames


def test_a_second_face_coming_into_view_is_seen_within_a_full_scan():
    tracking = TrackingFaceBackend(video_frame_backend())
    one = frame()
    two = np.concatenate([one, one], axis=1)  # another face beside the first
    for _ in range(3):
        assert len(tracking.analyze(two[:, : one.shape[1]])) == 1
    counts = [len(tracking.analyze(np.ascontiguousarray(two))) for _ in range(FULL_EVERY)]
    assert 2 in counts


def test_a_face_that_jumps_out_of_the_region_is_found_again():
    tracking = TrackingFaceBackend(video_frame_backend())
    one = frame()
    [before] = tracking.analyze(one)
    moved = np.roll(one, 200, axis=1)  # the face 200 px to the right, mostly out of the region
    [after] = tracking.analyze(np.ascontiguousarray(moved))
    assert after.box[0] > before.box[0] + 150
