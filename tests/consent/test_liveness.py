"""Liveness on clips rendered from real photos: honest clips pass, every attack fails.

The clips are synthetic (see tests/consent/clips.py); thresholds await real camera footage.
"""

import itertools
import random
from dataclasses import replace
from datetime import datetime
from functools import cache

import numpy as np
import pytest
from PIL import Image

from likeness.consent import depth
from likeness.consent.depth import motion_directions, turn_depth
from likeness.consent.liveness import (
    THRESHOLDS,
    Challenge,
    ChallengeSession,
    neutral_pose_problem,
    new_session,
    verify_clip,
)
from likeness.consent.liveness.reader import (
    BEYOND,
    TURN_BIN_DEGREES,
    ClipReader,
    FaceRegion,
    Frame,
    Reading,
    depth_band,
)
from likeness.consent.liveness.verdict import clip_relief, face_size_problem, judge
from likeness.faces import headpose
from likeness.faces.backends import turned_face_finder, video_frame_backend
from likeness.faces.headpose import (
    GENERIC_NOSE_DROP,
    HeadPose,
    LandmarkPoses,
    PoseCalibration,
    estimate_head_pose,
    read_pose,
)
from likeness.people.identity import PhotoGroup
from likeness.testing import clips, heads
from likeness.testing.camera import Camera
from likeness.testing.photos import astronaut

pytestmark = pytest.mark.no_catalog  # the SQLite run covers it


@cache
def backend():
    return video_frame_backend()


@cache
def turned_faces():
    return turned_face_finder(backend())


@pytest.fixture(scope="module")
def people(faces_dev):
    return {
        "astronaut": clips.prepared(astronaut()),
        "obama": clips.prepared(Image.open(faces_dev / "people/barack_obama/1.jpg")),
    }


def fixed_session(name: str, *kinds: str) -> ChallengeSession:
    """A session with 2-second windows after the 1-second lead-in, then back to centre."""
    challenges = tuple(
        Challenge(kind, 1.0 + 2 * i, 3.0 + 2 * i) for i, kind in enumerate([*kinds, "centre"])
    )
    return ChallengeSession(name, datetime(2026, 1, 1), challenges)


SESSION = fixed_session("fixed", "left", "up", "right")


def _verify(frames, reference, session=SESSION, finder=True, poses=None, thresholds=THRESHOLDS):
    """The check's verdict; ``poses`` reads the head poses another way than the check's own
    (``liveness_poses``): ``LandmarkPoses()``, which prints fool into meeting every pose, to
    test what the depth check alone refuses."""
    group = PhotoGroup.of_embeddings(reference.embedding, backend())
    finder = turned_faces() if finder else None
    return verify_clip(frames, session, backend(), group, finder, thresholds, poses=poses)


@pytest.mark.slow  # 13 to 19 s a clip; `make test-all` (the head models' clips run by default)
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("who", ["astronaut", "obama"])
def test_honest_clips_pass(people, who, seed):
    pixels, face = people[who]
    session = new_session(rng=random.Random(seed))  # a random order and timing, reproducible
    result = _verify(clips.honest_frames(pixels, face.landmarks, session), face, session)
    assert result.passed, result.reason
    assert [e["challenge"] for e in result.transcript] == [c.kind for c in session.challenges]
    assert result.template is not None and result.match_distance < backend().distances.same_person
    assert result.face_spread is not None and result.face_spread < backend().distances.same_face


@pytest.mark.slow  # 6 s; `make test-all`
def test_a_sequence_asking_for_one_turn_twice_passes(people):
    """Left, a short right, left again: the first left's pose coming back is due, not late."""
    pixels, face = people["obama"]
    session = ChallengeSession(
        "twice",
        datetime(2026, 1, 1),
        (
            Challenge("left", 1.0, 2.6),
            Challenge("right", 2.6, 4.0),
            Challenge("left", 4.0, 5.8),
            Challenge("centre", 5.8, 7.4),
        ),
    )
    result = _verify(clips.honest_frames(pixels, face.landmarks, session), face, session)
    assert result.passed, result.reason


@pytest.mark.slow  # 27 s; `make test-all`
def test_a_head_turned_beyond_the_detectors_range_still_passes(people):
    """Turning far (42 degrees) loses the face for a moment; the frames on the way count.

    (Going straight from one far pose into another the detector also loses, such as 42
    degrees left into 22 degrees up, leaves no frame at all on the way at 10 frames a second:
    the order here passes through poses it follows.)"""
    pixels, face = people["astronaut"]
    far = {**clips.POSES, "left": (-42.0, 0.0), "right": (42.0, 0.0)}
    session = fixed_session("far", "up", "left", "right")
    frames = clips.honest_frames(pixels, face.landmarks, session, far)
    assert sum(not backend().analyze(f) for _, f in frames) >= 4  # lost while turned far
    result = _verify(frames, face, session)
    assert result.passed, result.reason


@pytest.mark.slow  # 24 s; `make test-all`
@pytest.mark.skip(
    reason="its premise no longer holds since liveness-25: HOG alone now sees the right turn "
    "held (at 624 px as clips.prepared sizes the photo, and at the 630 px of before); a "
    "clip whose turn only the CNN finder sees is yet to be found again (issue 24)"
)
def test_a_turn_the_hog_detector_loses_early_is_found_by_the_cnn_detector(faces_dev):
    """This face starts 11 degrees turned and 9 up; HOG loses it about 9 degrees into the
    right turn (before it reads as 10 but for a frame or so), so only the CNN finder sees the
    turn held. Poses from the 5 landmarks: the face mesh reads this start 15 degrees turned,
    past the start's 12 (a live session asks the person to face the camera first)."""
    pixels, face = clips.prepared(Image.open(faces_dev / "people/kit_harington/3.jpg"))
    session = fixed_session("kit", "left", "right")
    # At 15 frames a second a pose must hold 2 frames, which HOG alone gives for no frame.
    frames = clips.honest_frames(pixels, face.landmarks, session, fps=15)
    without = _verify(frames, face, session, finder=False, poses=LandmarkPoses())
    assert not without.passed and "'right'" in without.reason and "not met" in without.reason
    result = _verify(frames, face, session, poses=LandmarkPoses())
    assert result.passed, result.reason
    assert result.transcript[1]["turned_face_frames"] >= 1


