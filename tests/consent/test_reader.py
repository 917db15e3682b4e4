"""How a frame's pose is taken relative to the session's neutral pose (``reader.relative``)."""

from __future__ import annotations

import pytest

from likeness.consent.liveness import THRESHOLDS
from likeness.consent.liveness.reader import relative
from likeness.faces.headpose import HeadPose, pose_of_rotation, rotation_of_pose
from likeness.testing import clips

pytestmark = pytest.mark.no_catalog


def _read_from(rest, now):
    """The pose of rotation ``now`` relative to the neutral rotation ``rest``, each read as
    a pose first, as the check reads frames."""
    return relative(pose_of_rotation(now), pose_of_rotation(rest))


@pytest.mark.parametrize("roll", [-20.0, 10.0, 25.0])
@pytest.mark.parametrize("turn", [-25.0, 25.0])
def test_a_turn_seen_through_a_rolled_camera_reads_as_a_turn(roll, turn):
    """A phone held ``roll`` degrees off level rolls the whole view: the head's rotation is
    the camera's roll times its own turn. Angles subtracted one by one read a 25-degree turn
    seen 20 degrees rolled as 8.3 degrees up or down (liveness-25; the look up's bar is 9);
    in the neutral head's frame it reads as the turn alone."""
    camera = clips.rotation(0.0, 0.0, roll)
    seen = camera @ clips.rotation(turn, 0.0)
    by_angle = pose_of_rotation(seen).pitch - pose_of_rotation(camera).pitch
    assert abs(by_angle) > 0.15 * abs(roll)  # the premise: subtracted angles read a pitch
    moved = _read_from(camera, seen)
    assert (moved.yaw, moved.pitch, moved.roll) == pytest.approx((turn, 0.0, 0.0), abs=1e-9)


def test_a_head_held_tilted_turns_about_its_tilted_neck():
    """A head held tilted 15 degrees from the start, turning 20 about its neck (tilted with
    it): the turn alone, relative to the neutral pose."""
    tilt = clips.rotation(0.0, 0.0, 15.0)
    moved = _read_from(tilt, tilt @ clips.rotation(20.0, 0.0))
    assert (moved.yaw, moved.pitch, moved.roll) == pytest.approx((20.0, 0.0, 0.0), abs=1e-9)


@pytest.mark.parametrize(
    ("pose", "neutral"),
    [
        (HeadPose(18.0, 3.0, 12.0), HeadPose(0.0, 0.0, 0.0)),
        (HeadPose(-7.0, 12.0, 0.0), HeadPose(0.0, 0.0, 0.0)),
    ],
)
def test_from_a_level_neutral_pose_the_angles_are_the_poses_own(pose, neutral):
    moved = relative(pose, neutral)
    assert (moved.yaw, moved.pitch, moved.roll) == pytest.approx(
        (pose.yaw, pose.pitch, pose.roll), abs=1e-9
    )


def test_the_rotation_of_a_pose_reads_back_as_that_pose():
    pose = HeadPose(-23.0, 11.0, -17.0)
    back = pose_of_rotation(rotation_of_pose(pose))
    assert (back.yaw, back.pitch, back.roll) == pytest.approx((-23.0, 11.0, -17.0), abs=1e-9)


@pytest.mark.parametrize("bow", [-20.0, -10.0, 10.0, 20.0])
@pytest.mark.parametrize("turn", [-30.0, 15.0, 30.0])
def test_a_head_held_bowed_turning_about_an_upright_neck_reads_as_a_turn(bow, turn):
    """The trade of reading in the neutral head's frame: a head held bowed or raised (the
    face pitched, the neck upright) that turns about the world's vertical reads part of the
    turn as roll, where subtracted angles read it exactly. What decides a turn stays: the
    turn reads within 7% of itself and under 2.5 degrees up or down (README)."""
    pitched = clips.rotation(0.0, bow)
    moved = _read_from(pitched, clips.rotation(turn, 0.0) @ pitched)
    assert abs(moved.yaw - turn) <= 0.07 * abs(turn) and abs(moved.pitch) < 2.5, moved
    assert abs(moved.roll) > 0.1 * abs(turn)  # the premise: read in the head's frame


@pytest.mark.parametrize("tilt", [-20.0, -10.0, 15.0, 20.0])
@pytest.mark.parametrize("turn", [-25.0, 15.0, 25.0])
def test_a_head_held_tilted_turning_about_an_upright_neck_reads_some_pitch(tilt, turn):
    """The other side of the trade: a head held tilted towards a shoulder that turns about
    an upright neck (not its tilted one) reads part of the turn as pitch in the neutral
    head's frame, as a rolled camera's turns read with subtracted angles (liveness-25); at
    rest the two look the same to one camera. Up to 20 degrees of tilt and a
    25-degree turn it stays under the look up's bar; held 25 degrees off, a 30-degree turn
    reads past it (README)."""
    tilted = clips.rotation(0.0, 0.0, tilt)
    moved = _read_from(tilted, clips.rotation(turn, 0.0) @ tilted)
    assert abs(moved.yaw - turn) <= 0.07 * abs(turn), moved
    assert 0.1 * abs(turn) < abs(moved.pitch) < THRESHOLDS.tilt_degrees, moved
    far = clips.rotation(0.0, 0.0, 25.0)
    beyond = _read_from(far, clips.rotation(30.0, 0.0) @ far)
    assert beyond.pitch > THRESHOLDS.tilt_degrees
