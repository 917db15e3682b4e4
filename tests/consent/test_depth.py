"""The relief measure on depths made up point by point: a bent sheet leaves only noise, a
face's shape does not, and the sheets solved all at once are the fits one would make one by
one."""

import numpy as np
import pytest

from likeness.consent import depth
from likeness.consent.liveness import THRESHOLDS
from likeness.faces.headpose import HeadPose

pytestmark = pytest.mark.no_catalog  # the SQLite run covers it

BOX = (100, 100, 250, 250)  # a face 150 px wide, the narrowest a session accepts


def _points(rng: np.random.Generator, n: int = 200) -> np.ndarray:
    """Points spread over the face's inner oval, as ``depth.track_points`` takes them."""
    x0, y0, x1, y1 = BOX
    angle, radius = rng.uniform(0, 2 * np.pi, n), np.sqrt(rng.uniform(0, 1, n))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax, ay = depth.FACE_OVAL[0] * (x1 - x0) / 2, depth.FACE_OVAL[1] * (y1 - y0) / 2
    return np.column_stack([cx + ax * radius * np.cos(angle), cy + ay * radius * np.sin(angle)])


def _relief_of(points: np.ndarray, depths: np.ndarray, rng: np.random.Generator) -> float:
    """Relief of plane-relative parallax that moves each point ``depths`` px sideways (a turn
    about a vertical axis), with a little tracking noise across that direction too."""
    across = rng.normal(0, 0.05, len(points))
    return depth._relief(points, np.column_stack([depths, across]), BOX)


def _centred(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = BOX
    return ((points[:, 0] - (x0 + x1) / 2) / (x1 - x0), (points[:, 1] - (y0 + y1) / 2) / (x1 - x0))


def _face(points: np.ndarray, scale: float) -> np.ndarray:
    """A face's relative depth (px of parallax): the nose in front, the eye sockets behind
    the brow and cheekbones, the chin receding."""
    u, v = _centred(points)
    nose = np.exp(-((u / 0.08) ** 2 + ((v - 0.05) / 0.18) ** 2))
    eyes = sum(
        np.exp(-(((u - side) / 0.09) ** 2 + ((v + 0.1) / 0.06) ** 2)) for side in (-0.2, 0.2)
    )
    return scale * (nose - 0.6 * eyes - 0.5 * np.clip(v - 0.25, 0, None) / 0.2)


@pytest.mark.parametrize("seed", range(5))
def test_a_bent_sheet_leaves_only_its_noise_and_a_face_does_not(seed):
    rng = np.random.default_rng(seed)
    points = _points(rng)
    u, v = _centred(points)
    theta = rng.uniform(0, np.pi)
    s = u * np.cos(theta) + v * np.sin(theta)
    noise = rng.normal(0, 0.3, len(points))  # sensor noise and compression, per point
    cylinder = 3.0 * s**2 - 0.8 * s
    fold = 2.5 * np.abs(s - rng.uniform(-0.2, 0.2))
    sheets = [_relief_of(points, sheet + noise, rng) for sheet in (cylinder, fold)]
    face = _relief_of(points, _face(points, 4.0) + noise, rng)
    assert max(sheets) < 0.5 * THRESHOLDS.relief_min_px
    assert face > THRESHOLDS.relief_min_px and face > 2.5 * max(sheets)


def test_averaging_over_neighbours_takes_out_noise_not_a_faces_shape():
    rng = np.random.default_rng(7)
    points = _points(rng, 250)
    noise = rng.normal(0, 0.3, len(points))
    alone = np.percentile(np.abs(noise), depth.RELIEF_QUANTILE)
    together = np.percentile(
        np.abs(depth.neighbourhood_mean(points, noise, depth.RELIEF_NEIGHBOURS)),
        depth.RELIEF_QUANTILE,
    )
    assert together < 0.4 * alone  # about 1 / sqrt(15)
    shape = _face(points, 2.0)
    shape = shape - shape.mean()
    smoothed = depth.neighbourhood_mean(points, shape, depth.RELIEF_NEIGHBOURS)
    assert np.percentile(np.abs(smoothed), 75) > 0.6 * np.percentile(np.abs(shape), 75)


def _one_sheet_at_a_time(designs: np.ndarray, y: np.ndarray, rounds: int = 5) -> np.ndarray:
    """The same fits as ``depth._best_sheet_residual``, each by ``np.linalg.lstsq`` in turn
    (how liveness-9 fitted them, 10 times slower)."""
    best, best_residual = np.inf, y
    for design in designs:
        weights = np.ones_like(y)
        for _ in range(rounds):
            root = np.sqrt(weights)
            coef, *_ = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)
            residual = y - design @ coef
            size = np.abs(residual)
            k = 1.345 * (1.4826 * np.median(size) + 1e-6)
            weights = np.where(size <= k, 1.0, k / np.maximum(size, 1e-9))
        score = float(np.median(np.abs(residual)))
        if score < best:
            best, best_residual = score, residual
    return best_residual


