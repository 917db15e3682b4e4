"""Head pose (yaw, pitch, roll in degrees) from the 5 dlib landmarks and a generic 3D face.

The pose comes from solvePnP of the landmarks against a 3D model, not from 2D asymmetry: a
turning head moves the nose base (in front of the eye corners) relative to the eyes, which a
photo turned or tilted in the image plane does not (it has no depth), so a tilted photo cannot
pass for a turned head.

Model units: the distance between the outer eye corners is 1 (about 90 mm on an adult); x to
the image right, y down, z towards the camera. Depths from average adult anthropometry.

Pitch rests on how far below the eye line the nose base appears, and that proportion (the
nose drop) differs from person to person: 0.47 to 0.68 eye spans on faces-dev portraits. A
face whose drop is larger than the model's reads as seen from above, and past the model's
largest projected drop (sqrt(0.53² + 0.25²) = 0.59, seen 25 degrees from above) the fit
saturates: tilting such a face up barely changes its reading. So the model's nose drop can be
set to the person's own (``level_nose_drop`` of their frontal photos): their eye-level face
then reads level, and their head's tilt moves the reading as it moves a generic face's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np

from likeness.faces.face_mesh import DLIB_FIVE, FaceMesh, canonical_mesh
from likeness.faces.protocol import DetectedFace, LocatedFace

#: dlib 5-point order: outer and inner corner of the eye on the image right, outer and inner
#: corner of the eye on the image left, nose base.
FACE_MODEL_5 = np.array(
    [
        [0.50, 0.0, 0.00],
        [0.18, 0.0, 0.09],
        [-0.50, 0.0, 0.00],
        [-0.18, 0.0, 0.09],
        [0.00, 0.53, 0.25],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class HeadPose:
    yaw: float  # + : the face turns towards the image right (the person's left)
    pitch: float  # + : looking up
    roll: float  # + : head tilted clockwise in the image


@dataclass(frozen=True)
class HeadFit:
    """A face's 3D pose in camera space: the generic face (in OpenCV's head frame, see
    ``OPENCV_MODEL_5``) maps to the camera by ``rvec``/``tvec``, seen through ``camera``."""

    rvec: np.ndarray
    tvec: np.ndarray
    camera: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        """Image pixels of points given in the head frame."""
        import cv2

        pixels, _ = cv2.projectPoints(
            np.asarray(points, dtype=np.float64), self.rvec, self.tvec, self.camera, None
        )
        return pixels.reshape(-1, 2)


#: The generic face's nose drop (below the eye line, in eye spans).
GENERIC_NOSE_DROP = float(FACE_MODEL_5[4, 1])

#: A face's width in outer-eye-corner spans: the median of the HOG detector's box width over
#: the span on faces-dev photos (1.75; 10th to 90th percentile across people 1.60 to 1.90).
FACE_WIDTH_IN_EYE_SPANS = 1.75


def face_width_px(landmarks) -> float:
    """A face's width in pixels from its outer eye corners, on the scale of a detector box.

    Why not the box: the HOG detector scans an image pyramid whose levels are 1.2 times
    apart, so its boxes come in steps, and a face 150 px wide may be boxed at 125 or 150
    (and move between them as it turns). The eye corners are located to a pixel at any size:
    over faces-dev photos scaled from 120 to 260 px, the span follows the scale to within
    1.6 % (5th to 95th percentile) while the box is off by up to 17 %."""
    points = np.asarray(landmarks, dtype=np.float64)
    return FACE_WIDTH_IN_EYE_SPANS * float(np.linalg.norm(points[0] - points[2]))


def eye_line_angle(five) -> float:
    """The angle (degrees, clockwise in the image, as ``HeadPose.roll``) of the line through
    a face's outer eye corners (the first and third of dlib's 5 points, or of 5 points in
    their order)."""
    points = np.asarray(five, dtype=np.float64)
    dx, dy = points[0, :2] - points[2, :2]  # from the eye on the image left to the right one
    return float(np.degrees(np.arctan2(dy, dx)))


#: The model in OpenCV's frame (the camera looks along +z, so the nose has the smaller z).
OPENCV_MODEL_5 = FACE_MODEL_5 * np.array([1.0, 1.0, -1.0])


def opencv_model_5(drop: float = GENERIC_NOSE_DROP) -> np.ndarray:
    """The 5-point model in OpenCV's frame with its nose base ``drop`` eye spans below the
    eye line."""
    model = OPENCV_MODEL_5.copy()
    model[4, 1] = drop
    return model


def pinhole_camera(image_size: tuple[int, int]) -> np.ndarray:
    """A normal lens (focal length the larger side); the pose is insensitive to the exact
    value, and a phone or webcam clip carries no calibration."""
    w, h = image_size
    focal = float(max(w, h))
    return np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], dtype=np.float64)


def fit_head_pose(
    landmarks: tuple[tuple[float, float], ...] | np.ndarray,
    image_size: tuple[int, int],
    drop: float = GENERIC_NOSE_DROP,
    model: np.ndarray | None = None,
) -> HeadFit | None:
    """solvePnP of the 5 landmarks against the generic face (with its nose base ``drop`` eye
    spans below the eyes), or against ``model`` (the 5 points of another head, in OpenCV's
    head frame); None when it does not converge."""
    import cv2

    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    w, h = image_size
    camera = pinhole_camera(image_size)
    focal = camera[0, 0]
    # Start from a frontal face at the distance its eye span implies.
    span = float(np.linalg.norm(points[0] - points[2])) or 1.0
    centre = points[[0, 2]].mean(axis=0)
    z = focal / span
    tvec0 = np.array([(centre[0] - w / 2) * z / focal, (centre[1] - h / 2) * z / focal, z])
    ok, rvec, tvec = cv2.solvePnP(
        opencv_model_5(drop) if model is None else np.asarray(model, dtype=np.float64),
        points,
        camera,
        None,
        np.zeros(3),
        tvec0.reshape(3, 1),
        True,
        cv2.SOLVEPNP_ITERATIVE,
    )
    return HeadFit(rvec, tvec, camera) if ok else None


def estimate_head_pose(
    landmarks: tuple[tuple[float, float], ...] | np.ndarray,
    image_size: tuple[int, int],
    drop: float = GENERIC_NOSE_DROP,
) -> HeadPose:
    """Pose of a face from its 5 landmarks in an image of (width, height) pixels, against the
    generic face or one with the person's own nose ``drop``."""
    import cv2

    fit = fit_head_pose(landmarks, image_size, drop)
    if fit is None:
        return HeadPose(0.0, 0.0, 0.0)
    rot, _ = cv2.Rodrigues(fit.rvec)
    return pose_of_rotation(rot)


