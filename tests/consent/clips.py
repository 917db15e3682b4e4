"""Synthetic enrolment clips rendered from real photos (for liveness tests).

Honest clips turn the head with parallax: the 5 landmarks and a face outline get depths from a
generic 3D face, are rotated about the neck and re-projected, and the photo is warped triangle
by triangle (the background stays put). Attacks reuse the same photos without depth: a still, a
photo rotated or perspective-warped in the image plane (a printed photo held up to a camera),
a replay of another session's order, a swap mid-clip, another person.

These clips are synthetic; real camera footage would differ (see the README).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from likeness.faces.headpose import FACE_MODEL_5

# Face outline: (x, y, z) in model units around the eyes; sides and top lie behind the eyes.
_OUTLINE = np.array(
    [
        [0.80 * np.cos(a), 0.35 + 1.05 * np.sin(a), -0.35 + 0.25 * max(0.0, np.sin(a))]
        for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ]
)
NECK_DEPTH = -1.0  # the head turns about an axis this far behind the eyes
FPS = 6


def _similarity(model_xy: np.ndarray, image_xy: np.ndarray):
    """Least-squares scale+rotation+translation from model x,y to image pixels (as complex
    numbers: image = k * model + t)."""
    zc = model_xy[:, 0] + 1j * model_xy[:, 1]
    zi = image_xy[:, 0] + 1j * image_xy[:, 1]
    mc, mi = zc.mean(), zi.mean()
    k = np.vdot(zc - mc, zi - mi) / np.vdot(zc - mc, zc - mc)
    return k, mi - k * mc


def render_pose(image: np.ndarray, landmarks, yaw: float, pitch: float) -> np.ndarray:
    """The photo with the head turned by yaw/pitch degrees (depth-aware piecewise warp)."""
    from skimage.transform import PiecewiseAffineTransform, warp

    h, w = image.shape[:2]
    model = np.vstack([FACE_MODEL_5, _OUTLINE])
    k, t = _similarity(FACE_MODEL_5[:, :2], np.asarray(landmarks, dtype=float))

    def project(points3d):
        z = points3d[:, 0] + 1j * points3d[:, 1]
        p = k * z + t
        return np.stack([p.real, p.imag], axis=1)

    ya, pa = np.radians(yaw), np.radians(pitch)
    moved = model.copy()
    moved[:, 2] -= NECK_DEPTH
    x, y, z = moved[:, 0].copy(), moved[:, 1].copy(), moved[:, 2].copy()
    moved[:, 0] = x * np.cos(ya) + z * np.sin(ya)
    z2 = -x * np.sin(ya) + z * np.cos(ya)
    moved[:, 1] = y * np.cos(pa) - z2 * np.sin(pa)
    moved[:, 2] = y * np.sin(pa) + z2 * np.cos(pa)
    moved[:, 2] += NECK_DEPTH
    src = project(model)
    dst = project(moved)
    border = np.array(
        [
            [0, 0],
            [w - 1, 0],
            [0, h - 1],
            [w - 1, h - 1],
            [w / 2, 0],
            [w / 2, h - 1],
            [0, h / 2],
            [w - 1, h / 2],
        ]
    )
    tform = PiecewiseAffineTransform.from_estimate(
        np.vstack([dst, border]), np.vstack([src, border])
    )
    out = warp(image, tform, output_shape=(h, w), preserve_range=True)
    return out.astype(np.uint8)


POSES = {
    "left": (-28.0, 0.0),
    "right": (28.0, 0.0),
    "up": (0.0, 22.0),
    "down": (0.0, -20.0),
    "centre": (0.0, 0.0),
}


def _timeline(session, pose_frame) -> list[tuple[float, np.ndarray]]:
    """Frames at FPS that hold each challenge's pose inside its window (centre elsewhere)."""
    frames = []
    for i in range(int(session.challenges[-1].end * FPS) + 2):
        t = i / FPS
        kind = "centre"
        for c in session.challenges:
            # Reach the pose a little after the window opens and hold it to near its end.
            if c.start + 0.35 <= t <= c.end - 0.2:
                kind = c.kind
        frames.append((t, pose_frame(kind, t)))
    return frames