@pytest.mark.parametrize("seed", range(3))
def test_every_sheet_solved_at_once_is_the_fit_made_one_at_a_time(seed):
    rng = np.random.default_rng(seed)
    points = _points(rng, 150)
    u, v = _centred(points)
    y = _face(points, 1.5) + 2.0 * u**2 + rng.normal(0, 0.2, len(points))
    y[:5] += 6.0  # lost tracks
    designs = depth._sheet_designs(np.column_stack([u, v]))
    assert designs.shape == (24 * 18, len(points), 7)
    np.testing.assert_allclose(
        depth._best_sheet_residual(designs, y), _one_sheet_at_a_time(designs, y), atol=1e-4
    )


def _angle_from_horizontal(direction: np.ndarray) -> float:
    """How far a line lies from the image's horizontal, in degrees (0 to 90)."""
    return float(np.degrees(np.arccos(min(1.0, abs(direction[0]) / np.linalg.norm(direction)))))


def test_a_turn_moves_points_along_the_face_as_it_lies_in_the_image():
    level = HeadPose(0.0, 0.0, 0.0)
    assert np.allclose(abs(depth.turn_direction(level, HeadPose(12.0, 0.0, 0.0))), [1, 0])
    assert np.allclose(abs(depth.turn_direction(level, HeadPose(0.0, -9.0, 0.0))), [0, 1])
    # A head tilted 30 degrees clockwise in the image turns along its own eye line.
    tilted = HeadPose(0.0, 0.0, 30.0)
    turned = depth.turn_direction(tilted, HeadPose(-15.0, 0.0, 30.0))
    assert np.isclose(abs(turned @ [np.cos(np.radians(30)), np.sin(np.radians(30))]), 1.0)
    # Turning and looking up at once: the line between the two (y grows downwards).
    both = depth.turn_direction(level, HeadPose(10.0, 10.0, 0.0))
    assert np.isclose(both[0] * both[1], -0.5)
    with pytest.raises(ValueError, match="neither turned nor tilted"):
        depth.turn_direction(tilted, tilted)


def test_a_fit_that_followed_noise_gives_way_to_the_poses_direction():
    """A small turn: a face's relief moves its tracks sideways by less than the rest of the
    motion the plane left (compression shifting blocks of the frame, here a smooth
    stretch) moves them up and down, and the fitted direction follows that. Read along it,
    the depth is a sheet's; the poses say the head turned, and read along the turn, the
    relief is the face's."""
    rng = np.random.default_rng(3)
    points = _points(rng)
    _, v = _centred(points)
    sideways = _face(points, 3.0) + rng.normal(0, 0.05, len(points))
    residual = np.column_stack([sideways, 4.0 * v + rng.normal(0, 0.1, len(points))])
    assert _angle_from_horizontal(depth.epipolar_direction(residual)) > 60
    turned = np.array([1.0, 0.0])
    assert _angle_from_horizontal(depth.epipolar_direction(residual, (turned,))) == 0
    fitted = depth._relief(points, residual, BOX)
    checked = depth._relief(points, residual, BOX, (turned,))
    assert checked > THRESHOLDS.relief_min_px > 3 * fitted


def test_a_fit_that_followed_the_turn_is_kept_where_the_poses_read_it_askew():
    """5 landmarks read a turn with a few degrees of pitch it does not have: the poses'
    direction then lies some 25 degrees off, and the parallax's own is the better one."""
    rng = np.random.default_rng(4)
    points = _points(rng)
    residual = np.column_stack(
        [_face(points, 4.0) + rng.normal(0, 0.1, len(points)), rng.normal(0, 0.1, len(points))]
    )
    turn = np.array([1.0, 0.0])
    askew = np.array([np.cos(np.radians(25)), -np.sin(np.radians(25))])
    kept = depth.epipolar_direction(residual, (turn, askew))
    assert _angle_from_horizontal(kept) < 5
    assert np.allclose(kept, depth.epipolar_direction(residual))


def test_a_fit_that_followed_a_head_tilting_as_it_turned_is_kept():
    """A head turning on its way down from a look up moves points along a steep line, far
    from a turn's: the poses say it tilted too, and the fit along that line is kept."""
    rng = np.random.default_rng(5)
    points = _points(rng)
    steep = np.array([np.cos(np.radians(70)), -np.sin(np.radians(70))])
    relief = _face(points, 4.0)[:, None] * steep
    residual = relief + rng.normal(0, 0.1, (len(points), 2))
    turn = np.array([1.0, 0.0])
    poses = np.array([np.cos(np.radians(55)), -np.sin(np.radians(55))])
    kept = depth.epipolar_direction(residual, (turn, poses))
    assert abs(kept @ steep) > np.cos(np.radians(5))
    assert np.allclose(depth.epipolar_direction(residual, (turn,)), turn)


