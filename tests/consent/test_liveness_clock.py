"""The liveness clock on pose sequences alone: which frames read as a recording of another
session (``verdict.off_beat_frame``). No image is drawn: each frame carries the pose a head
following a session would hold (``clips.pose_timeline``), as ``benchmarks/liveness_timing.py``
measures on thousands of sessions."""

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from likeness.consent.liveness import THRESHOLDS, Challenge, ChallengeSession
from likeness.consent.liveness.reader import Frame
from likeness.consent.liveness.verdict import off_beat_frame
from likeness.faces.headpose import HeadPose
from likeness.testing import clips

pytestmark = pytest.mark.no_catalog  # the SQLite run covers it

FPS = 15
#: Right turn 1.0-2.6 s, look up 2.6-4.6 s, left turn 4.6-6.4 s, then the centre.
SESSION = ChallengeSession(
    "clock",
    datetime(2026, 1, 1),
    (
        Challenge("right", 1.0, 2.6),
        Challenge("up", 2.6, 4.6),
        Challenge("left", 4.6, 6.4),
        Challenge("centre", 6.4, 8.0),
    ),
)
UP = SESSION.challenges[1]


def frames(session: ChallengeSession) -> list[Frame]:
    """A head following ``session``'s prompts, one frame per pose, poses relative to neutral."""
    return [
        Frame(
            t,
            (0, 0, 200, 200),
            HeadPose(yaw, pitch, 0.0),
            np.zeros(128, np.float32),
            200.0,
            (0, 0, 200, 200),
        )
        for t, yaw, pitch in clips.pose_timeline(session, clips.POSES, FPS)
    ]


def with_pose(seen: list[Frame], t: float, yaw: float, pitch: float) -> list[Frame]:
    """``seen`` with the frame nearest ``t`` showing (yaw, pitch) instead."""
    k = int(np.argmin([abs(f.t - t) for f in seen]))
    out = list(seen)
    out[k] = replace(out[k], pose=HeadPose(yaw, pitch, 0.0))
    return out


def off_beat(seen: list[Frame], session: ChallengeSession = SESSION) -> Frame | None:
    """The first off-beat frame over every challenge of ``session``."""
    for c in session.challenges:
        f = off_beat_frame(seen, c, session.challenges, THRESHOLDS)
        if f is not None:
            return f
    return None


def test_an_honest_head_is_on_the_clock():
    assert off_beat(frames(SESSION)) is None


def test_one_frame_barely_reading_as_a_look_up_on_the_way_into_a_turn_is_not_a_replay():
    """The canonical+hair head's refused session (liveness-14): on the way into a right
    turn one frame read 8.7 degrees of turn and 9.1 of pitch, a look up by 0.1 degree,
    well before the look up's window."""
    seen = frames(SESSION)
    # Its neighbours read +5.7 of pitch before it and +15.0 of turn after it: a portrait
    # seen from above reads a few degrees of pitch in a right turn.
    t = 22 / FPS  # a frame's time, 1.47 s
    for dt, yaw, pitch in ((-1 / FPS, 4.5, 5.7), (0.0, 8.7, 9.1), (1 / FPS, 15.0, 7.0)):
        seen = with_pose(seen, t + dt, yaw, pitch)
    assert UP.shows_only(HeadPose(8.7, 9.1, 0.0))
    assert UP.start - THRESHOLDS.early_s > t
    assert off_beat(seen) is None


@pytest.mark.parametrize("pose", [(0.0, 14.0), (4.0, 12.0)])
def test_a_look_up_well_past_its_threshold_before_its_window_is_off_the_clock(pose):
    """One frame alone, but a pose held by a head, not passed through: a recording."""
    seen = with_pose(frames(SESSION), 1.5, *pose)
    found = off_beat(seen)
    assert found is not None and found.t == pytest.approx(1.5, abs=0.05)


def test_a_barely_met_look_up_held_for_two_frames_is_off_the_clock():
    seen = with_pose(with_pose(frames(SESSION), 1.5, 8.7, 9.1), 1.5 + 1 / FPS, 8.0, 9.5)
    assert off_beat(seen) is not None


def test_a_barely_met_look_up_between_frames_far_from_it_is_off_the_clock():
    """A lone frame whose neighbours lie further from it than a head moves between two
    frames was swapped in or out of a recording, not passed through."""
    seen = with_pose(frames(SESSION), 1.5, 0.0, 9.5)
    assert off_beat(seen) is not None


@pytest.mark.parametrize("every", [2, 3])
@pytest.mark.parametrize("shift", [-1.0, 0.9])
def test_a_recording_on_another_clock_is_caught_however_its_frames_are_thinned(shift, every):
    """A recording of a session with the same sequence on a clock shifted by ``shift``
    seconds, with every ``every``-th frame swapped for a lead-in frame (a blind edit that
    leaves each held pose's frames alone): its held poses lie well past their thresholds,
    which no swapping of frames changes."""
    earlier = ChallengeSession(
        "earlier",
        datetime(2026, 1, 1),
        tuple(Challenge(c.kind, c.start + shift, c.end + shift) for c in SESSION.challenges),
    )
    recording = frames(earlier)
    for k in range(every - 1, len(recording), every):
        if recording[k].t > earlier.challenges[0].start:
            recording = with_pose(recording, recording[k].t, 0.0, 0.0)
    assert off_beat(recording) is not None