def honest_frames(image: np.ndarray, landmarks, session) -> list[tuple[float, np.ndarray]]:
    """A live person following the session: real head turns, with parallax."""
    cache: dict[str, np.ndarray] = {}

    def pose_frame(kind, _t):
        if kind not in cache:
            cache[kind] = render_pose(image, landmarks, *POSES[kind])
        return cache[kind]

    return _timeline(session, pose_frame)


def flat_turn(image: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """The photo as a flat print turned in front of a pinhole camera (a homography)."""
    import cv2

    h, w = image.shape[:2]
    f = float(max(w, h))
    camera = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    a, b = np.radians(yaw), np.radians(pitch)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    r = ry @ rx
    plane = np.column_stack([r[:, 0], r[:, 1], [0, 0, f]])
    to_plane = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    homography = camera @ plane @ to_plane
    return cv2.warpPerspective(image, homography / homography[2, 2], (w, h))


def flat_photo_frames(image: np.ndarray, session) -> list[tuple[float, np.ndarray]]:
    """A printed photo turned and tilted to follow the challenges: no depth, no parallax.

    The angles are the attacker's best: a flat print turned one way reads as a head turned
    the other way (its eyes foreshorten while its nose does not move across them), so the
    print is turned opposite to the asked direction, which does meet the pose."""
    angles = {
        "left": (35.0, 0.0),
        "right": (-35.0, 0.0),
        "up": (0.0, -30.0),
        "down": (0.0, 30.0),
        "centre": (0.0, 0.0),
    }
    cache: dict[str, np.ndarray] = {}

    def pose_frame(kind, _t):
        if kind not in cache:
            cache[kind] = flat_turn(image, *angles[kind])
        return cache[kind]

    return _timeline(session, pose_frame)


def still_frames(image: np.ndarray, session) -> list[tuple[float, np.ndarray]]:
    return _timeline(session, lambda _kind, _t: image)


def swapped_frames(first, second, session, at: float) -> list[tuple[float, np.ndarray]]:
    """Person A's honest clip until ``at`` seconds, then person B's."""
    from PIL import Image

    a = dict(honest_frames(*first, session))
    b = dict(honest_frames(*second, session))
    h, w = first[0].shape[:2]

    def fit(frame):  # one video has one frame size
        return np.asarray(Image.fromarray(frame).resize((w, h)))

    return [(t, a[t] if t < at else fit(b[t])) for t in sorted(a)]


def write_video(frames: list[tuple[float, np.ndarray]], path: Path) -> Path:
    import cv2

    h, w = frames[0][1].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    for _, f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def enrolment_sized(image, backend, face_px: int = 180):
    """(pixels, face): the photo scaled so the face is ``face_px`` wide, as in a selfie video,
    in a window of 3.5 face widths around it."""
    from PIL import Image

    pixels = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else image
    faces = backend.analyze(pixels)
    if not faces:
        raise ValueError("no face in the photo")
    face = max(faces, key=lambda f: f.box[2] - f.box[0])
    scale = face_px / (face.box[2] - face.box[0])
    h, w = pixels.shape[:2]
    scaled = np.asarray(Image.fromarray(pixels).resize((round(w * scale), round(h * scale))))
    cx = (face.box[0] + face.box[2]) / 2 * scale
    cy = (face.box[1] + face.box[3]) / 2 * scale
    half = int(1.75 * face_px)
    # A photo whose face fills the frame is padded (edges repeated), as a video frame would
    # show more around the head; the renderer needs room around the face.
    import cv2

    padded = cv2.copyMakeBorder(scaled, half, half, half, half, cv2.BORDER_REPLICATE)
    x0, y0 = int(cx), int(cy)  # the centre, shifted by the padding
    crop = np.ascontiguousarray(padded[y0 : y0 + 2 * half, x0 : x0 + 2 * half])
    found = backend.analyze(crop)
    if len(found) != 1:
        raise ValueError(f"{len(found)} faces after cropping")
    return crop, found[0]