def test_each_neighbourhoods_motion_is_its_own_halfs_and_a_lost_track_does_not_drag_it():
    """A print folded down the middle moves each half by its own motion: a point's window is
    warped by its neighbourhood's (``depth._local_affines``), fitted robustly, so a track
    lost among its neighbours does not bend it."""
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 200, size=(120, 2))
    left, right = (
        np.array([[1.1, 0.05, 4.0], [0.0, 1.0, 2.0]]),
        np.array([[0.5, 0.0, 60.0], [0.02, 1.0, 1.0]]),
    )
    dst = np.where(
        (src[:, 0] < 100)[:, None],
        src @ left[:, :2].T + left[:, 2],
        src @ right[:, :2].T + right[:, 2],
    )
    deep_left = int(np.argmin(np.linalg.norm(src - [30, 100], axis=1)))
    neighbours = np.argsort(np.linalg.norm(src - src[deep_left], axis=1))[1:20]
    dst[neighbours[5]] += [25.0, -18.0]  # a lost track
    affines = depth._local_affines(src, dst, depth.LOCAL_NEIGHBOURS)
    assert np.allclose(affines[deep_left], left, atol=0.02)
    deep_right = int(np.argmin(np.linalg.norm(src - [170, 100], axis=1)))
    assert np.allclose(affines[deep_right], right, atol=0.02)


def _texture(seed: int, size: int = 240) -> np.ndarray:
    import cv2

    noise = np.random.default_rng(seed).uniform(0, 255, (size // 4, size // 4))
    return (
        cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)
    )


def test_a_window_warped_by_its_neighbourhood_tracks_a_squeezed_surface_without_sliding():
    """The far half of a folded print turned 30 degrees is squeezed to about half its width.
    Tracked in a square window, a point on it slides by pixels (2.4 here); tracked with
    the window warped by its neighbourhood's motion (``depth._track_warped``), it lands where
    the surface took it."""
    import cv2

    a = _texture(0)
    squeeze = np.array([[0.5, 0.0, 70.0], [0.0, 1.0, 3.0]])
    b = cv2.warpAffine(a, squeeze, a.shape[::-1], flags=cv2.INTER_LINEAR)
    rng = np.random.default_rng(1)
    src = rng.uniform(80, 160, size=(40, 2)).astype(np.float32)
    truth = src @ squeeze[:, :2].T + squeeze[:, 2]
    affines = np.repeat(squeeze[None], len(src), axis=0)
    kept, moved = depth._track_warped(a, b, src, affines)
    assert len(kept) >= 35
    error = np.linalg.norm(moved - (kept @ squeeze[:, :2].T + squeeze[:, 2]), axis=1)
    assert np.median(error) < 0.1, np.median(error)
    # A square window, started where the surface went, drifts off it.
    start = truth.reshape(-1, 1, 2).astype(np.float32)
    plain, status, _ = cv2.calcOpticalFlowPyrLK(
        a,
        b,
        src.reshape(-1, 1, 2),
        start,
        winSize=(15, 15),
        maxLevel=1,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
    )
    slid = np.linalg.norm(plain.reshape(-1, 2) - truth, axis=1)[status.reshape(-1) == 1]
    assert np.median(slid) > 5 * np.median(error), (np.median(slid), np.median(error))


def test_the_part_of_a_face_a_turn_squeezes_edge_on_is_left_out():
    """A fold's far half seen nearly edge-on: its neighbourhoods' area shrinks to 0.4 of the
    near half's, under ``depth.SQUEEZED`` of the face's median change, and none of its points
    is measured; the near half's are."""
    import cv2

    a = _texture(2)
    far = np.array([[0.4, 0.0, 72.0], [0.0, 1.0, 0.0]])  # the near half stays put
    b = a.copy()
    b[:, 120:] = cv2.warpAffine(a, far, a.shape[::-1], flags=cv2.INTER_LINEAR)[:, 120:]
    rng = np.random.default_rng(4)
    src = np.vstack(
        [rng.uniform([40, 40], [115, 200], (90, 2)), rng.uniform([125, 40], [195, 200], (40, 2))]
    )
    on_far = src[:, 0] > 120
    dst = np.where(on_far[:, None], src @ far[:, :2].T + far[:, 2], src)
    kept, parallax = depth._plane_relative(a, b, src.astype(np.float32), dst, np.eye(3))
    assert (kept[:, 0] < 120).all()  # the squeezed half is left out
    assert len(kept) >= 80  # the near half is measured ...
    assert np.median(np.abs(parallax)) < 0.1  # ... on its plane
