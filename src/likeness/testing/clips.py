"""Synthetic enrolment clips rendered from real photos (for liveness tests).

Honest clips turn the head with parallax: a generic 3D face (the 5 landmarks, an outline, and
inner points with a face's relief: nose ridge and tip, brows, cheekbones, lips, chin) is
placed where solvePnP puts the photo's face, rotated about the neck and re-projected, and the
photo is warped triangle by triangle (the background stays put). The head moves smoothly and
reacts as a person does: it turns a moment after each window opens, holds, and turns on a
moment after the window closes. Attacks reuse the same photos: a still, a print turned and
tilted (a homography), a print bent round a vertical cylinder or folded along a vertical
line and turned, a replay of another session's order or timing, a swap mid-clip, another
person.

These clips are synthetic; real camera footage would differ (see the README).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from likeness.faces.headpose import (
    GENERIC_NOSE_DROP,
    OPENCV_MODEL_5,
    HeadPose,
    fit_head_pose,
    level_nose_drop,
    pinhole_camera,
    rotation_of_pose,
)

# More of the generic face, in OpenCV's head frame (x to the image right, y down, z away from
# the camera; eye span 1, about 90 mm): an outline whose sides and top lie behind the eyes, and
# inner points so that the whole face turns, not only the eyes, with a face's relief: a nose
# ridge from the nasion to the tip and its wings, the brows and glabella, cheekbones, lips and
# chin. Depths (in front of the outer eye corners) follow average adult anthropometry: nasion
# 15 mm, nose tip 38 mm, nose base 22 mm (the 5-point model's), upper lip 23 mm, brows 11 mm.
# Without the ridge, the nose was a flat triangle between the inner eye corners and the nose
# base, and the middle of the face was nearly a bent sheet, which no real head is.
_OUTLINE = np.array(
    [
        [0.80 * np.cos(a), 0.35 + 1.05 * np.sin(a), 0.35 - 0.25 * max(0.0, np.sin(a))]
        for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ]
)
_INNER = np.array(
    [
        [-0.28, 0.95, -0.12],  # mouth corners and centre
        [0.28, 0.95, -0.12],
        [0.0, 0.95, -0.2],
        [-0.45, 0.55, 0.05],  # cheeks
        [0.45, 0.55, 0.05],
        [0.0, -0.45, 0.0],  # forehead
        [0.0, -0.03, -0.17],  # nasion
        [0.0, 0.18, -0.29],  # nose ridge
        [0.0, 0.40, -0.42],  # nose tip
        [-0.18, 0.45, -0.17],  # nose wings
        [0.18, 0.45, -0.17],
        [0.0, -0.22, -0.19],  # glabella
        [-0.30, -0.20, -0.12],  # brows
        [0.30, -0.20, -0.12],
        [-0.42, 0.28, -0.04],  # cheekbones
        [0.42, 0.28, -0.04],
        [0.0, 0.74, -0.26],  # upper lip
        [0.0, 1.28, -0.14],  # chin
    ]
)
#: The head turns about a point this far behind the eyes (and a little below them).
NECK = np.array([0.0, 0.3, 1.0])
#: Frames a second: fewer than a camera's 24-30, to keep the tests fast, enough that a turn
#: passes through the poses between centre and its peak.
FPS = 10


def rotation(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """A head turn in OpenCV's head frame: yaw + turns the face to the image right, pitch +
    looks up, roll + tilts the head clockwise in the image (ear towards shoulder, about the
    face's own forward axis, as a neck tilts a head: R = Ry Rx Rz, the nose pointing where
    yaw and pitch say), the order ``headpose.pose_of_rotation`` reads the angles back in."""
    return rotation_of_pose(HeadPose(yaw, pitch, roll))


#: The inner points before the relief (the first six): the middle of the face nearly a bent
#: sheet. Renders of a head pitched down with the nose tip's relief read as level or lose the
#: face (the 5-point pitch is blind there, see ``liveness.ChallengeKind``); tests of the
#: start check's pitch range render the camera above the face with this smoother face.
_INNER_SMOOTH = _INNER[:6]


def own_drop(image: np.ndarray, landmarks) -> float:
    """The photo's face's own nose drop as seen level (the generic one if none reads it
    level): what ``render_pose`` builds the head with, found once per clip."""
    h, w = image.shape[:2]
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    return level_nose_drop(points, (w, h)) or GENERIC_NOSE_DROP


def render_pose(
    image: np.ndarray,
    landmarks,
    yaw: float,
    pitch: float,
    relief: bool = True,
    drop: float | None = None,
    roll: float = 0.0,
) -> np.ndarray:
    """The photo with the head turned by yaw/pitch degrees from its own pose, and tilted by
    ``roll`` (``rotation``; ``relief``: False renders the smoother face without nose ridge,
    brows and cheekbones).

    The generic face, its nose base ``drop`` eye spans below the eyes and the face below the
    eyes stretched to match, is placed where solvePnP puts the photo's face (so a photo that
    is itself a little turned is turned further from there, as a real head would be), rotated
    about the neck and re-projected; the photo is then warped triangle by triangle between the
    two projections (the background stays put). The 5 landmarks move from where they were
    detected. By default the drop is the face's own as seen level (``level_nose_drop``): the
    photo is taken at eye level, as an enrolment's start must be. With the generic drop a face
    of longer proportions was placed as if seen from 14 degrees above and turned about axes a
    real head does not have (renders looking up 22 degrees read 8 degrees up, 15 placed level).
    """
    from skimage.transform import PiecewiseAffineTransform

    h, w = image.shape[:2]
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    if drop is None:
        drop = own_drop(image, points)
    fit = fit_head_pose(points, (w, h), drop)
    if fit is None:
        raise ValueError("no head pose for this face")
    model = np.vstack([OPENCV_MODEL_5, _OUTLINE, _INNER if relief else _INNER_SMOOTH])
    model[:, 1] = np.where(model[:, 1] > 0, model[:, 1] * drop / GENERIC_NOSE_DROP, model[:, 1])
    turned = (model - NECK) @ rotation(yaw, pitch, roll).T + NECK
    src, dst = fit.project(model), fit.project(turned)
    dst[:5] = points + (dst[:5] - src[:5])
    src[:5] = points
    border = frame_border(w, h)
    tform = PiecewiseAffineTransform.from_estimate(
        np.vstack([dst, border]), np.vstack([src, border])
    )
    return _warp(image, tform)


def frame_border(w: int, h: int) -> np.ndarray:
    """The corners and edge midpoints of a w x h frame: points a warp keeps in place, so the
    background stays put while the head moves."""
    return np.array(
        [
            [0, 0],
            [w - 1, 0],
            [0, h - 1],
            [w - 1, h - 1],
            [w / 2, 0],
            [w / 2, h - 1],
            [0, h / 2],
            [w - 1, h / 2],
        ],
        dtype=np.float64,
    )


def inverse_map(tform, shape: tuple[int, ...], step: int = 4) -> np.ndarray:
    """The source pixel of every output pixel (h x w x 2, float32) under the inverse map
    ``tform`` (output pixel -> source pixel). The map is evaluated on a grid every ``step``
    pixels and interpolated (it is piecewise affine, so continuous): 15 times faster than
    evaluating every pixel."""
    import cv2

    h, w = shape[:2]
    ys, xs = np.arange(0, h + step, step), np.arange(0, w + step, step)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float64)
    coarse = tform(grid).reshape(len(ys), len(xs), 2).astype(np.float32)
    # Bilinear interpolation of the coarse map at every pixel (remap of the map itself).
    gx, gy = np.meshgrid(
        np.arange(w, dtype=np.float32) / step, np.arange(h, dtype=np.float32) / step
    )
    return cv2.remap(coarse, gx, gy, cv2.INTER_LINEAR)


def _warp(image: np.ndarray, tform) -> np.ndarray:
    """``image`` warped by the inverse map ``tform`` (``inverse_map``), by cv2.remap."""
    import cv2

    full = inverse_map(tform, image.shape)
    return cv2.remap(
        image, full[..., 0], full[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


#: An ordinary head turn (degrees).
POSES = {
    "left": (-26.0, 0.0),
    "right": (26.0, 0.0),
    "up": (0.0, 22.0),
    "down": (0.0, -20.0),
    "centre": (0.0, 0.0),
}
#: A person reacts to each prompt this long after it appears (a window opening, or the next
#: one replacing it), and turns the head at about this speed: so a pose is reached a moment
#: after its window opens and left a moment after it closes, as the next prompt shows.
REACT_S, DEGREES_PER_S = 0.3, 65.0
#: How far a person lowers the chin when the page says the head reads tilted back ("lower
#: your chin a little"), in degrees of pitch, each time it says so.
CHIN_DEGREES = 8.0
#: How much closer a person comes when the page asks them to (the face this many times as
#: wide, each time), and how soon they come closer again while it still asks: the page
#: asks until the face reads wide enough, so a person (or an attacker holding a print
#: turned away from the camera, which reads narrower) keeps coming closer until it stops.
CLOSER_FACTOR, CLOSER_AGAIN_S = 1.1, 1.0
#: How much further a person turns when the page asks for "a little further" (degrees).
FURTHER_DEGREES = 10.0
#: A live page shows the prompt a frame answers this long after the camera took it.
ROUND_TRIP_S = 0.05


def pose_timeline(
    session,
    targets: dict,
    fps: int = FPS,
    react_s: float = REACT_S,
    degrees_per_s: float = DEGREES_PER_S,
) -> list[tuple[float, float, float]]:
    """(seconds, yaw, pitch) at ``fps``: the head moving smoothly to each challenge's target
    (yaw, pitch) ``react_s`` after its window opens, at ``degrees_per_s``, and back
    ``react_s`` after it closes (centre elsewhere)."""
    poses = []
    for i in range(int(session.challenges[-1].end * fps) + 2):
        t = i / fps
        yaw = pitch = 0.0
        for c in session.challenges:
            move_s = max(0.2, float(np.hypot(*targets[c.kind])) / degrees_per_s)
            rise = (t - c.start - react_s) / move_s
            fall = (c.end + react_s + move_s - t) / move_s
            k = float(np.clip(min(rise, fall), 0.0, 1.0))
            yaw += k * targets[c.kind][0]
            pitch += k * targets[c.kind][1]
        poses.append((t, yaw, pitch))
    return poses


def timeline(session, targets: dict, render, fps: int = FPS) -> list[tuple[float, np.ndarray]]:
    """Frames following ``pose_timeline``; ``render(yaw, pitch)`` draws one frame."""
    cache: dict[tuple[float, float], np.ndarray] = {}
    frames = []
    for t, yaw, pitch in pose_timeline(session, targets, fps):
        key = (round(yaw, 1), round(pitch, 1))
        if key not in cache:
            cache[key] = render(*key)
        frames.append((t, cache[key]))
    return frames


def honest_frames(
    image: np.ndarray,
    landmarks,
    session,
    poses: dict | None = None,
    fps: int = FPS,
    start: tuple[float, float] = (0.0, 0.0),
) -> list[tuple[float, np.ndarray]]:
    """A live person following the session: real head turns (``poses``, by default ordinary
    ones), with parallax. ``start``: the (yaw, pitch) the head faces the camera at, from the
    photo's own pose (a camera held above the face: negative pitch); every turn is from it."""

    drop = own_drop(image, landmarks)

    def render(yaw: float, pitch: float) -> np.ndarray:
        yaw, pitch = yaw + start[0], pitch + start[1]
        if yaw == pitch == 0:
            return image
        return render_pose(image, landmarks, yaw, pitch, drop=drop)

    return timeline(session, poses or POSES, render, fps)