def rotation_of_pose(pose: HeadPose) -> np.ndarray:
    """The rotation matrix (OpenCV's head frame to the camera's) whose pose is ``pose``:
    ``pose_of_rotation``'s inverse, R = Ry Rx Rz (yaw + to the image right, pitch + up,
    roll + clockwise in the image, about the face's own forward axis)."""
    a, b, c = np.radians(-pose.yaw), np.radians(-pose.pitch), np.radians(pose.roll)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def pose_of_rotation(rot: np.ndarray) -> HeadPose:
    """The pose of a head whose frame maps to the camera's by the rotation matrix ``rot``,
    read as R = Ry(yaw) Rx(pitch) Rz(roll): yaw and pitch say where the nose points, and the
    roll is about the face's own forward axis, as a neck tilts a head.

    Read the other way round (R = Rz Ry Rx, the roll about the camera's axis, as up to
    liveness-24), a head both turned and tilted reads part of its tilt as looking up or down:
    turned 20 degrees and tilted 20 it read +7 degrees of pitch, at 30 and 30 +16, past the
    look up's threshold, and a person who tilts their head as they turn failed a look up
    they had not yet made (``benchmarks/liveness.py --tilt``). Turned only, or tilted only,
    the two readings agree."""
    # The head frame's axes in the camera's: the nose (-z) points along rot[:, 2] negated.
    yaw = np.degrees(np.arctan2(rot[0, 2], rot[2, 2]))
    pitch = np.degrees(np.arctan2(-rot[1, 2], np.hypot(rot[1, 0], rot[1, 1])))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[1, 1]))
    return HeadPose(float(-yaw), float(-pitch), float(roll))


