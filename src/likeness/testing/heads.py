"""Honest head models the liveness check was not designed beside, drawn with a z-buffer.

``clips.render_pose`` turns a photo's face with the generic head the check grew up with (the
5 landmarks, an outline and a few inner points, warped as one piecewise-affine sheet). A
check tuned on one head may only have learnt that head, so these come from elsewhere and are
drawn differently:

- ``canonical_face()``: MediaPipe's canonical face mesh, 468 vertices of a mean adult face
  with its real relief (the data file in ``faces/data`` says where it is from; Apache-2.0,
  ``LICENSE-mediapipe.txt`` beside it); ``headpose.mesh_head_pose`` fits face meshes to it.
- ``ellipsoid_head()``: a smooth ellipsoid with only a nose, about the least relief a head has.

A head is placed where solvePnP of its own 5 dlib points puts the photo's face (its face below
the eyes stretched to the photo's own nose drop, as a real face has its own proportions),
textured by projecting the photo onto it, turned about the neck and drawn triangle by
triangle, far ones first, so the nose hides the far cheek and the far side foreshortens.
Outside the mesh the photo moves by a smooth warp pinned to the mesh's rim, a ring round the
skull and the image border: hair and neck follow the head, the background stays.
``Accessories`` add long hair and a beard (painted onto the texture, so they move with the
head) and glasses (a rigid frame in front of the face, hidden where the head is in front).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from likeness.faces.face_mesh import DLIB_FIVE, canonical_mesh
from likeness.faces.headpose import HeadFit, fit_head_pose
from likeness.testing.clips import (
    NECK,
    frame_border,
    inverse_map,
    own_drop,
    render_pose,
    rotation,
)


@dataclass(frozen=True)
class HeadModel:
    """A head as a triangle mesh in OpenCV's head frame (x to the image right, y down, z away
    from the camera; the outer eye corners 1 apart, their midpoint at the origin)."""

    name: str
    vertices: np.ndarray  # N x 3
    triangles: np.ndarray  # M x 3 vertex indices
    five: np.ndarray  # 5 x 3: the dlib 5 points on the head (see ``face_mesh.DLIB_FIVE``)
    source: str  # where the shape comes from

    def with_drop(self, drop: float) -> HeadModel:
        """The head with the face below the eyes stretched so the nose base is ``drop`` eye
        spans below them (a person's own proportion, ``clips.own_drop``)."""
        k = drop / float(self.five[4, 1])

        def stretch(p: np.ndarray) -> np.ndarray:
            p = p.copy()
            p[:, 1] = np.where(p[:, 1] > 0, p[:, 1] * k, p[:, 1])
            return p

        return replace(self, vertices=stretch(self.vertices), five=stretch(self.five))

    @property
    def rim(self) -> np.ndarray:
        """Indices of the vertices on the mesh's open edge (edges of one triangle only)."""
        edges = np.sort(self.triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
        unique, counts = np.unique(edges, axis=0, return_counts=True)
        return np.unique(unique[counts == 1])


@cache
def canonical_face() -> HeadModel:
    """MediaPipe's canonical face mesh (``faces.face_mesh.canonical_mesh``) as a head."""
    mesh = canonical_mesh()
    return HeadModel(
        "canonical",
        mesh.vertices,
        mesh.triangles,
        mesh.vertices[list(DLIB_FIVE)],
        "MediaPipe canonical face model (google-ai-edge/mediapipe, Apache-2.0)",
    )


@cache
def ellipsoid_head(nose: float = 0.22) -> HeadModel:
    """A smooth ellipsoid head (170 mm wide, 235 mm tall, 200 mm deep, in eye spans of 90 mm)
    with no eye sockets, brows, cheekbones or lips: only a nose ``nose`` eye spans high at its
    tip, a ridge from between the eyes. Its outer eye corners lie on the surface at depth 0."""
    ax, ay, az, cy = 0.95, 1.3, 1.1, 0.3
    # The centre's depth puts the outer eye corners (x = +-0.5, y = 0) at z = 0.
    cz = az * np.sqrt(1 - (0.5 / ax) ** 2 - (cy / ay) ** 2)
    lon, lat = np.meshgrid(
        np.radians(np.linspace(-88, 88, 45)), np.radians(np.linspace(-80, 80, 41))
    )

    def surface(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        inside = np.clip(1 - (x / ax) ** 2 - ((y - cy) / ay) ** 2, 0.0, None)
        base = cz - az * np.sqrt(inside)
        # A nose: a ridge rising from between the eyes (y 0) to the tip (y 0.4), falling to
        # the nose base (y 0.53), about 0.35 eye spans wide at the wings.
        along = np.where(y < 0.4, np.clip(y / 0.4, 0, 1), np.clip((0.56 - y) / 0.16, 0, 1))
        width = 0.06 + 0.12 * np.clip(y / 0.45, 0, 1)
        return base - nose * along**1.5 * np.exp(-0.5 * (x / width) ** 2)

    x = ax * np.cos(lat) * np.sin(lon)
    y = cy + ay * np.sin(lat)
    vertices = np.column_stack([x.ravel(), y.ravel(), surface(x, y).ravel()])
    rows, cols = lon.shape
    index = np.arange(rows * cols).reshape(rows, cols)
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    triangles = np.vstack([np.column_stack([a, b, d]), np.column_stack([a, d, c])])
    five_xy = np.array([[0.5, 0.0], [0.18, 0.0], [-0.5, 0.0], [-0.18, 0.0], [0.0, 0.53]])
    five = np.column_stack([five_xy, surface(five_xy[:, 0], five_xy[:, 1])])
    return HeadModel("ellipsoid", vertices, triangles, five, "an ellipsoid with a nose (here)")


@dataclass(frozen=True)
class Accessories:
    """What a head wears: long hair round the face, a full beard, glasses."""

    hair: bool = False
    beard: bool = False
    glasses: bool = False

    def __str__(self) -> str:
        worn = [k for k in ("hair", "beard", "glasses") if getattr(self, k)]
        return "+".join(worn) or "none"


#: A ring round the skull (behind the face, below the crown to below the chin), moving with
#: the head: the warp outside the mesh follows it, so hair and the neck's top turn too.
_SKULL = np.array(
    [[1.05 * np.cos(a), 0.35 + 1.45 * np.sin(a), 0.6] for a in np.linspace(0, 2 * np.pi, 20)[:-1]]
)


def _strands(shape: tuple[int, int], seed: int, length: float, tone: float) -> np.ndarray:
    """A hair texture (RGB, float): dark brown with strands ``length`` pixels long."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, shape).astype(np.float32)
    streaks = cv2.GaussianBlur(noise, (0, 0), sigmaX=0.7, sigmaY=length)
    streaks /= streaks.std() + 1e-6
    shade = cv2.GaussianBlur(rng.normal(0.0, 1.0, shape).astype(np.float32), (0, 0), 12.0)
    shade /= shade.std() + 1e-6
    grey = np.clip(tone + 16.0 * streaks + 12.0 * shade, 0, 255)
    return np.stack([grey * 1.0, grey * 0.8, grey * 0.62], axis=-1)


def _polygon_mask(shape: tuple[int, int], polygons: list[np.ndarray], blur: float) -> np.ndarray:
    """A soft mask (0..1): the first of ``polygons`` (pixels) filled, the others cut out of
    it, the edge blurred by ``blur`` pixels."""
    import cv2

    mask = np.zeros(shape, np.float32)
    cv2.fillPoly(mask, [np.round(polygons[0]).astype(np.int32)], 1.0)
    for hole in polygons[1:]:
        cv2.fillPoly(mask, [np.round(hole).astype(np.int32)], 0.0)
    return cv2.GaussianBlur(mask, (0, 0), blur) if blur > 0 else mask


def _ellipse(cx: float, cy: float, rx: float, ry: float, z: float, n: int = 40) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n + 1)
    return np.column_stack([cx + rx * np.cos(a), cy + ry * np.sin(a), np.full(n + 1, z)])


#: Glasses in the head frame: rims in front of the eyes, a bridge over the nose, and temples
#: back to the ears (polylines).
_GLASSES = [
    _ellipse(0.34, 0.02, 0.21, 0.15, -0.2),
    _ellipse(-0.34, 0.02, 0.21, 0.15, -0.2),
    np.array([[-0.13, -0.02, -0.22], [0.0, -0.06, -0.27], [0.13, -0.02, -0.22]]),
    np.linspace([0.55, -0.02, -0.18], [0.66, 0.06, 0.85], 12),
    np.linspace([-0.55, -0.02, -0.18], [-0.66, 0.06, 0.85], 12),
]


@dataclass
class PlacedHead:
    """A head fitted to one photo's face, ready to draw at any (yaw, pitch) from there."""

    texture: np.ndarray  # the photo, with hair and a beard painted on when worn
    head: HeadModel
    fit: HeadFit
    accessories: Accessories
    uv: np.ndarray = field(init=False)  # where each vertex is in the photo
    front: int = field(init=False)  # the sign of a visible triangle's area

    def __post_init__(self) -> None:
        self.uv = self.fit.project(self.head.vertices)
        self.front = int(np.sign(np.median(_areas(self.uv, self.head.triangles))))

    @classmethod
    def place(
        cls,
        image: np.ndarray,
        landmarks,
        head: HeadModel,
        accessories: Accessories = Accessories(),
        drop: float | None = None,
    ) -> PlacedHead:
        h, w = image.shape[:2]
        points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
        head = head.with_drop(own_drop(image, points) if drop is None else drop)
        fit = fit_head_pose(points, (w, h), model=head.five)
        if fit is None:
            raise ValueError("no head pose for this face")
        texture = _paint(image.astype(np.float32), fit, accessories, head)
        return cls(np.clip(texture, 0, 255).astype(np.uint8), head, fit, accessories)

    def _camera_points(self, points: np.ndarray) -> np.ndarray:
        import cv2

        rot, _ = cv2.Rodrigues(self.fit.rvec)
        return points @ rot.T + self.fit.tvec.reshape(1, 3)

    def render(self, yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
        """The photo with the head turned by yaw/pitch degrees from where it faced, and
        tilted by ``roll`` (``clips.rotation``)."""
        frame, zbuffer = self.head_only(yaw, pitch, roll)
        if self.accessories.glasses:
            self.draw_glasses(yaw, pitch, frame, zbuffer, roll)
        return frame

    def head_only(
        self, yaw: float, pitch: float, roll: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """The turned head without glasses, and its depth per pixel (camera distance in eye
        spans; infinite where no part of the mesh is)."""
        import cv2
        from skimage.transform import PiecewiseAffineTransform

        turn = rotation(yaw, pitch, roll)
        h, w = self.texture.shape[:2]
        v = (self.head.vertices - NECK) @ turn.T + NECK
        dst = self.fit.project(v)
        depth = self._camera_points(v)[:, 2]
        # Outside the mesh: a smooth warp pinned to the rim, the skull ring and the border.
        skull = (_SKULL - NECK) @ turn.T + NECK
        rim = self.head.rim
        border = frame_border(w, h)
        tform = PiecewiseAffineTransform.from_estimate(
            np.vstack([dst[rim], self.fit.project(skull), border]),
            np.vstack([self.uv[rim], self.fit.project(_SKULL), border]),
        )
        maps = inverse_map(tform, self.texture.shape)
        zbuffer = np.full((h, w), np.inf, np.float32)
        self._draw_mesh(dst, depth, maps, zbuffer)
        frame = cv2.remap(
            self.texture,
            maps[..., 0],
            maps[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return frame, zbuffer

    def _draw_mesh(
        self, dst: np.ndarray, depth: np.ndarray, maps: np.ndarray, zbuffer: np.ndarray
    ) -> None:
        """Front-facing triangles, far ones first, into ``maps`` (texture coordinates) and
        ``zbuffer`` (camera depth): each pixel sees the nearest triangle over it."""
        import cv2

        tri = self.head.triangles
        h, w = zbuffer.shape
        visible = np.flatnonzero(_areas(dst, tri) * self.front > 1e-3)
        order = visible[np.argsort(-depth[tri[visible]].mean(axis=1))]
        ids = np.full((h, w), -1, np.int32)
        for k in order:
            cv2.fillConvexPoly(ids, np.round(dst[tri[k]] * 16).astype(np.int32), int(k), 8, 4)
        ys, xs = np.nonzero(ids >= 0)
        if len(xs) == 0:
            return
        k = ids[ys, xs]
        # Each triangle's affine map from frame pixels to (texture x, texture y, depth).
        corners = dst[tri]  # M x 3 x 2
        a = np.concatenate([corners, np.ones((len(tri), 3, 1))], axis=2)  # rows: x, y, 1
        b = np.concatenate([self.uv[tri], depth[tri][..., None]], axis=2)
        det = np.linalg.det(a)
        ok = np.abs(det) > 1e-9
        maps_k = np.zeros((len(tri), 3, 3))
        maps_k[ok] = np.linalg.solve(a[ok], b[ok])  # a @ m = b, so [x, y, 1] @ m = b
        pixel = np.column_stack([xs, ys, np.ones(len(xs))])
        out = np.einsum("ni,nij->nj", pixel, maps_k[k])
        maps[ys, xs, 0] = out[:, 0]
        maps[ys, xs, 1] = out[:, 1]
        zbuffer[ys, xs] = out[:, 2]

    def draw_glasses(
        self,
        yaw: float,
        pitch: float,
        frame: np.ndarray,
        zbuffer: np.ndarray,
        roll: float = 0.0,
    ) -> None:
        """The frame of the glasses on a head turned by yaw/pitch (and tilted by ``roll``),
        segment by segment, where nothing of the head (``zbuffer``) is nearer."""
        import cv2

        turn = rotation(yaw, pitch, roll)
        span = _eye_span(self.fit, self.head)
        thickness = max(2, round(0.03 * span))
        h, w = zbuffer.shape
        for line in _GLASSES:
            dense = np.vstack(
                [np.linspace(p, q, 8, endpoint=False) for p, q in itertools.pairwise(line)]
                + [line[-1:]]
            )
            v = (dense - NECK) @ turn.T + NECK
            px = self.fit.project(v)
            z = self._camera_points(v)[:, 2]
            fixed = np.round(px * 16).astype(np.int64)  # 4 bits of sub-pixel position
            for i in range(len(px) - 1):
                x, y = np.round(px[i]).astype(int)
                if (
                    0 <= x < w and 0 <= y < h and z[i] > zbuffer[y, x] + 0.02
                ):  # 2 mm behind the head
                    continue  # behind the head
                p, q = (int(c) for c in fixed[i]), (int(c) for c in fixed[i + 1])
                cv2.line(frame, tuple(p), tuple(q), (28, 26, 30), thickness, cv2.LINE_AA, 4)


def _eye_span(fit: HeadFit, head: HeadModel) -> float:
    """The face's eye span in the photo (pixels)."""
    corners = fit.project(head.five[[0, 2]])
    return float(np.linalg.norm(corners[0] - corners[1]))


def _areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Signed areas of triangles in the image (their sign says which side faces the camera)."""
    p = points[triangles]
    d1, d2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return 0.5 * (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])


def _paint(texture: np.ndarray, fit: HeadFit, worn: Accessories, head: HeadModel) -> np.ndarray:
    """The photo with long hair and a beard painted where they grow on this face."""
    shape = texture.shape[:2]
    drop = float(head.five[4, 1]) / 0.53  # the lower face's stretch against an average one
    if worn.hair:
        # Long hair framing the face: from the top of the forehead down both sides past the
        # chin to the shoulders, an outline round the head with the face's oval cut out.
        outer = fit.project(_ellipse(0.0, 0.55, 1.12, 1.75, 0.3, 60))
        face = fit.project(_ellipse(0.0, 0.38 * drop, 0.8, 1.08 * drop, -0.1, 60))
        mask = _polygon_mask(shape, [outer, face], 2.0)[..., None]
        texture = (
            texture * (1 - mask) + _strands(shape, 1, 0.15 * _eye_span(fit, head), 62.0) * mask
        )
    if worn.beard:
        # Cheeks and chin below the mouth's corners, and a moustache, the lips left bare.
        jaw = np.array(
            [
                [-0.66, 0.45],
                [-0.6, 0.95],
                [-0.36, 1.32],
                [0.0, 1.45],
                [0.36, 1.32],
                [0.6, 0.95],
                [0.66, 0.45],
                [0.42, 0.55],
                [0.3, 0.64],
                [0.0, 0.62],
                [-0.3, 0.64],
                [-0.42, 0.55],
            ]
        )
        lips = _ellipse(0.0, 0.9, 0.24, 0.08, 0.0, 30)[:, :2]
        beard, mouth = (
            np.column_stack([p[:, 0], p[:, 1] * drop, np.full(len(p), -0.1)]) for p in (jaw, lips)
        )
        mask = _polygon_mask(shape, [fit.project(beard), fit.project(mouth)], 1.5)[..., None]
        texture = texture * (1 - 0.85 * mask) + _strands(shape, 2, 2.5, 45.0) * 0.85 * mask
    return texture


Render = Callable[[float, float], np.ndarray]


def generic_renderer(image: np.ndarray, landmarks) -> Render:
    """The generic head (``clips.render_pose``) as a renderer like ``PlacedHead.render``."""
    drop = own_drop(image, landmarks)

    def render(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
        if yaw == pitch == roll == 0:
            return image
        return render_pose(image, landmarks, yaw, pitch, drop=drop, roll=roll)

    return render


def tilting(render: Callable[..., np.ndarray], per_degree: float, facing: float = 0.0) -> Render:
    """A head (``render(yaw, pitch, roll=)``) that tilts sideways as it turns, as some people
    do: ``per_degree`` degrees of roll for each degree of yaw from ``facing`` (the yaw at
    which it is level: where it faces the camera, in the benchmarks' sessions that start
    so). Positive tilts it towards the shoulder it turns to (yaw + turns the face to the
    image right, roll + tilts it clockwise there). The roll is a turn of the 3D head about
    its own forward axis, so the face keeps its parallax, unlike a frame turned in the
    image."""

    def render_tilting(yaw: float, pitch: float) -> np.ndarray:
        return render(yaw, pitch, roll=per_degree * (yaw - facing))

    return render_tilting


#: The honest heads the benchmarks and tests render: name -> (photo, landmarks) -> renderer.
HEADS: dict[str, Callable[[np.ndarray, object], Render]] = {
    "generic": generic_renderer,
    "canonical": lambda im, lm: PlacedHead.place(im, lm, canonical_face()).render,
    "ellipsoid": lambda im, lm: PlacedHead.place(im, lm, ellipsoid_head()).render,
    "canonical+hair": lambda im, lm: (
        PlacedHead.place(im, lm, canonical_face(), Accessories(hair=True)).render
    ),
    "canonical+glasses": lambda im, lm: (
        PlacedHead.place(im, lm, canonical_face(), Accessories(glasses=True)).render
    ),
    "canonical+beard": lambda im, lm: (
        PlacedHead.place(im, lm, canonical_face(), Accessories(beard=True)).render
    ),
    "ellipsoid+hair+glasses": lambda im, lm: (
        PlacedHead.place(im, lm, ellipsoid_head(), Accessories(hair=True, glasses=True)).render
    ),
}