class LivePerson:
    """A person in front of the live enrolment page: turns towards each prompt's pose
    ``react_s`` after it shows (``late`` adds seconds to the reaction to some prompts, by
    index), at ``degrees_per_s``, and faces the camera for "start", "centre" and "done".
    Told before the first challenge that the head reads tilted back, they lower the chin
    by ``CHIN_DEGREES`` each time, and keep it there as their way of facing the camera;
    asked to come closer, they do (the face ``CLOSER_FACTOR`` times as wide each time, and
    again every ``CLOSER_AGAIN_S`` while still asked); asked
    to turn a little further, they turn ``FURTHER_DEGREES`` more each time.
    ``see`` each prompt as the page shows it; ``frame`` is what the camera sees at ``t``."""

    def __init__(
        self,
        image: np.ndarray,
        landmarks,
        late: dict[int, float] | None = None,
        react_s: float = REACT_S,
        degrees_per_s: float = DEGREES_PER_S,
        draw=None,
    ):
        """``draw(yaw, pitch, index)``: the frame for a pose while heeding prompt ``index``
        (by default the generic head turned, ``render_pose``)."""
        self.image, self.landmarks, self.draw = image, landmarks, draw
        self.drop = own_drop(image, landmarks)
        self.late, self.react_s, self.speed = late or {}, react_s, degrees_per_s
        self.shown: list[tuple[float, str, int]] = []  # (when, kind, index), as they change
        self.lowered: list[float] = []  # when they were told to lower the chin
        self.closer: list[float] = []  # when they were asked to come closer
        self.further: list[tuple[float, int]] = []  # when asked to turn further, and which
        self.words = ""
        self.pose, self.t = np.zeros(2), 0.0
        self.cache: dict[tuple[float, float], np.ndarray] = {}

    def see(self, t: float, prompt) -> None:
        from likeness.consent.liveness.live import FURTHER, START_WORDS

        if not self.shown or self.shown[-1][1:] != (prompt.kind, prompt.index):
            self.shown.append((t, prompt.kind, prompt.index))
        if prompt.words != self.words:  # each time it is said anew
            if prompt.words == START_WORDS["tilted back"]:
                self.lowered.append(t)
            if prompt.kind == "closer":
                self.closer.append(t)
            if prompt.words in FURTHER.values():
                self.further.append((t, prompt.index))
        elif prompt.kind == "closer" and t >= self.closer[-1] + CLOSER_AGAIN_S:
            self.closer.append(t)  # still asked
        self.words = prompt.words

    def frame(self, t: float) -> np.ndarray:
        heeded = [
            (kind, index)
            for when, kind, index in self.shown
            if t >= when + self.react_s + self.late.get(index, 0.0)
        ]
        index = heeded[-1][1] if heeded else -1
        target = np.array(POSES.get(heeded[-1][0], (0.0, 0.0)) if heeded else (0.0, 0.0))
        more = sum(t >= when + self.react_s for when, i in self.further if i == index)
        if more and np.hypot(*target):
            target *= 1 + more * FURTHER_DEGREES / np.hypot(*target)
        target[1] -= CHIN_DEGREES * sum(t >= when + self.react_s for when in self.lowered)
        step = target - self.pose
        most = self.speed * (t - self.t)
        if np.hypot(*step) > most:
            step *= most / np.hypot(*step)
        self.pose, self.t = self.pose + step, t
        yaw, pitch = (round(float(v)) for v in self.pose)
        nearer = sum(t >= when + self.react_s for when in self.closer)
        image = self._drawn(yaw, pitch, index)
        return zoomed(image, CLOSER_FACTOR**nearer) if nearer else image

    def _drawn(self, yaw: int, pitch: int, index: int) -> np.ndarray:
        if self.draw is not None:
            return self.draw(yaw, pitch, index)
        if (yaw, pitch) not in self.cache:
            self.cache[yaw, pitch] = (
                self.image
                if yaw == pitch == 0
                else render_pose(self.image, self.landmarks, yaw, pitch, drop=self.drop)
            )
        return self.cache[yaw, pitch]