@cache
def _mesh_rigid_points() -> tuple[np.ndarray, np.ndarray]:
    """The canonical face's points above the mouth (indices, and head-frame coordinates
    about their centroid): what a smile or speech moves (lips, chin, jaw) would read as the
    head moving."""
    v = canonical_mesh().vertices
    # Above the midpoint of the nose base (2) and the top of the upper lip (0).
    index = np.flatnonzero(v[:, 1] < (v[2, 1] + v[0, 1]) / 2)
    return index, v[index] - v[index].mean(axis=0)


def _fit_canonical(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The rotation and scale that map the canonical face above the mouth onto a face mesh's
    points (Umeyama's least squares, the shift taken out by centring both)."""
    index, model = _mesh_rigid_points()
    seen = np.asarray(points, dtype=np.float64)[index]
    seen = seen - seen.mean(axis=0)
    u, s, vt = np.linalg.svd(seen.T @ model)
    signs = np.array([1.0, 1.0, float(np.sign(np.linalg.det(u @ vt)))])
    rotation = u @ np.diag(signs) @ vt
    return rotation, float((s * signs).sum() / (model**2).sum())


def mesh_head_pose(points: np.ndarray) -> HeadPose:
    """Pose of a face from its face mesh (``faces.face_mesh.MeshFace.points``: 468 points in
    3D, x and y in image pixels), fitted against the canonical face above the mouth.

    The fit is a rotation, scale and shift in 3D (Umeyama's least squares), as MediaPipe's
    own face geometry fits its canonical face: the mesh gives every point a depth, so nothing
    has to be guessed from where a few points fall in the image, and no nose drop is needed.
    The image is taken as seen from far (the points' x and y as they are): a face at arm's
    length spans a few degrees of the camera's view."""
    return pose_of_rotation(_fit_canonical(points)[0])


def mesh_face_width(points: np.ndarray) -> float:
    """A face's width in pixels from its face mesh, on ``face_width_px``'s scale: the scale of
    the canonical face fitted to the mesh's points above the mouth (``mesh_head_pose``'s fit),
    times the canonical face's outer eye corners' span and ``FACE_WIDTH_IN_EYE_SPANS``.

    Why not the eye corners: dlib's move onto the rims of glasses, and through sensor noise
    and H.264 they jump between corner and rim from frame to frame. Faces-dev photos (18)
    sized to 180 px by dlib in the photo, rendered on heads wearing glasses: dlib reads them
    -7 to +15 px off the same head without glasses, frame to frame with a standard deviation
    up to 3.3 px, and a noisy H.264 lead-in's median moves up to 7 px from the clean frame.
    The fit to some 300 points: -5 to +5 px off, 0.2 px, and under 1 px (on the canonical
    head without glasses, one photo's frames read with a deviation of 1.6 px and its median
    moved 3.5; liveness-19, the one-off study in the README). It measures the whole upper
    face, not the eyes' spacing: faces 180 px wide by dlib's eye corners read 170 to 192 px
    this way (a mean of 180.3)."""
    return mesh_head_reading(points).width


def mesh_head_reading(points: np.ndarray) -> HeadReading:
    """``mesh_head_pose`` and ``mesh_face_width`` from one fit: liveness reads both from
    every frame."""
    rotation, scale = _fit_canonical(points)
    corners = canonical_mesh().vertices[[DLIB_FIVE[0], DLIB_FIVE[2]]]
    span = float(np.linalg.norm(corners[0] - corners[1]))
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    centre = (float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2)
    return HeadReading(pose_of_rotation(rotation), FACE_WIDTH_IN_EYE_SPANS * span * scale, centre)


def level_nose_drop(
    landmarks: tuple[tuple[float, float], ...] | np.ndarray, image_size: tuple[int, int]
) -> float | None:
    """The nose drop with which this face reads level (pitch 0): the face's own proportion if
    it was seen at eye level; None when no drop from 0.3 to 0.9 eye spans reads it level.

    Found by fitting rather than measured off the landmarks: all five points weigh in the fit
    (a person's inner eye corners sit above or below the outer ones), so only a drop that
    makes the fit itself read level makes the person's eye-level face read level. A deeper
    drop reads further up, until the fit flips to its mirror solution (past 0.9 on some
    faces): the first crossing of level on a grid is refined by bisection."""

    def pitch(drop: float) -> float:
        return estimate_head_pose(landmarks, image_size, drop).pitch

    grid = np.linspace(0.3, 0.9, 13)
    readings = [pitch(d) for d in grid]
    for i in range(len(grid) - 1):
        if readings[i] < 0.0 <= readings[i + 1]:
            low, high = float(grid[i]), float(grid[i + 1])
            for _ in range(16):
                middle = (low + high) / 2
                if pitch(middle) < 0.0:
                    low = middle
                else:
                    high = middle
            return (low + high) / 2
    return None


#: Photo-group faces that calibrate a person's nose drop must face the camera this closely
#: (yaw against the generic face).
CALIBRATION_MAX_YAW = 20.0


@dataclass(frozen=True)
class PoseCalibration:
    """A person's own nose drop (``headpose.level_nose_drop``), their poses are read with.

    Pitch from 5 landmarks rests on how far below the eye line the nose base sits, and that
    proportion differs from person to person (0.47 to 0.68 eye spans on faces-dev portraits)
    far more than a few degrees of real pitch move it: against the generic face, eye-level
    portraits read from -18 to +10 degrees, and a face whose drop is past the generic face's
    largest (0.59) sits where its reading hardly follows a tilt (one look up by 22 degrees
    read as 0.4). Most photos of a person are taken at eye level, so the median drop of their
    photo group's faces that face the camera is their eye-level proportion; a few photos from
    above or below move a median little. The clip's poses are read against a face with that
    drop: the person's eye-level face reads level, and looking up moves the reading."""

    drop: float
    faces: int

    @classmethod
    def from_faces(
        cls, faces: Iterable[tuple[tuple[tuple[float, float], ...], tuple[int, int]]]
    ) -> PoseCalibration | None:
        """From (landmarks, (width, height) of the photo) of a person's faces; None when none
        of them faces the camera."""
        drops = []
        for landmarks, size in faces:
            if abs(estimate_head_pose(landmarks, size).yaw) <= CALIBRATION_MAX_YAW:
                drop = level_nose_drop(landmarks, size)
                if drop is not None:
                    drops.append(drop)
        return cls(float(np.median(drops)), len(drops)) if drops else None


def read_pose(landmarks, size: tuple[int, int], calibration: PoseCalibration | None) -> HeadPose:
    """A face's pose, against the person's own nose drop when known, else the generic face."""
    if calibration is None:
        return estimate_head_pose(landmarks, size)
    return estimate_head_pose(landmarks, size, calibration.drop)


@dataclass(frozen=True)
class HeadReading:
    """A face's pose, width (pixels, on ``face_width_px``'s scale) and centre (pixels), read
    from one frame by one reader: liveness judges the face's size by the reading that gives
    its poses, and measures depth in the box they give (``box``)."""

    pose: HeadPose
    width: float
    #: Where the reader places the face: the face mesh's points' box's centre (``MeshPoses``),
    #: the detector's box's for landmarks.
    centre: tuple[float, float]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The face's box as this reading gives it: a square one face width wide round its
        centre (x0, y0, x1, y1). HOG's box comes in steps of its image pyramid, 1.2 apart in
        size and moved by up to a tenth of the face's width (``MeshPoses``); read by the
        face mesh (``MeshPoses``, what liveness reads), this one is the mesh's own fit,
        where HOG's box lies on average (its side over the fit's width: median 0.99,
        ``MESH_BOX_IN_WIDTHS``; centres 0.01 face widths apart). Read by ``LandmarkPoses``
        it is the detector's box's centre with the eye corners' width."""
        (cx, cy), half = self.centre, self.width / 2
        return (round(cx - half), round(cy - half), round(cx + half), round(cy + half))


class PoseReader(Protocol):
    """How a video's frames are given their head pose: from a face a backend found in a
    frame (liveness reads every frame through one)."""

    #: What the pose is read from, recorded with a liveness verdict.
    name: str

    def __call__(self, image: np.ndarray, face: DetectedFace | LocatedFace) -> HeadPose: ...

    def read(self, image: np.ndarray, face: DetectedFace | LocatedFace) -> HeadReading:
        """The pose, the face's width and its centre, read once."""
        ...


@dataclass(frozen=True)
class LandmarkPoses:
    """Poses from a face's 5 landmarks, against the person's own nose drop when known
    (``read_pose``)."""

    calibration: PoseCalibration | None = None
    name: str = "landmarks"

    def __call__(self, image: np.ndarray, face: DetectedFace | LocatedFace) -> HeadPose:
        return read_pose(face.landmarks, image.shape[1::-1], self.calibration)

    def read(self, image: np.ndarray, face: DetectedFace | LocatedFace) -> HeadReading:
        """The pose, the width from the outer eye corners (``face_width_px``) and the
        detector's box's centre."""
        x0, y0, x1, y1 = face.box
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        return HeadReading(self(image, face), face_width_px(face.landmarks), centre)


#: The side of the box the face mesh is read in (``FaceMesh.read`` crops ``CROP_SCALE`` times
#: it), in the mesh fit's face widths (``mesh_face_width``): HOG's box without its steps. Its
#: side over the fit's width on 19 faces-dev photos facing the camera, 180 px: median 0.99,
#: single faces 0.84 to 1.19 as their box fell on one step or the next. So the crop is where
#: HOG's box put it on average, and widths keep liveness-19's scale. MediaPipe's own crop
#: (1.5 times its points' box, 1.09 fit widths here) read turns of the generic head shorter:
#: 26 degrees to the left as 13.0 at least, against 15.5 in HOG's box and 15.5 at 1.0. At
#: 1.0 the least reading over the photos is above HOG's box's or within 1.2 degrees of it,
#: for every pose on the ellipsoid, canonical and generic heads; a look up of 22 degrees on
#: the ellipsoid reads at least 11.9, 10.7 in HOG's box (``benchmarks/mesh_crop.py``).
MESH_BOX_IN_WIDTHS = 1.0
#: The crop is read again, at the width and centre the last reading gives, until neither
#: moves by more than this fraction of the width, and at most ``MESH_PASSES`` times in all
#: (liveness-21). The readings then hold within 0.6 degrees wherever the first crop was
#: centred (against 1.6 at 2% and 3 passes, liveness-20's), at 3.5 passes and 8 ms a
#: reading on average (2.1 and 4.8 ms; a frame's HOG detection takes about 50 ms). Since
#: liveness-25 the crop's angle must settle too (``MeshPoses.read``); the passes that takes
#: are not yet measured.
MESH_SETTLED = 0.005
MESH_PASSES = 6


class MeshPoses:
    """Poses from MediaPipe's face mesh, fitted in 3D (``mesh_head_pose``): they need no nose
    drop, and glasses do not move them (``faces.face_mesh``). The width comes from the same
    fit (``mesh_face_width``).

    The mesh is read in a crop that follows the face, not the detector's box. HOG's box
    comes in steps of its image pyramid, 1.2 apart: a face 180 px wide gets a box of 150,
    179 or 215 px, and the box of one face in one session can drop a step as the head looks
    up or turns. A step changes the box's size, and the mesh read in a crop 1.2 times
    tighter under-read a look up by 4 to 8 degrees (``barack_obama/5`` on the ellipsoid head
    looking up 22 degrees: 8.3, under the 9-degree bar, with its box down from 179 to 150
    px; 12.5 in a crop of steady scale, liveness-20). A step moves the box's centre too, by
    up to a tenth of the face's width, and the mesh read a turn 2 to 3 degrees short in the
    moved crop (``john_lennon/1`` on the generic head, live: 14.1 degrees in the frames
    whose box dropped to 150 px, 16.9 in their neighbours; over faces-dev photos and three
    heads, boxes stepped and moved as HOG's do moved a reading by 2.4 degrees as a rule and
    up to 12.6, ``benchmarks/mesh_crop.py``). So the first crop is centred on the box and
    sized by dlib's eye corners (``face_width_px``, on the fit's scale); then each crop is
    the mesh's own fit's: its points' box's centre (which lies where HOG's box's does, on
    average: 0.01 face widths apart over faces-dev photos) and the fit's width, read again
    until neither moves (``MESH_SETTLED``; liveness-21). So does MediaPipe's own tracking
    crop each frame round the face's points in its last frame, not round a detector's box.

    Each crop is turned too, so that the face stands upright in it (``FaceMesh.read``'s
    ``angle``): first by dlib's eye corners, then by the mesh's own, read again until the
    angle settles as well (liveness-25).

    ``follow_centre=False`` keeps every crop centred on the box (liveness-20's reading), and
    ``upright=False`` leaves every crop level (up to liveness-24's), which
    ``benchmarks/mesh_crop.py`` compares."""

    name = "mesh"

    def __init__(
        self,
        mesh: FaceMesh | None = None,
        box_in_widths: float = MESH_BOX_IN_WIDTHS,
        follow_centre: bool = True,
        upright: bool = True,
    ):
        """``box_in_widths``: the crop's box in fit widths (``benchmarks/mesh_crop.py``
        compares sizes)."""
        if box_in_widths <= 0:
            raise ValueError(
                f"the crop's box is a positive number of face widths, not {box_in_widths}"
            )
        self.mesh = mesh or FaceMesh()
        self.box_in_widths = box_in_widths
        self.follow_centre = follow_centre
        self.upright = upright

    def __call__(self, image: np.ndarray, face: DetectedFace | LocatedFace) -> HeadPose:
        return self.read(image, face).pose

    def read(self, image: np.ndarray, face: DetectedFace | LocatedFace) -> HeadReading:
        x0, y0, x1, y1 = face.box
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        width = face_width_px(face.landmarks)
        angle = eye_line_angle(face.landmarks) if self.upright else 0.0
        for _ in range(MESH_PASSES):
            half = self.box_in_widths * width / 2
            cx, cy = centre
            seen = self.mesh.read(image, (cx - half, cy - half, cx + half, cy + half), angle)
            reading = mesh_head_reading(seen.points)
            moved = abs(reading.width - width)
            if self.follow_centre:
                fitted = np.array(reading.centre)
                moved = max(moved, float(np.linalg.norm(fitted - centre)))
                centre = fitted
            if self.upright:
                fitted_angle = eye_line_angle(seen.five)
                # An angle's change as the distance it moves the face's edge by.
                moved = max(moved, abs(np.radians(fitted_angle - angle)) * reading.width / 2)
                angle = fitted_angle
            width = reading.width
            if moved < MESH_SETTLED * width:
                break
        return reading
