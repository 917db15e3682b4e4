"""Depth from a head turn: is the face a plane, a bent sheet, or a head?

Two frames of a left or right turn (the neutral one and the most turned one) are compared
through points tracked on the face. Two measures come from them:

``parallax``: how far the motion is from one homography. A flat print, however it is turned
or tilted, moves by a homography; a head does not. A print bent round a bottle or folded
down the middle is not one plane either, so it shows parallax too.

``relief``: how far the depth is from that of a bent sheet. A sheet of paper can be curved or
folded one way only: it stays straight along one direction (a cylinder's axis, a fold line),
so its depth is a function of one image coordinate (across the bend). A face is not like
that anywhere: along the vertical line through the nose the depth rises from the brow to the
nose tip and falls again to the lips; along the line through an eye, the eye lies behind both
the brow and the cheekbone; across the face the nose stands in front of both eyes.

How relief is measured, and why:

1. Plane plus parallax. Points are tracked from the neutral frame to the turned one and the
   face's dominant plane is fitted (a homography). Each point is then tracked again, its
   window in the turned frame resampled through the affine motion of its nearest points'
   first tracks (``LOCAL_NEIGHBOURS``: Shi and Tomasi's affine window), and where it lands is
   mapped back through the plane's homography: what remains is the point's parallax relative
   to that plane. The second tracking sees small, nearly translational motion in a window
   shaped as the face there is, which optical flow measures without the bias that
   foreshortening inside its window causes (measured: on V-folds the residual after the best
   bent-sheet fit drops from 0.3-0.7 px to 0.02-0.2 px). Up to liveness-16 the turned frame
   was warped back by the plane's homography alone, which undoes the dominant plane's
   foreshortening only: on a print folded down the middle and turned 30 degrees, one half
   faces the camera and the other is turned 60 degrees from it, squeezed to half inside the
   window, and its tracks slid by up to a pixel.
   A point whose neighbourhood's image area shrinks to less than ``SQUEEZED`` of the face's
   median change is left out: that part of the face is seen nearly edge-on in the turned
   frame, its texture squeezed into a few pixels, and its track follows the squeeze more than
   the surface. A folded print turned far shows its far half so, with its cut edge moving
   against the scene; a head turned 10 to 16 degrees, where depth is measured
   (``Thresholds.depth_max_degrees``), shows little of its face so. Together (liveness-17),
   over the frames whole sessions measured (faces 180 px, noisy camera): the cut-out fold
   printed short and held close that passed a session of ``barack_obama/1`` read 0.06 to
   0.16 px of relief in each of its 20 pairs (0.18 to 1.03 before); such prints' clips read
   depth figures of at most 0.68 (2.10 before), honest heads' at least 1.52 (generic,
   canonical+hair, the ellipsoid, canonical+glasses; ``benchmarks/liveness.py``; README).
2. The parallax of a point relative to a plane is proportional to its height off that plane
   over its depth, along the direction of the epipole (nearly horizontal for a turn of the
   head). Its component along the main direction of the residuals is a relative depth; that
   direction is fitted robustly (``epipolar_direction``), as tracks that slide along hair
   are the residuals' largest. At a turn of 10 degrees a face's relief moves its tracks
   about as much as noise does, and the fit may follow the noise: on an honest generic
   head (``joe_biden/2``, liveness-15) a third of the frames turned 10 to 12 degrees were
   read along a near-vertical line and measured 0.10 to 0.21 px of relief, 0.31 to 0.53 px
   along the horizontal. So the fit is checked (``OFF_TURN_DEGREES``) against the
   directions the head's motion may have (``motion_directions``): the turn's (the face's
   horizontal), and the one the two frames' head poses say, for a head that also tilts
   (turning on its way down from a look up); a fit far from both gives way to the turn's.
   Neither replaces the fit: the poses' direction alone lies up to 27 degrees off an
   honest turn's parallax (5 landmarks read a turn with a few degrees of pitch it does not
   have), and up to 70 degrees off a folded print's, whose landmarks the fold bends; read
   along it, a print's depth is noise of another direction, another draw.
3. A sheet bent or folded along rulings in any direction theta has, in a pinhole camera, a
   relative depth g(s) + b*t (+ c*s*t, from perspective), with s the image coordinate across
   the rulings and t the one along them, g smooth with at most one crease. That model (a cubic
   in s plus one hinge at a crease searched over the face, b*t and c*s*t) is fitted to the
   relative depths by robust least squares for every direction theta, every 7.5 degrees.
4. ``relief`` is the 75th percentile, over the points, of what the best of those fits leaves
   unexplained, each point's first averaged with its nearest neighbours'
   (``RELIEF_NEIGHBOURS`` points together). A face's departure from a sheet is a shape that
   neighbouring points share (the nose stands out together, an eye socket sinks together),
   while tracking noise from sensor noise and compression is each point's own and averages
   out. A quantile rather than the median: the departure is strongest round the nose and
   eyes, which hold a minority of the tracked points. Noise, the odd lost track and how far
   a real crease is from the model's are what is left on bent prints.

Limits: the relief a turn shows grows with the size of the face, and one pair of frames is
noisy (``liveness.verdict`` judges the median over a dozen). Measured on synthetic clips of
seven honest head models (``benchmarks/liveness_depth.py``, 25 faces-dev photos, faces 150 to
250 px, clean and through noise and H.264): clip medians of at least 0.33 px at faces 150 px
wide, 0.42 at 180 and 0.50 at 250; prints at most 0.23 px, except prints cut out along the
face and folded, which read up to 0.49 px at 180 px and 0.43 at 250 once turned past 18
degrees (2 of 150 pass). Averaging each point with its neighbours raised the ratio of the
smallest honest clip to the largest print at 150 px from 1.31 (liveness-9) to 1.67, and the
sheets solved together made a pair four times faster to measure (about 0.1 s then; since
liveness-23 five trackings a pair, 0.34 s on 2 cores, ``benchmarks/liveness_replay.py``).
Two public recordings are measured (README); real enrolment footage is not.
A sheet bent two ways at once (pressed over a ball or a face-shaped mould) is not a ruled
surface, and neither is a mask: neither is refused by this measure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from likeness.faces.headpose import HeadPose

#: Ruling directions tried (degrees from the image's vertical), and where a crease may lie
#: (face widths from the face box's centre, across the rulings).
RULING_STEP_DEGREES = 7.5
CREASE_SPAN, CREASE_STEP = 0.4, 0.05
#: The share of tracked points whose unexplained depth ``relief`` reports ...
RELIEF_QUANTILE = 75.0
#: ... each averaged with its nearest neighbours' (this many points together).
RELIEF_NEIGHBOURS = 15
MIN_POINTS = 12
#: Each point is tracked again with its window warped by the affine motion of this many
#: nearest points' first tracks (module docstring, step 1), in a window of 2 * PATCH_HALF + 1
#: pixels ...
LOCAL_NEIGHBOURS = 20
PATCH_HALF = 20
#: A point whose neighbourhood's image area shrinks to less than this share of the face's
#: median change is left out: that part of the face is seen nearly edge-on in the turned
#: frame (module docstring, step 1).
SQUEEZED = 0.7
#: The direction fitted to the parallax gives way to a turn's when it lies further than
#: this from it and from the head poses' (``epipolar_direction``; module docstring, step 2).
#: On the honest generic head of ``joe_biden/2`` (six sessions, liveness-15), fits that
#: followed noise lay 55 to 80 degrees from the poses' direction; fits that followed the
#: head, at most 30 from it (turning while tilting included) and 20 from a pure turn's.
OFF_TURN_DEGREES = 45.0


#: Points are looked for inside the oval inscribed in the face box, shrunk to these shares
#: of its half-width and half-height: the face's own relief (brows, eye sockets, nose,
#: cheeks, lips, chin), not its outline, where a head and a print cut out along the face
#: both move against the background behind them. Liveness passes the box the face mesh's
#: fit gives the neutral face (``headpose.HeadReading.box``, liveness-22): HOG's box, used
#: before, comes in steps of its pyramid, and one frame of an honest turn read 0.49 to 1.35
#: px of relief in five boxes a step apart, as the oval took in more or less of the outline
#: (``test_a_turns_relief_does_not_depend_on_where_the_detectors_box_fell``).
FACE_OVAL = (0.8, 0.9)
#: ... in a grid of GRID x GRID cells over the box, at most PER_CELL points in each: every
#: part of the face is heard, not only its busiest texture.
GRID, PER_CELL = 6, 10
#: How far (pixels) round a cell ``track_points`` reads when looking for its corners: OpenCV's
#: corner measure reads 3 (its 3 x 3 Sobel, 3 x 3 block and 3 x 3 local maximum), and one
#: more keeps the cell off the one-pixel border ``goodFeaturesToTrack`` skips.
CORNER_REACH = 4
#: Which corners the grid picks moves with the box by a pixel or two, and with them the
#: relief one tracking reads: the honest generic head of ``john_lennon/1`` (180 px) read
#: depth figures of 1.23 to 1.60 in its six live sessions' box, 1.25 to 1.85 in the same box
#: moved 2 px (liveness-22). So a pair is measured in the box and in the box moved
#: ``BOX_SHIFT`` of its width each way (``BOX_SHIFTS``, in steps of that), and ``turn_depth``
#: reports the median of the five trackings (liveness-23).
BOX_SHIFT = 0.015
BOX_SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
#: A head that tilts sideways (rolls) as it turns turns the face in the image, and the first
#: tracking's square windows (``track_points``) do not follow that: the canonical head of
#: ``barack_obama/1`` (180 px) turned 14 degrees read 0.95 px of relief level, 0.53 rolled
#: 15 degrees and 0.11 rolled 25; from a public recording's frame tilted some 20 degrees,
#: 1 to 45 of some 265 points tracked (``benchmarks/liveness_real_clip.py``). So a turned
#: frame rolled more than this from the neutral one (as the poses read it) is turned back
#: first (``rolled_back``; liveness-24): 0.86 and 0.91 px then. A turn of the image is a
#: homography, which neither measure sees; the synthetic heads' turns roll 1 to 4.4 degrees
#: as read under liveness-24 (level crops, the roll about the camera's axis), and are
#: measured as before.
ROLL_UNDONE_DEGREES = 8.0


def face_oval(shape: tuple[int, ...], box: tuple[int, int, int, int]) -> np.ndarray:
    """A mask (uint8, 255 inside) of the oval points are tracked in (``FACE_OVAL``)."""
    import cv2

    x0, y0, x1, y1 = box
    mask = np.zeros(shape[:2], np.uint8)
    centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
    axes = (round(FACE_OVAL[0] * (x1 - x0) / 2), round(FACE_OVAL[1] * (y1 - y0) / 2))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    return mask


def track_points(
    a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Corners inside the face's oval (``FACE_OVAL``) in grey image ``a`` and where they
    are in grey image ``b``: (source, destination), each N x 2, keeping only tracks that come
    back to where they started (forward-backward check): a lost track is noise, not depth.

    Corners are taken cell by cell (``GRID``, ``PER_CELL``), each cell's best ones however
    weak against the whole face's: the strongest corners of a face cluster in a beard, teeth
    or hair, and a relief read off the mouth alone is a nearly flat patch's. The outline is
    left out: a print cut out along the face and held in front of the scene moves against
    the background there as a head does (``benchmarks/liveness_depth.py``, "cut-out"
    prints: with points up to the box's edge, one read 4.1 px of relief)."""
    import cv2

    x0, y0, x1, y1 = box
    h, w = a.shape[:2]
    oval = face_oval(a.shape, box)
    xs = np.linspace(max(0, x0), min(w, x1), GRID + 1).astype(int)
    ys = np.linspace(max(0, y0), min(h, y1), GRID + 1).astype(int)
    gap = max(2, (x1 - x0) // 40)
    found = []
    for i in range(GRID):
        for j in range(GRID):
            in_cell = oval[ys[j] : ys[j + 1], xs[i] : xs[i + 1]]
            if not in_cell.any():
                continue
            # The cell's corners, looked for in the cell and a margin round it (a corner's
            # measure reads CORNER_REACH pixels round it): the same corners as in the whole
            # image with the cell as mask, without measuring every pixel of it 36 times.
            cx0, cy0 = max(0, xs[i] - CORNER_REACH), max(0, ys[j] - CORNER_REACH)
            cx1, cy1 = min(w, xs[i + 1] + CORNER_REACH), min(h, ys[j + 1] + CORNER_REACH)
            cell = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
            inside = (slice(ys[j] - cy0, ys[j + 1] - cy0), slice(xs[i] - cx0, xs[i + 1] - cx0))
            cell[inside] = in_cell
            pts = cv2.goodFeaturesToTrack(a[cy0:cy1, cx0:cx1], PER_CELL, 0.001, gap, mask=cell)
            if pts is not None:
                found.append(pts.reshape(-1, 2) + np.float32([cx0, cy0]))
    if not found:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    return _track(a, b, np.vstack(found), (21, 21), 3)


def _track(
    a: np.ndarray, b: np.ndarray, pts: np.ndarray, window: tuple[int, int], levels: int
) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    lk = {"winSize": window, "maxLevel": levels}
    start = pts.reshape(-1, 1, 2).astype(np.float32)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(a, b, start, None, **lk)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(b, a, moved, None, **lk)
    returned = np.linalg.norm(back.reshape(-1, 2) - start.reshape(-1, 2), axis=1) < 1.0
    good = (status.reshape(-1) == 1) & (status_back.reshape(-1) == 1) & returned
    return start.reshape(-1, 2)[good], moved.reshape(-1, 2)[good]


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _face_plane(
    ga: np.ndarray, gb: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Points tracked on the face from grey image ga to gb, and the homography of the face's
    dominant plane between them: (source, destination, homography), or None when too few
    points track."""
    import cv2

    src, dst = track_points(ga, gb, box)
    if len(src) < MIN_POINTS:
        return None
    homography, _ = cv2.findHomography(src, dst, cv2.RANSAC, 2.0)
    if homography is None:
        return None
    return src, dst, homography


def _off_plane(src: np.ndarray, dst: np.ndarray, homography: np.ndarray) -> float:
    import cv2

    projected = cv2.perspectiveTransform(src.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return float(np.median(np.linalg.norm(projected - dst, axis=1)))


def _plane_relative(
    ga: np.ndarray, gb: np.ndarray, src: np.ndarray, dst: np.ndarray, homography: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Points on the face in grey image ga and their parallax (pixels, N x 2) relative to
    the face's dominant plane: each point tracked again into gb with its window warped by its
    neighbourhood's motion (``_track_warped``), and mapped back through the plane's
    homography (module docstring, step 1); None when too few points track."""
    import cv2

    affines = _local_affines(src, dst, LOCAL_NEIGHBOURS)
    # How much each neighbourhood's image area changed, against the face's median change.
    area = np.linalg.det(affines[:, :, :2])
    seen = area >= SQUEEZED * np.median(area)
    src, moved = _track_warped(ga, gb, src[seen], affines[seen])
    if len(src) < MIN_POINTS:
        return None
    on_plane = cv2.perspectiveTransform(
        moved.reshape(-1, 1, 2).astype(np.float64), np.linalg.inv(homography)
    ).reshape(-1, 2)
    return src, on_plane - src


def _nearest(points: np.ndarray, k: int) -> np.ndarray:
    """Each point's k nearest points (itself included), as indices: N x k."""
    k = min(k, len(points))
    distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    return np.argpartition(distances, k - 1, axis=1)[:, :k]


def _huber_least_squares(
    design: np.ndarray, target: np.ndarray, rounds: int, floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Batches of linear fits (``design`` B x N x p, ``target`` B x N x q), each by least
    squares reweighted by Huber's rule on the size of a point's residual (its norm over q),
    so that lost tracks do not drag it, all at once through the normal equations: about ten
    times faster than one ``lstsq`` a fit. A tiny ridge keeps a zero column solvable (its
    coefficient is then 0); ``floor`` keeps the Huber bound above 0 when most residuals
    are. Returns the coefficients (B x p x q) and the residuals (B x N x q)."""
    weights = np.ones(design.shape[:2])
    ridge = 1e-9 * np.eye(design.shape[2])
    residual = target
    coef = np.zeros((design.shape[0], design.shape[2], target.shape[2]))
    for _ in range(rounds):
        weighted_t = (design * weights[..., None]).transpose(0, 2, 1)
        coef = np.linalg.solve(weighted_t @ design + ridge, weighted_t @ target)
        residual = target - design @ coef
        size = np.linalg.norm(residual, axis=2)
        bound = 1.345 * (1.4826 * np.median(size, axis=1, keepdims=True) + floor)
        weights = np.where(size <= bound, 1.0, bound / np.maximum(size, 1e-9))
    return coef, residual


def _local_affines(src: np.ndarray, dst: np.ndarray, k: int, rounds: int = 3) -> np.ndarray:
    """The affine motion (N x 2 x 3, from ga's pixels to gb's) of each point's neighbourhood
    (its k nearest points' first tracks), fitted robustly (``_huber_least_squares``: a lost
    track among them does not drag it)."""
    src, dst = src.astype(np.float64), dst.astype(np.float64)
    nearest = _nearest(src, k)
    design = np.concatenate([src[nearest], np.ones((*nearest.shape, 1))], axis=2)  # N x k x 3
    coef, _ = _huber_least_squares(design, dst[nearest], rounds, floor=1e-3)  # N x 3 x 2
    return coef.transpose(0, 2, 1)


def _track_warped(
    ga: np.ndarray, gb: np.ndarray, src: np.ndarray, affines: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Track each point from ga into gb again, comparing its window in ga with gb resampled
    through its neighbourhood's affine motion (``affines``, N x 2 x 3): (source, where each is
    in gb), keeping tracks that come back to where they started (module docstring, step 1)."""
    import cv2

    half = PATCH_HALF
    size = 2 * half + 1
    centre = np.array([[half, half]], np.float32)
    moved = np.zeros((len(src), 2))
    tracked = np.zeros(len(src), bool)
    for i, ((x, y), affine) in enumerate(zip(src, affines, strict=True)):
        # The window's pixel (u, v) lies at (x - half + u, y - half + v) in ga and at that
        # point's image under the neighbourhood's motion in gb.
        to_b = affine @ np.array([[1.0, 0.0, x - half], [0.0, 1.0, y - half], [0.0, 0.0, 1.0]])
        b = cv2.warpAffine(
            gb,
            to_b,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        a = cv2.getRectSubPix(ga, (size, size), (float(x), float(y)))
        _, there = _track(a, b, centre, (15, 15), 1)
        if not len(there):
            continue
        moved[i] = to_b[:, :2] @ there[0] + to_b[:, 2]
        tracked[i] = True
    return src[tracked], moved[tracked]


def _sheet_designs(centred: np.ndarray) -> np.ndarray:
    """Every bent sheet's design matrix (module docstring, step 3), one per ruling direction
    and crease (none first): M x N x 7 for N points (face widths from the box's centre).

    A sheet bent along rulings parallel to t has relative depth g(s) + b*t + c*s*t, with g
    a cubic in s plus a hinge max(0, s - crease); without a crease the hinge column is 0."""
    thetas = np.radians(np.arange(0.0, 180.0, RULING_STEP_DEGREES))
    across = np.stack([np.cos(thetas), np.sin(thetas)], axis=1)
    s = across @ centred.T  # directions x points
    t = np.stack([-across[:, 1], across[:, 0]], axis=1) @ centred.T
    creases = np.arange(-CREASE_SPAN, CREASE_SPAN + 1e-9, CREASE_STEP)
    smooth = np.stack([np.ones_like(s), s, s * s, s**3, t, s * t], axis=-1)
    hinge = np.maximum(0.0, s[:, None, :] - creases[None, :, None])
    hinge = np.concatenate([np.zeros_like(hinge[:, :1]), hinge], axis=1)
    directions, shapes, n = hinge.shape
    smooth = np.broadcast_to(smooth[:, None], (directions, shapes, n, 6))
    return np.concatenate([smooth, hinge[..., None]], axis=-1).reshape(-1, n, 7)


def _best_sheet_residual(designs: np.ndarray, y: np.ndarray, rounds: int = 5) -> np.ndarray:
    """The signed residual of the bent sheet that best explains ``y`` (smallest median
    residual), every sheet (about 400 fits of 7 unknowns) fitted at once and robustly
    (``_huber_least_squares``: lost tracks and a face's own relief do not drag the fit)."""
    target = np.broadcast_to(y[None, :, None], (*designs.shape[:2], 1))
    _, residual = _huber_least_squares(designs, target, rounds, floor=1e-6)
    residual = residual[..., 0]
    return residual[int(np.argmin(np.median(np.abs(residual), axis=1)))]


def neighbourhood_mean(points: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Each point's value averaged with those of its k - 1 nearest neighbours."""
    return values[_nearest(points, k)].mean(axis=1)


def epipolar_direction(
    residual: np.ndarray, expected: Sequence[np.ndarray] = (), rounds: int = 6
) -> np.ndarray:
    """The main direction of plane-relative parallax (N x 2 pixels): the epipole's, nearly
    horizontal for a turn about a vertical axis (module docstring, step 2).

    Fitted robustly, with points down-weighted by Huber's rule on how far their parallax
    lies off the line: a few tracks that slide along hair or an outline can move 15-20 px
    across the epipolar direction, and a plain principal direction (an SVD, which weighs
    each point by its squared size) then turns towards them. Depth read along that wrong
    direction mixes their slide into every point's depth, which no sheet explains: on a
    V-folded print (benchmarks/liveness.py, seed 17, rose_leslie/2.jpg) three such tracks
    turned the direction 45 degrees and raised the fold's relief from 0.66 to 0.97 px, past
    the threshold of the time (0.75, liveness-8).

    ``expected``: the directions the head's motion may have (``motion_directions``: the
    turn's, then the poses'). A fit further than ``OFF_TURN_DEGREES`` from every one of
    them followed noise, and the first is taken instead (module docstring, step 2)."""
    weights = np.ones(len(residual))
    direction = np.array([1.0, 0.0])
    for _ in range(rounds):
        direction = np.linalg.svd(residual * weights[:, None], full_matrices=False)[2][0]
        off_line = np.abs(residual @ np.array([-direction[1], direction[0]]))
        k = 1.345 * (1.4826 * np.median(off_line) + 1e-6)
        weights = np.sqrt(np.where(off_line <= k, 1.0, k / np.maximum(off_line, 1e-9)))
    if expected and all(_degrees_apart(direction, e) > OFF_TURN_DEGREES for e in expected):
        return expected[0]
    return direction


def _degrees_apart(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between two lines through the origin, given by unit vectors (0 to 90)."""
    return float(np.degrees(np.arccos(min(1.0, abs(float(a @ b))))))


def turn_direction(before: HeadPose, after: HeadPose) -> np.ndarray:
    """The image direction (a unit vector, x right and y down) along which a head moving
    from pose ``before`` to ``after`` moves points off its plane: the epipole's direction
    (module docstring, step 2). A turn moves points along the face's horizontal, a look up
    along its vertical, both as the face lies in the image (``before.roll``); only the line
    matters, not its sign."""
    r = np.radians(before.roll)
    across = np.array([np.cos(r), np.sin(r)])  # the face's horizontal in the image
    up = np.array([np.sin(r), -np.cos(r)])  # the face's vertical, upwards
    direction = (after.yaw - before.yaw) * across + (after.pitch - before.pitch) * up
    size = float(np.linalg.norm(direction))
    if size == 0.0:
        raise ValueError("a head that neither turned nor tilted shows no depth")
    return direction / size


def motion_directions(start: HeadPose, turned: HeadPose) -> tuple[np.ndarray, np.ndarray]:
    """The image directions a head moving from pose ``start`` to ``turned`` may move points
    along (``epipolar_direction``'s ``expected``): the turn's alone, then the poses' (a head
    tilting as it turns)."""
    return (
        turn_direction(start, replace(start, yaw=turned.yaw)),
        turn_direction(start, turned),
    )


def _relief(
    points: np.ndarray,
    residual: np.ndarray,
    box: tuple[int, int, int, int],
    expected: Sequence[np.ndarray] = (),
) -> float:
    """The relief of plane-relative parallax ``residual`` at ``points`` (module docstring,
    steps 2 to 4), read along the direction fitted to it, checked by ``expected``."""
    depth = residual @ epipolar_direction(residual, expected)
    x0, y0, x1, y1 = box
    centred = (points - [(x0 + x1) / 2, (y0 + y1) / 2]) / max(1, x1 - x0)
    unexplained = _best_sheet_residual(_sheet_designs(centred), depth)
    smoothed = neighbourhood_mean(points, unexplained, RELIEF_NEIGHBOURS)
    return float(np.percentile(np.abs(smoothed), RELIEF_QUANTILE))


def turn_depth(
    a: np.ndarray,
    b: np.ndarray,
    box: tuple[int, int, int, int],
    expected: Sequence[np.ndarray] = (),
    roll: float = 0.0,
) -> tuple[float, float]:
    """(parallax, relief) of the face's motion from image a to b (grey or RGB), in pixels,
    from tracking the face (module docstring); a tracking too few points give counts as 0,
    and the median is 0 when three of the five are. ``expected``: the image directions the
    head's motion between the frames may move points along (``motion_directions``: the
    turn's, then the poses'), which check the direction fitted to the parallax: noise can
    turn it on a small turn (``epipolar_direction``; module docstring, step 2). ``roll``:
    how far the head rolled from a to b (degrees, ``HeadPose.roll``'s sign), turned back
    when it is more than ``ROLL_UNDONE_DEGREES`` (``rolled_back``).

    Both are the median of five trackings, in the face box and in the box moved a few
    pixels each way (``shifted_boxes``, ``BOX_SHIFT``). Parallax is how far that motion is
    from one homography (a plane), as the median residual of tracked points. Only points
    inside the face box count: a print held in front of a real background moves as a plane
    inside its own outline, even though it moves differently from the background. Relief
    is how far the face's depth is from any sheet bent or folded one way."""
    ga, gb = _grey(a), _grey(b)
    if abs(roll) > ROLL_UNDONE_DEGREES:
        gb = rolled_back(gb, box, roll)
    boxes = shifted_boxes(box)
    # OpenCV and numpy's linear algebra let go of the GIL: on 2 cores the five trackings
    # take about 0.7 of their time one after another.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with ThreadPoolExecutor(min(len(boxes), cores or 1)) as pool:
        measures = list(pool.map(lambda shifted: _box_depth(ga, gb, shifted, expected), boxes))
    return float(np.median([p for p, _ in measures])), float(np.median([r for _, r in measures]))


def rolled_back(image: np.ndarray, box: tuple[int, int, int, int], roll: float) -> np.ndarray:
    """``image`` turned about the face box's centre so that a head rolled ``roll`` degrees
    (clockwise in the image, ``HeadPose.roll``) stands as it did (``ROLL_UNDONE_DEGREES``)."""
    import cv2

    x0, y0, x1, y1 = box
    # OpenCV's positive angle turns the image anticlockwise, as a negative roll does.
    turn = cv2.getRotationMatrix2D(((x0 + x1) / 2, (y0 + y1) / 2), roll, 1.0)
    h, w = image.shape[:2]
    return cv2.warpAffine(
        image, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def shifted_boxes(box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The face box, then the same box moved ``BOX_SHIFT`` of its width right, left, down
    and up: where ``turn_depth`` measures (its median over them)."""
    x0, y0, x1, y1 = box
    d = round(BOX_SHIFT * (x1 - x0))
    return [(x0 + i * d, y0 + j * d, x1 + i * d, y1 + j * d) for i, j in BOX_SHIFTS]


def _box_depth(
    ga: np.ndarray,
    gb: np.ndarray,
    box: tuple[int, int, int, int],
    expected: Sequence[np.ndarray],
) -> tuple[float, float]:
    """(parallax, relief) from one tracking of the points of one face box's oval."""
    plane = _face_plane(ga, gb, box)
    if plane is None:
        return 0.0, 0.0
    measured = _plane_relative(ga, gb, *plane)
    return _off_plane(*plane), 0.0 if measured is None else _relief(*measured, box, expected)
