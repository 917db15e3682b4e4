"""Head pose (yaw, pitch, roll in degrees) from the 5 dlib landmarks and a generic 3D face.

The pose comes from solvePnP of the landmarks against a 3D model, not from 2D asymmetry: a
turning head moves the nose base (in front of the eye corners) relative to the eyes, which a
photo turned or tilted in the image plane does not (it has no depth), so a tilted photo cannot
pass for a turned head.

Model units: the distance between the outer eye corners is 1 (about 90 mm on an adult); x to
the image right, y down, z towards the camera. Depths from average adult anthropometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


#: The model in OpenCV's frame (the camera looks along +z, so the nose has the smaller z).
OPENCV_MODEL_5 = FACE_MODEL_5 * np.array([1.0, 1.0, -1.0])


def pinhole_camera(image_size: tuple[int, int]) -> np.ndarray:
    """A normal lens (focal length the larger side); the pose is insensitive to the exact
    value, and a phone or webcam clip carries no calibration."""
    w, h = image_size
    focal = float(max(w, h))
    return np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], dtype=np.float64)


def fit_head_pose(
    landmarks: tuple[tuple[float, float], ...] | np.ndarray, image_size: tuple[int, int]
) -> HeadFit | None:
    """solvePnP of the 5 landmarks against the generic face; None when it does not converge."""
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
        OPENCV_MODEL_5,
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
    landmarks: tuple[tuple[float, float], ...] | np.ndarray, image_size: tuple[int, int]
) -> HeadPose:
    """Pose of a face from its 5 landmarks in an image of (width, height) pixels."""
    import cv2

    fit = fit_head_pose(landmarks, image_size)
    if fit is None:
        return HeadPose(0.0, 0.0, 0.0)
    rot, _ = cv2.Rodrigues(fit.rvec)
    # Euler angles of the head in the camera frame (y-x-z order: yaw, pitch, roll).
    yaw = np.degrees(np.arctan2(-rot[2, 0], np.hypot(rot[2, 1], rot[2, 2])))
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    return HeadPose(float(-yaw), float(-pitch), float(roll))