def run_live(
    check,
    frame_at,
    see=lambda t, prompt: None,
    seconds: float = 30.0,
    fps: int = FPS,
) -> list:
    """Feed ``frame_at(t)`` to a ``LiveCheck`` at ``fps`` until it is done, on a clock that
    keeps to the frames' times; ``see(t, prompt)`` shows each answer ``ROUND_TRIP_S`` after
    its frame was taken. The prompts, with the time of the frame each answered."""
    now = [0.0]
    check.clock = lambda: now[0]
    prompts = []
    for i in range(int(seconds * fps)):
        t = i / fps
        now[0] = t + ROUND_TRIP_S
        prompt = check.feed(t, frame_at(t))
        see(t + ROUND_TRIP_S, prompt)
        prompts.append((t, prompt))
        if check.done:
            break
    return prompts


def flat_turn(image: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """The photo as a flat print turned in front of a pinhole camera (a homography)."""
    import cv2

    h, w = image.shape[:2]
    camera = pinhole_camera((w, h))
    f = camera[0, 0]
    r = rotation(-yaw, -pitch)  # yaw about the vertical axis, then pitch about the horizontal
    plane = np.column_stack([r[:, 0], r[:, 1], [0, 0, f]])
    to_plane = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    homography = camera @ plane @ to_plane
    return cv2.warpPerspective(image, homography / homography[2, 2], (w, h))


#: The angles (yaw, pitch) an attacker holds a flat print at for each pose: the attacker's
#: best, since a flat print turned one way reads as a head turned the other way (its eyes
#: foreshorten while its nose does not move across them), so the print is turned opposite
#: to the asked direction, which does meet the pose.
FLAT_PRINT_ANGLES = {
    "left": (35.0, 0.0),
    "right": (-35.0, 0.0),
    "up": (0.0, -30.0),
    "down": (0.0, 30.0),
    "centre": (0.0, 0.0),
}
#: ... and a bent print: turned so that the face reads as turned the asked way, tilted back
#: for "up".
BENT_PRINT_ANGLES = {
    "left": (-30.0, 0.0),
    "right": (30.0, 0.0),
    "up": (0.0, -25.0),
    "down": (0.0, 25.0),
    "centre": (0.0, 0.0),
}


def flat_print(image: np.ndarray):
    """``render(yaw, pitch)``: the photo as a flat print held at (yaw, pitch)."""
    return lambda yaw, pitch: flat_turn(image, yaw, pitch)


def bent_print(image: np.ndarray, bend):
    """``render(yaw, pitch)``: the print bent as ``bend(image, turn)`` bends it, turned by
    ``yaw`` and tilted by ``pitch`` as a whole."""

    def render(yaw: float, pitch: float) -> np.ndarray:
        bent = bend(image, yaw)
        return flat_turn(bent, 0.0, pitch) if pitch else bent

    return render


def held_as_head(render, angles: dict):
    """A print's ``render(yaw, pitch)`` (the angles it is held at) as a ``draw(yaw, pitch)``
    in a head's angles (``POSES``): each head angle scaled to the angle the attacker holds
    the print at for that pose (``angles``, as ``FLAT_PRINT_ANGLES``). So a print can stand
    in for the head ``LivePerson`` moves: the attacker follows each live prompt, lowering
    the print for "lower your chin" and turning it further when asked, at the same scale."""
    per_yaw = angles["left"][0] / POSES["left"][0]
    per_pitch = angles["up"][1] / POSES["up"][1]
    return lambda yaw, pitch: render(yaw * per_yaw, pitch * per_pitch)


def flat_photo_frames(image: np.ndarray, session, fps: int = FPS) -> list[tuple[float, np.ndarray]]:
    """A printed photo turned and tilted to follow the challenges (``FLAT_PRINT_ANGLES``):
    no depth, no parallax."""
    return timeline(session, FLAT_PRINT_ANGLES, flat_print(image), fps)


def _surface_remap(image: np.ndarray, source_of, centre_x: float | None) -> np.ndarray:
    """``image`` as a bent print seen by a pinhole camera: ``source_of(dx, dy)`` maps each
    pixel's viewing ray (x and y over the focal length) to the print point it sees, relative to
    the print's column ``centre_x`` (default its middle) in front of the camera's centre (NaN
    where it sees none, left black as the background behind a print)."""
    import cv2

    h, w = image.shape[:2]
    f = pinhole_camera((w, h))[0, 0]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    u, v = source_of((xs - w / 2) / f, (ys - h / 2) / f)
    cx = w / 2 if centre_x is None else centre_x
    map_x = np.where(np.isfinite(u), u + cx, -1).astype(np.float32)
    map_y = np.where(np.isfinite(v), v + h / 2, -1).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def cylinder_print(
    image: np.ndarray,
    radius_px: float,
    turn: float,
    pivot_px: float | None = None,
    centre_x: float | None = None,
) -> np.ndarray:
    """The photo printed and wrapped round a vertical cylinder (a bottle) of ``radius_px``,
    its centre facing the camera at the focal distance, then the cylinder turned ``turn``
    degrees (+ carries the print towards the image right) about a vertical axis ``pivot_px``
    behind the print's front: its own axis by default, or further back, as a hand holding
    the bottle turns it like a head about its neck. ``centre_x``: the print's column at the
    front (the face's centre, for the attacker's best)."""
    h, w = image.shape[:2]
    f = pinhole_camera((w, h))[0, 0]
    theta = np.radians(turn)
    pivot = radius_px if pivot_px is None else pivot_px
    # The cylinder's axis, carried round the pivot (at depth f + pivot) by the turn.
    axis_x = (radius_px - pivot) * np.sin(theta)
    axis_z = f + pivot + (radius_px - pivot) * np.cos(theta)

    def source_of(dx, dy):
        # Ray t * (dx, dy, 1) meets (x - axis_x)^2 + (z - axis_z)^2 = radius^2 (near side).
        a = dx * dx + 1.0
        b = axis_x * dx + axis_z
        disc = b * b - a * (axis_x**2 + axis_z**2 - radius_px**2)
        t = (b - np.sqrt(np.where(disc >= 0, disc, np.nan))) / a
        x, y, z = t * dx, t * dy, t  # print pixels are 1:1 at the focal distance
        phi = np.arctan2(x - axis_x, axis_z - z) - theta  # angle round the axis, on the print
        u = radius_px * phi
        outside = (np.abs(u) > w) | (np.abs(phi) > np.pi / 2)
        return np.where(outside, np.nan, u), np.where(outside, np.nan, y)

    return _surface_remap(image, source_of, centre_x)


def folded_print(
    image: np.ndarray, fold_degrees: float, turn: float, centre_x: float | None = None
) -> np.ndarray:
    """The photo printed and folded along the vertical line through its centre, the fold
    towards the camera (a V seen from above, ``fold_degrees`` between the halves: 180 is
    flat), at the focal distance, then turned ``turn`` degrees about the fold line.
    ``centre_x``: the print's column on the fold (default its middle)."""
    h, w = image.shape[:2]
    f = pinhole_camera((w, h))[0, 0]
    beta = np.radians((180.0 - fold_degrees) / 2)
    theta = np.radians(turn)

    def source_of(dx, dy):
        t = np.full(dx.shape, np.nan)
        u = np.full(dx.shape, np.nan)
        for side in (-1.0, 1.0):
            # This half runs from the fold line (0, y, f) along d, away from the camera.
            angle = side * beta + theta
            d = np.array([side * np.cos(angle), 0.0, side * np.sin(angle)])
            n = np.array([-d[2], 0.0, d[0]])
            # Ray t * (dx, dy, 1) meets the plane through (0, 0, f) with normal n.
            denom = n[0] * dx + n[2]
            ts = (n[2] * f) / np.where(np.abs(denom) > 1e-9, denom, np.nan)
            along = (ts * dx) * d[0] + (ts - f) * d[2]  # distance from the fold along d
            ok = (along >= 0) & (along <= w) & (ts > 0) & ~(ts >= t)
            t = np.where(ok, ts, t)
            u = np.where(ok, side * along, u)
        return u, np.where(np.isfinite(u), t * dy, np.nan)

    return _surface_remap(image, source_of, centre_x)


def squashed(image: np.ndarray, factor: float) -> np.ndarray:
    """The photo scaled vertically by ``factor`` about its middle row (edges repeated): an
    attacker's correction for a folded print, whose eyes come closer together as it folds,
    which reads as a camera above the face; a shorter print reads level again."""
    import cv2

    h, w = image.shape[:2]
    short = cv2.resize(image, (w, round(h * factor)), interpolation=cv2.INTER_AREA)
    top = (h - short.shape[0]) // 2
    return cv2.copyMakeBorder(short, top, h - short.shape[0] - top, 0, 0, cv2.BORDER_REPLICATE)


def cut_out_fold(pixels: np.ndarray, face, angle: float = 120, height: float = 1.0):
    """The face cut out of a print along its outline, folded at ``angle`` degrees down the
    middle of the face and held in front of the scene: a ``bend(image, turn)`` for
    ``bent_print_frames``. ``height`` below 1 prints it shorter about its middle row, as
    ``squashed`` does (folded, a print's eyes come closer together and it reads as seen from
    above; the shorter print reads level), and the cut follows the face where it lies on that
    print."""
    mid, (x0, y0, x1, y1) = pixels.shape[0] / 2, face.box
    box = (x0, mid + height * (y0 - mid), x1, mid + height * (y1 - mid))
    printed = squashed(pixels, height) if height != 1.0 else None
    fold = (x0 + x1) / 2
    return lambda im, turn: cut_out(
        im, box, lambda cut, t: folded_print(cut, angle, t, fold), turn, printed_from=printed
    )


def bent_print_frames(
    image: np.ndarray, session, bend, fps: int = FPS
) -> list[tuple[float, np.ndarray]]:
    """A bent print (``bend(image, turn)``: ``cylinder_print`` or ``folded_print`` with its
    shape fixed) turned on the session's schedule (``BENT_PRINT_ANGLES``)."""
    return timeline(session, BENT_PRINT_ANGLES, bent_print(image, bend), fps)


def still_frames(image: np.ndarray, session, fps: int = FPS) -> list[tuple[float, np.ndarray]]:
    return timeline(session, POSES, lambda _yaw, _pitch: image, fps)


def swapped_frames(
    first, second, session, at: float, fps: int = FPS, second_start: tuple[float, float] = (0, 0)
) -> list[tuple[float, np.ndarray]]:
    """Person A's honest clip until ``at`` seconds, then person B's (facing the camera at
    ``second_start``, as ``honest_frames``' ``start``: B's photo lined up to read as A's
    pose, so that B's frames are compared with A's as facing the camera)."""
    from PIL import Image

    a = dict(honest_frames(*first, session, fps=fps))
    b = dict(honest_frames(*second, session, fps=fps, start=second_start))
    h, w = first[0].shape[:2]

    def fit(frame):  # one video has one frame size
        return np.asarray(Image.fromarray(frame).resize((w, h)))

    return [(t, a[t] if t < at else fit(b[t])) for t in sorted(a)]


def write_video(frames: list[tuple[float, np.ndarray]], path: Path) -> Path:
    import cv2

    h, w = frames[0][1].shape[:2]
    fps = round(1 / (frames[1][0] - frames[0][0]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for _, f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def camera_sized(frame: np.ndarray, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """``frame`` cropped or padded (edges repeated) about its centre to ``size`` (w, h), as
    a camera at that size would show it."""
    import cv2

    w, h = size
    fh, fw = frame.shape[:2]
    pad_x, pad_y = max(0, w - fw), max(0, h - fh)
    frame = cv2.copyMakeBorder(
        frame,
        pad_y // 2,
        pad_y - pad_y // 2,
        pad_x // 2,
        pad_x - pad_x // 2,
        cv2.BORDER_REPLICATE,
    )
    y0, x0 = (frame.shape[0] - h) // 2, (frame.shape[1] - w) // 2
    return np.ascontiguousarray(frame[y0 : y0 + h, x0 : x0 + w])


def write_y4m(
    frames: list[tuple[float, np.ndarray]], path: Path, size: tuple[int, int] = (640, 480)
) -> Path:
    """The frames as a YUV4MPEG2 file at ``size`` (``camera_sized``), as Chromium's fake
    camera reads it (``--use-file-for-fake-video-capture``)."""
    import cv2

    w, h = size
    fps = round(1 / (frames[1][0] - frames[0][0]))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _, frame in frames:
            yuv = cv2.cvtColor(camera_sized(frame, size), cv2.COLOR_RGB2YUV_I420)
            out.write(b"FRAME\n" + yuv.tobytes())
    return path


def enrolment_sized(image, backend, face_px: int = 180):
    """(pixels, face): the photo scaled so the face is ``face_px`` wide (measured as the
    liveness check measures it, ``headpose.face_width_px``), as in a selfie video, in a window
    of 3.5 face widths around it."""
    from PIL import Image

    from likeness.faces.headpose import face_width_px

    pixels = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else image
    faces = backend.analyze(pixels)
    if not faces:
        raise ValueError("no face in the photo")
    face = max(faces, key=lambda f: f.box[2] - f.box[0])
    scale = face_px / face_width_px(face.landmarks)
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


def sized_as_read(
    image, backend, head, facing: float = 0.0, face_px: float = 180, tries: int = 8, poses=None
):
    """(pixels, face, width): the photo scaled so that ``head`` (a renderer factory of
    ``likeness.testing.heads.HEADS``), turned by ``facing`` degrees to face the camera, shows a
    face ``face_px`` wide as the liveness check reads it in the clip's first frame (``poses``,
    a ``headpose.PoseReader``; by default the check's own, ``liveness_poses``).

    Why not ``enrolment_sized`` alone: that measures the photo by dlib's eye corners, and a
    head model shows the same photo's face at another width; the check reads the width from
    the face mesh's fit to the whole upper face (liveness-19), by which faces-dev faces 180 px
    wide by their eye corners read 170 to 192. A session asks a face under its floor (175 px)
    to come closer, so an honest person's clip is one whose face the check reads at the size
    asked. The scale is corrected up to ``tries`` times and the closest reading kept (up to
    liveness-18, read from the eye corners, drawn glasses moved them by a few pixels as the
    photo's scale changed by 1 %). ``width`` is the first frame's reading at the scale
    returned."""
    from likeness.consent.liveness import liveness_poses

    reader = poses or liveness_poses()
    best = None
    asked = float(face_px)
    for _ in range(tries):
        pixels, face = enrolment_sized(image, backend, asked)
        first = head(pixels, face.landmarks)(facing, 0.0)
        shown = backend.analyze(first)
        if len(shown) != 1:
            raise ValueError(f"{len(shown)} faces in the head's first frame")
        width = reader.read(first, shown[0]).width
        if best is None or abs(width - face_px) < abs(best[2] - face_px):
            best = (pixels, face, width)
        if abs(width - face_px) <= 1.0:
            break
        asked *= face_px / width
    return best


def stepped_boxes(
    box: tuple[float, float, float, float], steps: tuple[tuple[float, float, float], ...]
) -> list[tuple[float, float, float, float]]:
    """Square boxes of the face in ``box`` as other steps of HOG's image pyramid give them:
    for each (scale, across, down), ``box`` scaled about its centre and that centre moved by
    ``across`` and ``down`` box widths (a step changes a box's size and moves its centre)."""
    x0, y0, x1, y1 = box
    side = x1 - x0
    out = []
    for scale, across, down in steps:
        cx, cy = (x0 + x1) / 2 + across * side, (y0 + y1) / 2 + down * side
        half = scale * side / 2
        out.append((cx - half, cy - half, cx + half, cy + half))
    return out


def zoomed(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` scaled by ``factor`` about its centre, at its own size (edges repeated where
    a smaller picture leaves room): the same scene seen closer or further away."""
    import cv2

    h, w = image.shape[:2]
    matrix = np.array([[factor, 0.0, (1 - factor) * w / 2], [0.0, factor, (1 - factor) * h / 2]])
    return cv2.warpAffine(
        image,
        matrix,
        (w, h),
        flags=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def print_sized_as_read(
    pixels: np.ndarray, face, bend_of, backend, face_px: float = 180, poses=None
):
    """(pixels, face): the photo zoomed so that its print, bent as ``bend_of(pixels, face)``
    bends it (a ``bend(image, turn)`` for ``bent_print_frames``), shows a face ``face_px`` wide
    as the liveness check reads it when it faces the camera (``poses``, by default the check's
    own reader): the attacker holds the print closer until a session takes its size. A print
    bent round a bottle or folded reads narrower than it was printed (a cylinder of half a
    face width by about a fifth), and a print too small to be taken tests only the size
    check. Unchanged when the bent print's face is not found, as an attacker could not size
    it either."""
    from likeness.consent.liveness import liveness_poses

    bent = bend_of(pixels, face)(pixels, 0.0)
    shown = backend.analyze(bent)
    if len(shown) != 1:
        return pixels, face
    width = (poses or liveness_poses()).read(bent, shown[0]).width
    closer = zoomed(pixels, face_px / width)
    found = backend.analyze(closer)
    if not found:
        return pixels, face
    return closer, max(found, key=lambda f: f.box[2] - f.box[0])


def facing_as_read(draw, backend, poses, tries: int = 4, within: float = 3.0) -> float:
    """The yaw to add to ``draw(yaw, pitch)``'s angles (a head's, as ``held_as_head`` gives a
    print's) so that its face reads as facing the camera through ``poses`` (a session's
    ``headpose.PoseReader``): an attacker adjusts the print while watching the page's
    preview until the page stops saying "turn to face the camera", as a person turns their
    head. Without it each print was held as printed: the face mesh reads prints of the
    photos that face the camera by their landmarks up to 11 degrees turned (a V-fold of 120
    degrees of ``lin_manuel_miranda/1``, clean), near the start's bound of 12, and 4 of 108
    prints were refused at the start under liveness-18 (stop 54), since "turn to face the
    camera" names no side and the simulated attacker does not heed it. Each try turns by
    the yaw still read, up to ``tries``; the closest reading is kept (0 when no single face
    is found, as an attacker could not line it up either)."""
    facing, best = 0.0, (0.0, math.inf)
    for _ in range(tries):
        image = draw(facing, 0.0)
        found = backend.analyze(image)
        if len(found) != 1:
            break
        yaw = poses(image, found[0]).yaw
        if abs(yaw) < abs(best[1]):
            best = (facing, yaw)
        if abs(yaw) <= within:
            break
        facing -= yaw
    return best[0]


#: ``prepared``'s results, by the photo's pixels, the width asked for and the backend.
_PREPARED: dict[tuple[bytes, float, str], tuple[np.ndarray, object]] = {}


def prepared(image, face_px: float = 180):
    """(pixels, face): scaled so the face is enrolment-sized (a selfie video: ``face_px``
    wide as the liveness check reads it, ``liveness_poses``), with the enrolment backend.
    The check reads the width from the face mesh's fit (liveness-19), which differs from the
    photo's eye corners by up to 7 % (the astronaut sized to 180 px by them reads 170).

    Kept for the process, by the photo's pixels: sizing loads the face models and reads the
    photo at several scales (about 3 s), and tests enrol the same photo many times. The
    pixels returned are a copy each time."""
    import hashlib

    from likeness.faces.backends import backend_spec, video_frame_backend

    original = np.asarray(image)
    digest = hashlib.sha256(repr(original.shape).encode() + original.tobytes()).digest()
    key = (digest, face_px, backend_spec())
    if key not in _PREPARED:

        def as_it_is(pixels, _landmarks):  # the photo itself, as a head that does not move
            return lambda _yaw, _pitch: pixels

        pixels, face, _ = sized_as_read(image, video_frame_backend(), as_it_is, face_px=face_px)
        _PREPARED[key] = (pixels, face)
    pixels, face = _PREPARED[key]
    return pixels.copy(), face


def cut_out(
    image: np.ndarray,
    box,
    bend,
    turn: float,
    margin: float = 1.15,
    printed_from: np.ndarray | None = None,
) -> np.ndarray:
    """The photo's face printed, cut out along an oval round it (``margin`` times the face
    box), bent and turned by ``bend(print, turn)`` and held in front of the scene, which
    stays put: the print's edge moves against a real background inside the face box, as a
    head's outline does. ``printed_from``: the picture printed, when it is not ``image``
    itself (a print squashed to read level when folded, in front of the unsquashed scene;
    ``box`` is then the face's box on the print)."""
    import cv2

    x0, y0, x1, y1 = box
    centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
    axes = (round(margin * (x1 - x0) / 2), round(margin * 1.25 * (y1 - y0) / 2))
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    printed = bend(image if printed_from is None else printed_from, turn)
    held = bend(np.repeat(mask[..., None], 3, axis=2), turn)[..., :1].astype(np.float32) / 255
    return (printed * held + image * (1 - held)).astype(np.uint8)