@pytest.mark.slow  # 11 s; `make test-all`
def test_a_head_passing_diagonally_from_a_turn_to_looking_up_is_not_a_changed_face(faces_dev):
    """Right straight into up passes through 9 degrees of yaw and of pitch at once (13 in all):
    not frontal, though each angle alone would be, and its embedding drifts like a turn's."""
    pixels, face = clips.prepared(Image.open(faces_dev / "people/alex_lacamoire/1.jpg"))
    session = fixed_session("diagonal", "left", "right", "up")
    result = _verify(clips.honest_frames(pixels, face.landmarks, session, fps=15), face, session)
    assert result.passed, result.reason


@pytest.mark.slow  # 28 s; `make test-all`
def test_a_look_up_is_not_a_changed_face_on_a_smooth_head(faces_dev):
    """The smooth head (an ellipsoid with a nose) reads a look up as 8 to 10 degrees of pitch,
    and its embedding there lies past the same-face distance from the frontal median: those
    frames are a look up, not frames facing the camera (``Thresholds.frontal_degrees``). At
    10 degrees this clip was refused "the face changed during the recording"."""
    folder = faces_dev / "people/john_lennon"
    pixels, face = clips.enrolment_sized(Image.open(folder / "2.jpg"), backend(), 180)
    render = heads.HEADS["ellipsoid"](pixels, face.landmarks)
    session = fixed_session("look-up", "left", "centre", "up", "right")
    frames = Camera(noise=3.0, h264_crf=28).shoot(
        clips.timeline(session, clips.POSES, render, fps=15)
    )
    result = _verify(frames, face, session)
    assert result.passed, result.reason
    assert result.face_spread < 0.8 * backend().distances.same_face


@pytest.mark.slow  # 10 s; `make test-all`
def test_a_face_too_far_from_the_camera_fails(people, faces_dev):
    pixels, face = clips.enrolment_sized(astronaut(), backend(), face_px=110)
    result = _verify(clips.honest_frames(pixels, face.landmarks, SESSION), face)
    assert not result.passed and "come closer" in result.reason


def test_a_face_just_under_the_size_bar_is_not_told_it_is_at_the_bar():
    """An honest canonical+hair session read its face just under 175 px wide and was told
    "the face is 175 px wide; come closer to the camera (at least 175 px)"."""
    bar = THRESHOLDS.min_face_px
    assert face_size_problem(bar - 0.04) == (
        f"the face is {bar - 1} px wide; come closer to the camera (at least {bar} px)"
    )
    assert face_size_problem(float(bar)) is None


def test_the_faces_size_is_read_over_the_lead_in_not_from_one_frame(people):
    """One frame's eye corners jitter by a few pixels (more behind glasses): a face 180 px
    wide whose lead-in has one frame in three reading 169 px is not told to come closer,
    though the neutral frame is one of those."""
    pixels, face = people["astronaut"]
    jittered = clips.zoomed(pixels, 0.94)  # the same scene 6% further away
    first = SESSION.challenges[0].start
    # At 15 fps the lead-in keeps a region every third frame (``reader.LEAD_KEEP_S``), and
    # the neutral frame is one of those: every one of them reads narrow here.
    honest = clips.honest_frames(pixels, face.landmarks, SESSION, fps=15)
    frames = [
        (t, jittered if t < first and i % 3 == 0 else image) for i, (t, image) in enumerate(honest)
    ]
    result = _verify(frames, face)
    assert result.passed, result.reason


@pytest.mark.slow  # 11 s; `make test-all`
def test_a_face_180_px_wide_boxed_a_pyramid_step_smaller_is_not_told_to_come_closer():
    # The HOG detector boxes the astronaut's face 149 px wide where the check reads 182 (its
    # pyramid's levels are 1.2x apart; at 180 its box is 179); the size check reads the width
    # from the face mesh's fit instead (from the eye corners up to liveness-18).
    pixels, face = clips.prepared(astronaut(), 182)
    assert face.box[2] - face.box[0] < THRESHOLDS.min_face_px
    frames = clips.honest_frames(pixels, face.landmarks, SESSION)
    result = _verify(frames, face)
    assert result.passed, result.reason


def test_a_clip_that_starts_turned_away_fails(people):
    pixels, face = people["astronaut"]
    turned = clips.render_pose(pixels, face.landmarks, 26.0, 0.0)  # reads as 21.6
    result = _verify(clips.still_frames(turned, SESSION), face)
    assert not result.passed and "look straight at the camera" in result.reason


def test_a_still_photo_fails(people):
    pixels, face = people["astronaut"]
    result = _verify(clips.still_frames(pixels, SESSION), face)
    assert not result.passed and "'left'" in result.reason and "not met" in result.reason


def test_a_photo_turned_like_a_head_fails_for_lack_of_depth(people):
    """Five landmarks read a flat print turned 35 degrees as a head turned 13 to 21: the
    depth check alone refuses it. The face mesh sees a frontal face squeezed, and reads the
    same print as turned 3 degrees: the turn is not met at all."""
    pixels, face = people["astronaut"]
    frames = clips.flat_photo_frames(pixels, SESSION)
    read_by_landmarks = _verify(frames, face, poses=LandmarkPoses())
    assert not read_by_landmarks.passed and "flat picture" in read_by_landmarks.reason
    assert read_by_landmarks.transcript[0]["yaw"] <= -12  # the pose alone would have passed
    result = _verify(frames, face)
    assert not result.passed and "'left'" in result.reason and "not met" in result.reason


def _bent_print_fails_for_its_shape(pixels, face, bend, session=SESSION, fps=clips.FPS) -> None:
    """A bent print turned like a head meets every pose and is refused for its depth: no
    turn shows more relief than a ruled sheet explains. Read with the 5 landmarks, which a
    bent print fools into every pose, so that the depth check is what refuses it; the check's
    own poses (the face mesh) refuse it too, for whatever comes first."""
    frames = clips.bent_print_frames(pixels, session, bend, fps)
    assert not _verify(frames, face, session).passed
    result = _verify(frames, face, session, poses=LandmarkPoses())
    assert not result.passed and "moved the face like a" in result.reason, result.reason
    turns = [e for e in result.transcript if e["challenge"] in ("left", "right")]
    assert len(turns) == 2 and all(e["met"] for e in result.transcript)  # every pose was met
    assert all(abs(e["yaw"]) >= THRESHOLDS.turn_degrees for e in turns)
    assert max(e["relief_px"] for e in turns) < THRESHOLDS.relief_min_px


