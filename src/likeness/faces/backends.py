"""Which face backend likeness runs: the one place that names the default.

Everything outside ``faces/`` asks here for a backend (``load_backend``), its class
(``backend_class``: name, embedding size and ``FaceDistances`` without loading a model) or the
variants live enrolment needs, and never names a backend's module. ``$LIKENESS_FACE_BACKEND``
picks another backend for a process and its import workers (which inherit the environment):
a name in ``BACKENDS``, or ``package.module:Class`` for one that ships outside likeness.

Photos keep the name of the backend that analysed them, and embeddings of different backends
are never compared: a library indexed with one backend and searched with another finds no
one until it is indexed again.
"""

from __future__ import annotations

import importlib
import os

from likeness.errors import UnavailableError
from likeness.faces.detection import DetectionSettings
from likeness.faces.protocol import FaceBackend, TurnedFaceFinder

#: The environment variable that picks the backend.
BACKEND_ENV = "LIKENESS_FACE_BACKEND"
#: Backends by name -> where their class is (imported when first used: dlib loads slowly).
BACKENDS: dict[str, str] = {
    "dlib-hog-resnet-v1": "likeness.faces.dlib_backend:DlibFaceBackend",
}
DEFAULT_BACKEND = "dlib-hog-resnet-v1"


class UnknownBackendError(UnavailableError):
    """``$LIKENESS_FACE_BACKEND`` names no backend likeness can load."""


def backend_spec() -> str:
    """The backend this process runs, as ``$LIKENESS_FACE_BACKEND`` or the default names it.
    Pass it on to worker processes explicitly: one started from a fork server inherits the
    server's environment, not the caller's."""
    return os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND


def backend_class(name: str | None = None) -> type[FaceBackend]:
    """The class of the backend ``name`` (a name or ``module:Class``; default: the one this
    process runs)."""
    spec = name or backend_spec()
    where = BACKENDS.get(spec, spec)
    module_name, _, class_name = where.partition(":")
    if not class_name:
        known = ", ".join(sorted(BACKENDS))
        raise UnknownBackendError(
            f"no face backend {spec!r} (known: {known}; or package.module:Class)",
            field="face_backend",
        )
    try:
        cls: type[FaceBackend] = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise UnknownBackendError(f"face backend {spec!r} cannot be loaded: {exc}") from None
    return cls


def load_backend(settings: DetectionSettings | None = None, name: str | None = None) -> FaceBackend:
    """The backend ``name`` (default: the one this process runs), loaded: its models in
    memory, so load once and keep it."""
    return backend_class(name)(settings)


def video_frame_backend() -> FaceBackend:
    """The backend, set for video of one large face (enrolment clips) where it has such a
    variant (``for_video_frames``); else as for photos."""
    cls = backend_class()
    variant = getattr(cls, "for_video_frames", None)
    return variant() if variant is not None else cls(None)


def turned_face_finder(backend: FaceBackend) -> TurnedFaceFinder | None:
    """What finds a face the backend lost in a turned head, if the backend has one."""
    make = getattr(backend, "turned_face_finder", None)
    return make() if make is not None else None


def tracking(backend: FaceBackend) -> FaceBackend:
    """``backend`` for consecutive frames of one video, looking first where the face just was
    (``faces.tracking``), where the backend can detect, align and embed apart (``detect``,
    ``align``, ``locate``, ``embed_located``); else ``backend`` itself. One per video: it
    keeps the last face's box."""
    if all(hasattr(backend, m) for m in ("detect", "align", "locate", "embed_located")):
        from likeness.faces.tracking import TrackingFaceBackend

        return TrackingFaceBackend(backend)  # type: ignore[arg-type]
    return backend
