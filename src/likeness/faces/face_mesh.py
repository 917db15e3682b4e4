"""MediaPipe's face mesh: 468 points of a face in 3D, for reading a head's pose in video frames.

Why it is here: liveness reads a head's pose from dlib's 5 landmarks (``faces.headpose``), and
behind glasses dlib's shape predictor ends on the eye corners in one frame and on the rims in
the next: a still head then reads 8 to 10 degrees up now and then, and a level head wearing
round glasses reads tilted back past the start's bound (``benchmarks/pose_jitter.py --live``).
The mesh network places every point from the whole face at once, and gives each a depth, so
the head's rotation is fitted in 3D against MediaPipe's canonical face
(``headpose.mesh_head_pose``) rather than guessed from where 5 points fall in the image.

The network is MediaPipe's face landmark model (``face_landmark.tflite``, Apache-2.0: 192 x
192 RGB in, 468 x 3 points and a face score out), run by Google's LiteRT runtime
(``ai-edge-litert``). It ships inside the ``mediapipe`` 0.10.14 wheel on PyPI (the 1.x wheels
carry no models), which is installed without its dependencies (jax, opencv-contrib and more,
which likeness does not need); the model file is found without importing the package, as
``faces.mtcnn`` finds facenet-pytorch's weights. The canonical face (``canonical_mesh``) is
MediaPipe's too, vendored in ``faces/data`` with its licence.

The network expects the face in the middle of its crop with a margin: MediaPipe crops 1.5
times its detector's box, and in video 1.5 times the box round the last frame's points. Here
the first box is centred on dlib's (``DetectedFace.box``) and sized by the face's width, and
the next ones are the mesh's own fit's, until it settles (``headpose.MeshPoses``): dlib's box
comes in the steps of its detector's image pyramid, which move its size and its centre.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from likeness.errors import UnavailableError

#: Where the model lies inside the installed ``mediapipe`` package.
MODEL_IN_PACKAGE = Path("modules") / "face_landmark" / "face_landmark.tflite"
#: The install command the errors name (the Makefile runs it).
INSTALL = "pip install ai-edge-litert==2.3.0 && pip install --no-deps mediapipe==0.10.14"
#: The network's input side, and the crop round the face's box it is shown (MediaPipe's).
INPUT_PX = 192
CROP_SCALE = 1.5
#: MediaPipe's indices of dlib's 5 points, in dlib's order: outer and inner corner of the eye
#: on the image right, of the eye on the image left, and the nose base (subnasale).
DLIB_FIVE = (263, 362, 33, 133, 2)

_DATA = Path(__file__).parent / "data"


class FaceMeshUnavailableError(UnavailableError):
    """The face mesh model or its runtime is not installed."""


def model_path() -> Path:
    """``face_landmark.tflite`` in the installed mediapipe package, found without importing
    it (its ``__init__`` needs the dependencies it was installed without)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FaceMeshUnavailableError(
            f"mediapipe is not installed (its face mesh reads head poses behind glasses): {INSTALL}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_IN_PACKAGE
    if not path.is_file():
        raise FaceMeshUnavailableError(
            f"the installed mediapipe has no {MODEL_IN_PACKAGE} (only the 0.10 wheels carry "
            f"it): {INSTALL}"
        )
    return path


def unavailable_reason() -> str | None:
    """Why the face mesh cannot run here (None when it can)."""
    try:
        model_path()
    except FaceMeshUnavailableError as exc:
        return str(exc)
    if importlib.util.find_spec("ai_edge_litert") is None:
        return f"ai-edge-litert (the runtime of the face mesh model) is not installed: {INSTALL}"
    return None


@dataclass(frozen=True)
class CanonicalMesh:
    """MediaPipe's canonical face, a mean adult face, in the head frame of
    ``faces.headpose``: x to the image right, y down, z away from the camera; the outer eye
    corners 1 apart, their midpoint at the origin."""

    vertices: np.ndarray  # 468 x 3, indexed as the network's points
    triangles: np.ndarray  # 898 x 3 vertex indices


@cache
def canonical_mesh() -> CanonicalMesh:
    """The canonical face (``faces/data/canonical_face_model.obj``: centimetres, y up and z
    towards the viewer in the file) in the head frame."""
    vertices, triangles = [], []
    for line in (_DATA / "canonical_face_model.obj").read_text().splitlines():
        kind, *values = line.split() or [""]
        if kind == "v":
            vertices.append([float(v) for v in values])
        elif kind == "f":
            triangles.append([int(v) - 1 for v in values])
    v = np.array(vertices) * [1.0, -1.0, -1.0]
    outer_right, outer_left = v[DLIB_FIVE[0]], v[DLIB_FIVE[2]]
    v = (v - (outer_right + outer_left) / 2) / float(np.linalg.norm(outer_right - outer_left))
    return CanonicalMesh(v, np.array(triangles))


@dataclass(frozen=True)
class MeshFace:
    """The network's reading of one face: 468 points in image pixels (x, y) with depth z on
    the scale of x (smaller is nearer the camera, relative to the face's centre), and the
    network's confidence that the crop shows a face (0..1)."""

    points: np.ndarray  # 468 x 3
    score: float

    @property
    def five(self) -> np.ndarray:
        """The points that correspond to dlib's 5 landmarks, in dlib's order (image x, y)."""
        return self.points[list(DLIB_FIVE), :2]


class FaceMesh:
    """The face landmark network, for faces already found (one crop per face)."""

    def __init__(self, path: Path | None = None, threads: int = 1):
        self.path = path or model_path()
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise FaceMeshUnavailableError(
                f"ai-edge-litert (the face mesh's runtime) does not import: {exc}; {INSTALL}"
            ) from exc
        try:
            self._net: Any = Interpreter(model_path=str(self.path), num_threads=threads)
            self._net.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise FaceMeshUnavailableError(f"{self.path} is not a TFLite model: {exc}") from exc
        self._input = self._net.get_input_details()[0]
        outputs = {int(np.prod(o["shape"])): o["index"] for o in self._net.get_output_details()}
        if tuple(self._input["shape"]) != (1, INPUT_PX, INPUT_PX, 3) or 1404 not in outputs:
            raise FaceMeshUnavailableError(
                f"{self.path} is not MediaPipe's face landmark model (192 x 192 in, 468 x 3 out)"
            )
        self._points, self._score = outputs[1404], outputs[1]

    def read(
        self, image: np.ndarray, box: tuple[float, float, float, float], angle: float = 0.0
    ) -> MeshFace:
        """The mesh of the face in ``box`` (x0, y0, x1, y1, pixels) of an RGB ``image``, read in
        a square ``CROP_SCALE`` times the box's longer side, about its centre, turned
        ``angle`` degrees anticlockwise: the angle a face's eye line falls clockwise in the
        image stands it upright, as MediaPipe's own pipeline turns its region of interest by
        the eye line's angle. Its model was trained on faces so cropped: the astronaut's
        head turned 25 degrees and tilted 25 towards that shoulder read a tilt of 6 in a crop
        not turned (24 turned), and a look up or down it had not made of 5 to 7 degrees
        (``MeshPoses``)."""
        import cv2

        x0, y0, x1, y1 = box
        scale = INPUT_PX / (CROP_SCALE * max(x1 - x0, y1 - y0))
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        to_crop = cv2.getRotationMatrix2D(centre, angle, scale)
        to_crop[:, 2] += np.subtract(INPUT_PX / 2, centre)
        crop = cv2.warpAffine(
            np.ascontiguousarray(image[..., :3]),
            to_crop,
            (INPUT_PX, INPUT_PX),
            flags=cv2.INTER_LINEAR,
        )
        self._net.set_tensor(self._input["index"], crop.astype(np.float32)[None] / 255.0)
        self._net.invoke()
        points = self._net.get_tensor(self._points).reshape(468, 3).astype(np.float64)
        # Back to the image: x and y through the crop's inverse (a turn about the axis z is
        # measured along leaves z as it is), z on x's scale.
        points[:, :2] = (points[:, :2] - to_crop[:, 2]) @ np.linalg.inv(to_crop[:, :2]).T
        points[:, 2] /= scale
        logit = float(self._net.get_tensor(self._score).reshape(()))
        return MeshFace(points, float(1.0 / (1.0 + np.exp(-logit))))