def test_a_print_bent_round_a_cylinder_fails_for_its_shape():
    """Finding 1 of the liveness issue: a print wrapped round a bottle half a face width in
    radius, turned like a head about an axis a face width behind it, held close enough
    that its face is read wide enough to be judged (bent, it reads a tenth narrower)."""
    pixels, face = clips.enrolment_sized(astronaut(), backend(), 220)
    width = face.box[2] - face.box[0]
    centre = (face.box[0] + face.box[2]) / 2
    _bent_print_fails_for_its_shape(
        pixels,
        face,
        lambda im, turn: clips.cylinder_print(im, 0.5 * width, turn, width, centre),
    )


@pytest.mark.slow  # 11 s; `make test-all`
def test_a_print_folded_down_the_middle_fails_for_its_shape(faces_dev):
    """A print folded to 100 degrees down the middle of the face and turned about the fold,
    made as an attacker would: at 0.8 of its height, so that folded it still reads as level
    at the start, and held close (folding narrows the face)."""
    photo = Image.open(faces_dev / "people/barack_obama/1.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 260)
    fold = (face.box[0] + face.box[2]) / 2
    print_ = clips.squashed(pixels, 0.8)
    _bent_print_fails_for_its_shape(
        pixels, face, lambda _im, turn: clips.folded_print(print_, 100, turn, fold)
    )


@pytest.mark.slow  # 7 s; `make test-all`
def test_a_fold_whose_tracks_slide_along_hair_fails_for_its_shape(faces_dev):
    """A print folded to 120 degrees, turned right: in this session (benchmarks/liveness.py,
    seed 17) three tracks slid 18 px up the hair beside the chin, which turned the plain
    principal direction of the parallax 45 degrees off the epipole's and showed the fold
    0.97 px of relief, past the threshold, under liveness-7 (its left turn refused the clip
    then). Liveness-8 fits that direction robustly, and this first turn fails. Held close
    since liveness-11, as the fold narrows the face below the smallest a session takes."""
    photo = Image.open(faces_dev / "people/rose_leslie/2.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 220)
    fold = (face.box[0] + face.box[2]) / 2
    kinds = [("right", 2.4, 4.0), ("left", 4.0, 6.8), ("centre", 6.8, 8.0)]
    session = ChallengeSession("seed-17", datetime(2026, 1, 1), tuple(Challenge(*k) for k in kinds))
    _bent_print_fails_for_its_shape(
        pixels, face, lambda im, turn: clips.folded_print(im, 120, turn, fold), session, fps=15
    )


def test_a_small_honest_turn_is_read_along_the_turn_not_the_noise(faces_dev):
    """Turns of 10 and 11 degrees of the generic head of ``joe_biden/2`` (faces 180 px,
    sensor noise and H.264): fitted to the parallax alone, the direction depth is read
    along went near vertical on these two frames, and their relief read 0.19 and 0.22 px,
    under the bar; an honest session of this head was refused so (liveness-15,
    ``benchmarks/liveness.py --head generic --seed 50``). The frames' poses say the head
    turned (``depth.motion_directions``), and read along the turn they show 0.52 px."""
    photo = Image.open(faces_dev / "people/joe_biden/2.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 180)
    render = heads.HEADS["generic"](pixels, face.landmarks)
    neutral = render(0.0, 0.0)
    [seen] = backend().analyze(neutral)
    region = FaceRegion.around(seen.box, neutral.shape)
    face_box = region.box_in(headpose.MeshPoses().read(neutral, seen).box)
    for sign, measured in ((1, 10.0), (-1, 11.0)):
        # A still half second, then a turn through 8 to 12 degrees a degree a frame.
        angles = [8.0, 9.0, 10.0, 11.0, 12.0]
        frames = [neutral] * 8 + [render(sign * a, 0.0) for a in angles]
        camera = Camera(noise=3.0, h264_crf=28, seed=1)
        shot = [image for _, image in camera.shoot((i / 15, f) for i, f in enumerate(frames))]
        start, turned = shot[4], shot[8 + angles.index(measured)]
        poses = [
            estimate_head_pose(backend().analyze(image)[0].landmarks, image.shape[1::-1])
            for image in (start, turned)
        ]
        _, relief = turn_depth(
            region.crop(start), region.crop(turned), face_box, motion_directions(*poses)
        )
        assert relief >= THRESHOLDS.relief_min_px, (sign * measured, relief)


def test_a_turns_relief_does_not_depend_on_where_the_detectors_box_fell(faces_dev):
    """Depth is measured in an oval inside the neutral frame's face box, which keeps the
    outline out (``depth.FACE_OVAL``). Up to liveness-21 that box was HOG's, which comes in
    steps of its pyramid: a step changes its size by 1.2 and moves its centre by up to a
    tenth of the face's width, and the oval took in more or less of the outline with it.
    The honest generic head of ``john_lennon/1`` (180 px) turned 14 degrees read 0.49 to
    1.35 px of relief in five such boxes of one frame; its six live sessions read depth
    figures from 1.07 to 1.30 under liveness-21, and from 1.23 to 1.60 measured in the box
    the face mesh's fit gives (``HeadReading.box``, liveness-22; ``benchmarks/liveness.py
    --live --head generic --seed 50``). In that box the relief moves only as much as a box
    a pixel or two wider or moved moves it (``test_a_turns_relief_does_not_depend_on_which_
    corners_the_grid_picks``), whichever box the detector gave: under liveness-25, 0.43 to
    1.19 px in the detector's five boxes, 0.50 to 0.68 in the boxes read from them (192 to
    194 px wide)."""
    from dataclasses import replace

    photo = Image.open(faces_dev / "people/john_lennon/1.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 180)
    render = heads.HEADS["generic"](pixels, face.landmarks)
    camera = Camera(noise=3.0, jpeg=90, seed=1)
    neutral, turned = (
        image for _, image in camera.shoot([(0.0, render(0.0, 0.0)), (0.1, render(14.0, 0.0))])
    )
    [seen] = backend().locate(neutral)
    [seen_turned] = backend().locate(turned)
    poses = headpose.MeshPoses()
    turned_pose = poses.read(turned, seen_turned).pose
    region = FaceRegion.around(seen.box, neutral.shape)
    start, end = region.crop(neutral), region.crop(turned)
    steps = (
        (1.0, 0.0, 0.0),
        (1 / 1.2, 0.05, 0.03),
        (1.2, -0.05, -0.03),
        (1 / 1.2, -0.05, 0.03),
        (1.2, 0.05, -0.03),
    )
    in_detector_box, in_read_box, read_boxes = [], [], []
    for stepped in clips.stepped_boxes(seen.box, steps):
        box = tuple(round(v) for v in stepped)
        reading = poses.read(neutral, replace(seen, box=box))
        read_boxes.append(reading.box)
        expected = motion_directions(reading.pose, turned_pose)
        in_detector_box.append(turn_depth(start, end, region.box_in(box), expected)[1])
        in_read_box.append(turn_depth(start, end, region.box_in(reading.box), expected)[1])
    assert np.ptp(in_detector_box) > 0.3, in_detector_box  # the premise: the steps matter
    assert np.ptp(read_boxes, axis=0).max() <= 2, read_boxes
    assert np.ptp(in_read_box) < np.ptp(in_detector_box) / 3, (in_read_box, in_detector_box)
    assert min(in_read_box) >= THRESHOLDS.relief_min_px, in_read_box


def _turned_pair(faces_dev, name: str, head: str, yaw: float, roll: float = 0.0, tilt: float = 0.0):
    """The neutral and turned frames (face regions) of a synthetic ``head`` of a faces-dev
    photo (180 px), the turned one also rolled ``roll`` degrees about the face (anticlockwise
    in the image) or the head tilted ``tilt`` degrees in 3D (``clips.rotation``), shot
    through noise 3 + JPEG 90; and the depth measure's box, motion directions and roll
    between them, as a session reads them (``verdict._Judging._depth``)."""

    photo = Image.open(faces_dev / f"people/{name}.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 180)
    render = heads.HEADS[head](pixels, face.landmarks)
    level, turned = render(0.0, 0.0), render(yaw, 0.0, roll=tilt)
    [seen] = backend().locate(level)
    # Turning an image about the face by ``roll`` is what undoing a roll does.
    turned = depth.rolled_back(turned, seen.box, roll)
    camera = Camera(noise=3.0, jpeg=90, seed=1)
    neutral, turned = (image for _, image in camera.shoot([(0.0, level), (0.1, turned)]))
    poses = headpose.MeshPoses()
    [seen] = backend().locate(neutral)
    [seen_turned] = backend().locate(turned)
    start, end = poses.read(neutral, seen), poses.read(turned, seen_turned)
    region = FaceRegion.around(seen.box, neutral.shape)
    return (
        region.crop(neutral),
        region.crop(turned),
        region.box_in(start.box),
        motion_directions(start.pose, end.pose),
        end.pose.roll - start.pose.roll,
    )


def test_a_turns_relief_does_not_depend_on_which_corners_the_grid_picks(faces_dev, monkeypatch):
    """Which corners ``depth.track_points`` picks moves with the box by a pixel or two, and
    with them one tracking's relief: ``john_lennon/1``'s generic head, whose six live
    sessions read depth figures of 1.23 to 1.60 in their box under liveness-22, read 1.25 to
    1.85 in the same box moved 2 px. Since liveness-23 a pair's relief is the median of five
    trackings (``depth.BOX_SHIFT``), and that head's six sessions read 1.48 to 1.65 live.
    Over boxes moved up to 2 px it spread less than half as much as one tracking in the box
    read under liveness-24 (0.031 px against 0.078), but in the box read under liveness-25,
    one pixel wider, 0.087 against 0.127: so the boxes are 2 px wider or narrower too, 27 in
    all, over which five trackings spread 0.098 px and one 0.153."""
    start, end, box, expected, roll = _turned_pair(faces_dev, "john_lennon/1", "generic", 14.0)
    x0, y0, x1, y1 = box
    moved = [
        (x0 + i, y0 + j, x1 + i + w, y1 + j + w)
        for i in (-2, 0, 2)
        for j in (-2, 0, 2)
        for w in (-2, 0, 2)
    ]

    def reliefs() -> list[float]:
        return [turn_depth(start, end, b, expected, roll)[1] for b in moved]

    five = reliefs()
    monkeypatch.setattr(depth, "BOX_SHIFTS", ((0, 0),))
    one = reliefs()
    assert np.std(one) > 0.06, one  # the premise: one tracking's relief moves with its box
    assert np.std(five) < 0.75 * np.std(one), (five, one)
    assert min(five) >= THRESHOLDS.relief_min_px, five


def test_a_head_tilted_sideways_as_it_turns_shows_its_depth(faces_dev):
    """A person who tilts their head as they turn it (a public recording's did, by some 20
    degrees, ``benchmarks/liveness_real_clip.py``) turns the face in the image, and the first
    tracking's square windows do not follow a rotation: the canonical head of
    ``barack_obama/1`` turned 14 degrees and tilted 25 read 0.11 px of relief, level 0.95.
    Since liveness-24 the turned frame is turned back by the roll the poses read
    (``depth.rolled_back``) before tracking, and shows the head's depth."""
    start, end, box, expected, roll = _turned_pair(
        faces_dev, "barack_obama/1", "canonical", 14.0, roll=25.0
    )
    assert roll < -depth.ROLL_UNDONE_DEGREES  # anticlockwise in the image: a negative roll
    assert turn_depth(start, end, box, expected)[1] < THRESHOLDS.relief_min_px  # the premise
    assert turn_depth(start, end, box, expected, roll)[1] >= 2 * THRESHOLDS.relief_min_px


def test_a_head_rolled_in_3d_as_it_turns_shows_its_depth(faces_dev):
    """The head itself tilted, not the frame: ``barack_obama/1``'s canonical head turned 14
    degrees to the image left and tilted 20 degrees anticlockwise about its own forward axis
    (``clips.rotation``), so the face keeps its parallax as a real head's does. The poses read
    about 18 degrees of roll; without turning the frame back the relief is under the bar,
    with it as much as the level turn's."""
    start, end, box, expected, roll = _turned_pair(
        faces_dev, "barack_obama/1", "canonical", -14.0, tilt=-20.0
    )
    assert roll < -depth.ROLL_UNDONE_DEGREES, roll  # the poses read the head's own roll
    assert turn_depth(start, end, box, expected)[1] < THRESHOLDS.relief_min_px  # the premise
    assert turn_depth(start, end, box, expected, roll)[1] >= 2 * THRESHOLDS.relief_min_px


@pytest.mark.slow  # 10 s; `make test-all`
def test_a_print_cut_out_and_folded_reads_as_a_sheet_at_every_angle(faces_dev):
    """The face cut out of a print along its outline, folded at 120 degrees and held in front
    of the scene (faces 250 px wide), turned 10 to 30 degrees either way. Past about 16
    degrees its far half is seen nearly edge-on, with its cut edge moving against the scene
    behind it: liveness-13 measured a turn's frames up to its peak, and this print's turns of
    30 degrees (``benchmarks/liveness_depth.py --sizes 250``) passed its depth check;
    liveness-14 to 16 measured only the frames from 10 to 16 degrees (``reader.depth_band``)
    and still read single frames past them as a head's (at least 0.60 px, the bar one turn
    must reach alone). Since liveness-17 (``depth``, step 1: windows warped by their
    neighbourhood's motion, and the parts of the face a turn squeezes edge-on left out) every
    angle reads as a bent sheet, well under the bar a session's frames must reach."""
    photo = Image.open(faces_dev / "people/barack_obama/5.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 250)
    bend = clips.cut_out_fold(pixels, face)

    def cut_out_fold(turn: float) -> np.ndarray:
        return bend(pixels, turn)

    neutral = cut_out_fold(0.0)
    [seen] = backend().analyze(neutral)
    region = FaceRegion.around(seen.box, neutral.shape)
    start, face_box = (
        region.crop(neutral),
        region.box_in(headpose.MeshPoses().read(neutral, seen).box),
    )
    every = (10.0, 14.0, 18.0, 22.0, 26.0, 30.0)
    reliefs = {
        sign * a: turn_depth(start, region.crop(cut_out_fold(sign * a)), face_box)[1]
        for a in every
        for sign in (-1, 1)
    }
    assert [a for a in every if depth_band(a, THRESHOLDS) != BEYOND] == [10.0, 14.0]
    assert max(reliefs.values()) < THRESHOLDS.relief_min_px, reliefs


def test_depth_is_measured_from_the_turn_threshold_to_the_depth_ranges_end():
    """Bands of ``TURN_BIN_DEGREES`` either way from the turn threshold; past the range's
    end one band, whose first frame is measured only when a turn has none inside it (a head
    swung past the range between two frames)."""
    th = THRESHOLDS
    assert depth_band(th.turn_degrees, th) == depth_band(-th.turn_degrees, th) == 0
    assert depth_band(-(th.turn_degrees + TURN_BIN_DEGREES + 0.1), th) == 1
    assert depth_band(th.depth_max_degrees - 0.1, th) != BEYOND
    assert depth_band(th.depth_max_degrees, th) == depth_band(-40.0, th) == BEYOND

    def frame(t: float) -> Frame:
        return Frame(t, (0, 0, 1, 1), HeadPose(0.0, 0.0, 0.0), np.zeros(2), 180.0, (0, 0, 1, 1))

    reading = Reading((Challenge("left", 1.0, 3.0),), mirrored=False)
    past, out, back = frame(1.5), frame(1.4), frame(3.2)
    reading.turned[0] = {(False, BEYOND): past}
    assert reading.depth_frames(0) == [past]
    reading.turned[0].update({(True, 1): back, (False, 2): out})
    assert reading.depth_frames(0) == [out, back]


def _measured_in_depth_range(transcript) -> None:
    """Every frame a turn's depth was measured on was turned between the turn threshold and
    the depth range's end, and some were taken on the way back, after the window closed."""
    turns = [e for e in transcript if "depth_frames" in e]
    assert turns
    yaws = [abs(yaw) for e in turns for _, yaw in e["depth_frames"]]
    # The transcript rounds to 0.1 degree: a frame turned 15.96 degrees reads 16.0.
    low, high = THRESHOLDS.turn_degrees - 0.05, THRESHOLDS.depth_max_degrees + 0.05
    assert all(low <= y < high for y in yaws), turns
    assert any(t > e["window"][1] for e in turns for t, _ in e["depth_frames"]), turns


#: A head model for each way an honest head differs from the one the check was designed
#: beside (``likeness.testing.heads``); the others run with ``-m slow``.
HEAD_MODELS = [
    pytest.param("generic", marks=pytest.mark.slow),  # as test_honest_clips_pass's heads
    pytest.param("canonical", marks=pytest.mark.slow),
    "ellipsoid",  # the hardest: a smooth head with only a nose
    *(pytest.param(name, marks=pytest.mark.slow) for name in heads.HEADS if "+" in name),
]


@pytest.mark.parametrize("model", HEAD_MODELS)
def test_an_honest_clip_of_each_head_model_passes_with_the_margin(faces_dev, model):
    """Head turns clear the depth-shape threshold by the stated margin (1.3 times) on every
    head model, not only the generic head the check grew up with. Each head is sized so that
    the check reads its face 180 px wide, as ``benchmarks/liveness.py`` sizes them (glasses
    drawn on the photo sized alone read 174 px, under the size bar)."""
    photo = Image.open(faces_dev / "people/barack_obama/1.jpg")
    head = heads.HEADS[model]
    pixels, face, _ = clips.sized_as_read(photo, video_frame_backend(), head, 0.0, 180)
    render = head(pixels, face.landmarks)
    [reference] = backend().analyze(render(0.0, 0.0))  # the person as the head shows them
    result = _verify(clips.timeline(SESSION, clips.POSES, render), reference)
    assert result.passed, result.reason
    assert clip_relief(result.transcript) >= 1.3 * THRESHOLDS.relief_min_px, result.transcript
    _measured_in_depth_range(result.transcript)


@pytest.mark.slow
def test_an_honest_clip_through_noise_and_h264_passes(people):
    """A phone's recording: sensor noise on every frame, then H.264 at CRF 28."""
    pixels, face = people["astronaut"]
    render = heads.HEADS["canonical"](pixels, face.landmarks)
    camera = Camera(noise=3.0, h264_crf=28)
    frames = camera.shoot(clips.timeline(SESSION, clips.POSES, render, fps=15))
    result = _verify(frames, face)
    assert result.passed, result.reason
    assert clip_relief(result.transcript) >= 1.3 * THRESHOLDS.relief_min_px, result.transcript


def test_a_print_cut_out_along_the_face_fails_for_its_shape(faces_dev):
    """The face cut out of a print bent round a bottle and held in front of the scene: its
    edge moves against the background inside the face box, as a head's outline does. Depth
    is read inside the face's oval only, where the print is a bent sheet. Held close, as the
    bend narrows the face."""
    photo = Image.open(faces_dev / "people/barack_obama/1.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 210)
    width = face.box[2] - face.box[0]
    centre = (face.box[0] + face.box[2]) / 2

    def cut_out_bottle(image, turn):
        def bottle(im, t):
            return clips.cylinder_print(im, 0.7 * width, t, width, centre)

        return clips.cut_out(image, face.box, bottle, turn)

    # Turns only: a cut-out tilted back for "up" would tilt the scene behind it too.
    session = fixed_session("turns", "left", "right")
    _bent_print_fails_for_its_shape(pixels, face, cut_out_bottle, session)


@pytest.mark.slow  # 25 s; `make test-all`
def test_a_cut_out_fold_printed_short_and_held_close_is_refused(faces_dev):
    """The face cut out of a print made 0.8 of its height (so that folded it reads level),
    folded at 120 degrees down the middle, held in front of the scene as close as a session
    takes it (its face read 180 px wide), and turned on a session of turns only. The session
    is the one `benchmarks/liveness.py --cases "cut-out V-fold 120, short" --sessions 3
    --seed 60` drew for `barack_obama/1`, whose clip passed liveness-16 (1 of 54): its turns'
    frames read 10 to 16 degrees of yaw while the print turns 30, and the fold's far half,
    seen nearly edge-on there, read 0.2 to 1.0 px of relief. Refused for its shape since
    liveness-17 (``depth``, step 1: windows warped by their neighbourhood's motion, and the
    parts of the face seen edge-on left out), every pose met. The 5 landmarks read its first
    right turn past the bar of 10 degrees for two frames only, 10.1 and 12.0 subtracting
    angles (up to liveness-25); in the neutral head's frame (liveness-26) the first reads
    just under 10, a frame short of the hold, and the fold is refused for its pose. The
    turns' bar is lowered a degree here so that the poses are met and the depth check
    refuses it. The bar also starts the depth bands (``reader.depth_band``), so depth is
    measured here from 9 degrees of turn, not 10: frames the check would not measure may
    join, and a cut-out's relief rises with the angle, so they make it read flatter."""
    photo = Image.open(faces_dev / "people/barack_obama/1.jpg")
    pixels, face = clips.enrolment_sized(photo, backend(), 180)

    def short_cut_out(pixels, face):
        return clips.cut_out_fold(pixels, face, height=0.8)

    pixels, face = clips.print_sized_as_read(pixels, face, short_cut_out, backend(), 180)
    windows = [
        ("left", 1.1, 2.7),
        ("centre", 2.7, 3.9),
        ("right", 3.9, 6.6),
        ("centre", 6.6, 8.5),
        ("left", 8.5, 10.5),
        ("centre", 10.5, 11.9),
        ("right", 11.9, 14.0),
        ("centre", 14.0, 15.4),
    ]
    challenges = tuple(Challenge(*w) for w in windows)
    session = ChallengeSession("seed-60", datetime(2026, 1, 1), challenges)
    frames = clips.bent_print_frames(pixels, session, short_cut_out(pixels, face), fps=15)
    shot = list(Camera(noise=3.0, h264_crf=28).shoot(frames))
    # The face mesh reads the fold's turn short of a head's: refused before depth is read.
    assert not _verify(shot, face, session).passed
    # The 5 landmarks read every pose met (as up to liveness-17): its depth refuses it.
    lower = replace(THRESHOLDS, turn_degrees=THRESHOLDS.turn_degrees - 1)
    result = _verify(shot, face, session, poses=LandmarkPoses(), thresholds=lower)
    assert not result.passed and "moved the face like a" in result.reason, result.reason
    assert all(e["met"] for e in result.transcript)


def test_a_photo_tilted_in_the_image_plane_does_not_read_as_a_turn(people):
    import cv2

    pixels, face = people["astronaut"]
    h, w = pixels.shape[:2]
    base = estimate_head_pose(face.landmarks, (w, h))
    for angle in (-20, 20):
        tilted = cv2.warpAffine(pixels, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), (w, h))
        [f] = backend().analyze(tilted)
        pose = estimate_head_pose(f.landmarks, (w, h))
        assert abs(pose.yaw - base.yaw) < 6 and abs(pose.roll - base.roll) > 15


@pytest.mark.slow  # 9 s; `make test-all`
def test_a_replay_of_another_sessions_order_fails(people):
    pixels, face = people["astronaut"]
    earlier = fixed_session("earlier", "right", "left", "up")
    result = _verify(clips.honest_frames(pixels, face.landmarks, earlier), face)
    assert not result.passed and "not met in its window" in result.reason


@pytest.mark.slow  # 17 s; `make test-all`
def test_a_replay_with_the_same_order_but_its_own_timing_fails(people):
    pixels, face = people["astronaut"]
    # The same sequence as SESSION on an earlier session's clock: caught once its poses come
    # about 0.75 s early or 0.65 s late (a live person reacts to each prompt, then moves on).
    for shift in (-1.0, 0.9):
        earlier = ChallengeSession(
            "earlier",
            datetime(2026, 1, 1),
            tuple(Challenge(c.kind, c.start + shift, c.end + shift) for c in SESSION.challenges),
        )
        result = _verify(clips.honest_frames(pixels, face.landmarks, earlier), face)
        assert not result.passed and "does not follow this session's timing" in result.reason


def test_a_start_turned_or_tilted_back_is_refused_with_an_instruction():
    assert "look straight" in neutral_pose_problem(HeadPose(18.0, 0.0, 0.0))
    assert "tilted back" in neutral_pose_problem(HeadPose(0.0, 24.0, 0.0))
    assert neutral_pose_problem(HeadPose(-8.0, 12.0, 3.0)) is None
    # Read as seen from above: not refused (eye-level faces of long proportions read so).
    assert neutral_pose_problem(HeadPose(0.0, -25.0, 0.0)) is None


def _portrait(faces_dev, name: str):
    from PIL import Image

    image = Image.open(faces_dev / "people" / name).convert("RGB")
    image = image.resize((640, round(image.height * 640 / image.width)))
    [face] = backend().analyze(np.asarray(image))
    return face.landmarks, image.size


def test_an_eye_level_start_is_judged_against_the_persons_own_photos(faces_dev):
    """John Lennon's eye-level portrait reads as seen from 15 degrees above against the generic
    face (his nose sits low below his eyes); read with his own nose drop, from his other
    photo, it reads about 5 degrees higher (-10, at the edge of what the reasons call seen
    from above: -9.4 with whole-pixel landmarks, -10.3 with the video backend's finer ones)."""
    landmarks, size = _portrait(faces_dev, "john_lennon/1.jpg")
    generic = estimate_head_pose(landmarks, size).pitch
    assert generic < THRESHOLDS.from_above_pitch
    calibration = PoseCalibration.from_faces([_portrait(faces_dev, "john_lennon/2.jpg")])
    assert calibration is not None and calibration.faces == 1
    assert calibration.drop > GENERIC_NOSE_DROP + 0.05
    own = read_pose(landmarks, size, calibration).pitch
    assert own > THRESHOLDS.from_above_pitch - 1 and own > generic + 4


def test_looking_up_reads_as_up_for_a_face_of_long_proportions(faces_dev):
    """Finding of the liveness issue: against the generic face, John Lennon looking up 22
    degrees read as 0.4 degrees up (his nose drop lies past the generic face's largest, where
    the fit hardly follows a tilt), so he could never meet "look up". Read with his own nose
    drop (from his other photo), the same renders read as looking up."""
    pixels, face = clips.prepared(Image.open(faces_dev / "people/john_lennon/1.jpg"))
    h, w = pixels.shape[:2]
    calibration = PoseCalibration.from_faces([_portrait(faces_dev, "john_lennon/2.jpg")])
    base = read_pose(face.landmarks, (w, h), calibration)
    generic_base = estimate_head_pose(face.landmarks, (w, h))
    for up in (16.0, 22.0):
        [seen] = backend().analyze(clips.render_pose(pixels, face.landmarks, 0.0, up))
        pitch = read_pose(seen.landmarks, (w, h), calibration).pitch - base.pitch
        assert pitch >= THRESHOLDS.tilt_degrees + 2, (up, pitch)
        generic = estimate_head_pose(seen.landmarks, (w, h)).pitch - generic_base.pitch
        assert generic < pitch


@pytest.mark.slow  # 11 s; `make test-all`
def test_a_clip_that_starts_seen_from_above_is_judged_from_its_own_start(people):
    """No start is refused for reading as seen from above (eye-level faces of long
    proportions read so): every pose is judged from the clip's own neutral pose, so a person
    whose camera is a little above them passes by following the prompts."""
    pixels, face = people["astronaut"]
    frames = clips.honest_frames(pixels, face.landmarks, SESSION, start=(0.0, -10.0))
    [first] = backend().analyze(frames[0][1])
    h, w = pixels.shape[:2]
    assert read_pose(first.landmarks, (w, h), None).pitch < THRESHOLDS.from_above_pitch
    result = _verify(frames, face)
    assert result.passed, result.reason
    assert (
        next(e for e in result.transcript if e["challenge"] == "up")["pitch"]
        >= THRESHOLDS.tilt_degrees
    )


@pytest.mark.slow  # 13 s; `make test-all`
def test_a_clip_from_above_that_misses_a_challenge_says_why(people):
    """From a camera above the face, head turns read poorly in 5 landmarks: a challenge not
    met says to hold the camera at eye level; from eye level the same small turn is only
    "not met"."""
    pixels, face = people["astronaut"]
    small_left = {**clips.POSES, "left": (-5.0, 0.0)}
    from_above = clips.honest_frames(pixels, face.landmarks, SESSION, small_left, start=(0, -10))
    result = _verify(from_above, face)
    assert not result.passed and "'left'" in result.reason and "not met" in result.reason
    assert "seen from above" in result.reason and "eye level" in result.reason
    level = _verify(clips.honest_frames(pixels, face.landmarks, SESSION, small_left), face)
    assert not level.passed and "'left'" in level.reason and "not met" in level.reason
    assert "seen from above" not in level.reason


def test_calibration_uses_only_faces_that_face_the_camera(people, monkeypatch):

    pixels, face = people["astronaut"]
    h, w = pixels.shape[:2]
    [side] = backend().analyze(clips.render_pose(pixels, face.landmarks, 22.0, 0.0))
    assert abs(estimate_head_pose(side.landmarks, (w, h)).yaw) > 15  # reads about 19
    monkeypatch.setattr(headpose, "CALIBRATION_MAX_YAW", 15.0)
    faces = [(face.landmarks, (w, h)), (side.landmarks, (w, h))]
    calibration = PoseCalibration.from_faces(faces)
    assert calibration is not None and calibration.faces == 1
    assert PoseCalibration.from_faces(faces[1:]) is None


@pytest.mark.slow  # 11 s; `make test-all`
def test_one_odd_frontal_frame_is_not_a_changed_face(people):
    """A frontal frame whose embedding is off (here, at its worst, another person's face for
    one frame) is a glitch, not a swap: a swapped face stays (``Thresholds.changed_frames``)."""
    a, b = people["astronaut"], people["obama"]
    frames = clips.honest_frames(a[0], a[1].landmarks, SESSION)
    odd = dict(clips.swapped_frames((a[0], a[1].landmarks), (b[0], b[1].landmarks), SESSION, 0.0))
    frames[5] = (frames[5][0], odd[frames[5][0]])  # in the lead-in, facing the camera
    result = _verify(frames, a[1])
    assert "face changed" not in result.reason, result.reason


def test_a_face_swapped_mid_clip_fails(people):
    a, b = people["astronaut"], people["obama"]
    # His photo reads about 9 degrees further up than hers, past the centre's bound: the
    # attacker lines his face up with hers, as a face-swapping tool does.
    frames = clips.swapped_frames(
        (a[0], a[1].landmarks), (b[0], b[1].landmarks), SESSION, 4.0, second_start=(0.0, -9.0)
    )
    result = _verify(frames, a[1])
    assert not result.passed and "face changed" in result.reason
    assert result.face_spread is not None and result.face_spread > backend().distances.same_face


class _Embeds:
    """The check's backend, counting the faces it embeds."""

    def __init__(self):
        self.inner, self.embedded = backend(), 0
        self.name, self.embedding_dim = self.inner.name, self.inner.embedding_dim
        self.distances, self.locate = self.inner.distances, self.inner.locate

    def embed_located(self, located):
        self.embedded += len(located)
        return self.inner.embed_located(located)

    def analyze(self, image):
        raise AssertionError("a backend that can locate is asked to locate")


def test_only_frames_that_may_face_the_camera_are_embedded(people):
    """The embedding network is close to half of a frame's cost, and only frames facing the
    camera are compared (``ClipReader.may_face_camera``): a head's turns and look up go unembedded.
    A frame the verdict compares without an embedding would stop it (``verdict.judge``); a
    face swapped in is still seen (``test_a_face_swapped_mid_clip_fails``)."""
    pixels, face = people["astronaut"]
    session = fixed_session("embeds", "left", "up")
    frames = clips.honest_frames(pixels, face.landmarks, session, fps=10)
    counted = _Embeds()
    result = verify_clip(
        frames, session, counted, PhotoGroup.of_embeddings(face.embedding, counted), None
    )
    assert result.passed, result.reason
    assert result.match_distance < backend().distances.same_person
    assert counted.embedded < 0.7 * len(frames), (counted.embedded, len(frames))


def test_a_clip_where_no_frame_faces_the_camera_is_refused_not_an_error():
    """Found in review: a lead-in jittering 8 degrees either side of its median reads a
    neutral pose that no frame is within 6 degrees of, and a head that then never meets a
    centre leaves the same-face check nothing to compare (it raised on an empty stack)."""
    session = fixed_session("jitter", "left")
    clip = ClipReader(session, backend(), None, None, THRESHOLDS)
    for i in range(50):  # 10 frames a second; the lead-in is the first second
        t = i / 10
        yaw = (-8.0 if i % 2 else 8.0) if t < 1.0 else -15.0
        region = np.zeros((8, 8), np.uint8) if t < 1.0 else None
        clip.seen.append(
            Frame(
                t,
                (0, 0, 200, 200),
                HeadPose(yaw, 0.0, 0.0),
                np.zeros(128),
                200.0,
                (0, 0, 200, 200),
                region,
            )
        )
        clip.times.append(t)
    clip.total = len(clip.seen)
    clip._settle_neutral()
    assert clip.neutral is not None and clip.neutral.yaw == 0.0
    result = judge(clip, PhotoGroup.of_embeddings(np.zeros(128, np.float32), backend()))
    assert not result.passed and "no frame faced the camera" in result.reason


@pytest.mark.slow  # 8 s; `make test-all`
def test_a_different_person_fails_the_match(people):
    pixels, face = people["obama"]
    result = _verify(clips.honest_frames(pixels, face.landmarks, SESSION), people["astronaut"][1])
    assert not result.passed and "does not match" in result.reason


def test_sessions_are_fresh_and_always_include_a_turn():
    sessions = [new_session() for _ in range(30)]
    # 160 sequences (turn orders and where the pauses fall): 30 draws give about 27 distinct.
    assert len({tuple(c.kind for c in s.challenges) for s in sessions}) >= 15
    pauses = 0
    for s in sessions:
        kinds = [c.kind for c in s.challenges]
        turns = [k for k in kinds if k != "centre"]
        assert kinds[-1] == "centre" and {"left", "right"} <= set(turns) and len(turns) == 4
        assert kinds[0] != "centre" and all(a != b for a, b in itertools.pairwise(turns))
        assert all(a != b for a, b in itertools.pairwise(kinds))  # a pause sits between turns
        pauses += len(kinds) - len(turns) - 1
        assert all(
            a.end == b.start for a, b in zip(s.challenges[:-1], s.challenges[1:], strict=True)
        )
    assert 0 < pauses < 3 * len(sessions)  # some sessions pause between turns, not all always


@pytest.mark.slow  # 19 s; `make test-all`
def test_a_mirrored_recording_of_the_whole_sequence_passes(people):
    """Whether a phone saves its front camera's video mirrored is not known in advance: the
    same honest clip, mirrored, turns right where the session said left throughout."""
    pixels, face = people["astronaut"]
    frames = [
        (t, np.ascontiguousarray(f[:, ::-1]))
        for t, f in clips.honest_frames(pixels, face.landmarks, SESSION)
    ]
    result = _verify(frames, face)
    assert result.passed, result.reason
    turns = [e for e in result.transcript if e["challenge"] in ("left", "right")]
    assert all(e["reading"] == "mirrored" for e in turns)
    assert [e["challenge"] for e in turns] == ["left", "right"]  # named as the session asked


def test_one_turn_the_wrong_way_is_diagnosed_as_such(people):
    pixels, face = people["astronaut"]
    followed = fixed_session("fixed", "right", "up", "right")  # SESSION's first turn mirrored
    result = _verify(clips.honest_frames(pixels, face.landmarks, followed), face)
    assert not result.passed
    assert "(1.0-3.0s): you turned right when asked to turn left" in result.reason, result.reason


BACK_TO_BACK = fixed_session("back to back", "left", "right", "up")


@pytest.mark.slow  # 10 s; `make test-all`
def test_a_mirrored_clip_with_back_to_back_turns_passes(people):
    """Left then right with no pause: a mirrored clip's head is still on the first turn's
    side as the second window opens, which is the side that window asks for."""
    pixels, face = people["astronaut"]
    mirrored = BACK_TO_BACK.mirrored()
    result = _verify(clips.honest_frames(pixels, face.landmarks, mirrored), face, BACK_TO_BACK)
    assert result.passed, result.reason


@pytest.mark.slow  # 6 s; `make test-all`
def test_a_mirrored_clip_that_fails_is_told_why_not_that_it_turned_the_wrong_way():
    """A print bent round a bottle, turned the mirrored way throughout: refused for its depth,
    and never told it turned left when asked to turn right (it followed the mirrored reading
    every time). Before, the head still on the first turn's side at the second window's
    opening counted as a turn the way it was asked, and the clip was told it turned one way
    here and the other there. Held close, as the bend narrows the face."""
    pixels, face = clips.enrolment_sized(astronaut(), backend(), 220)
    width = face.box[2] - face.box[0]
    centre = (face.box[0] + face.box[2]) / 2

    def bottle(image, turn):
        return clips.cylinder_print(image, 0.7 * width, turn, width, centre)

    frames = clips.bent_print_frames(pixels, BACK_TO_BACK.mirrored(), bottle)
    result = _verify(frames, face, BACK_TO_BACK)
    assert not result.passed
    assert "when asked to turn" not in result.reason, result.reason
    assert "read as a mirrored recording" in result.reason, result.reason


def test_prompts_name_the_persons_own_side():
    text = " ".join(SESSION.instructions())
    assert "your own left" in text and "your own right" in text
    assert [c.kind for c in SESSION.mirrored().challenges] == ["right", "up", "left", "centre"]
