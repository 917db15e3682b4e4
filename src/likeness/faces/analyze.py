"""Analyse one photo's bytes: decode it upright, hash it perceptually, find and embed its faces.

This is the unit of work the importer sends to its worker processes. Each worker loads the face
backend once (``start_worker``) and keeps it for the life of the process: loading dlib's models
costs far more than analysing a photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from likeness.faces.backends import load_backend
from likeness.faces.detection import DetectionSettings
from likeness.faces.protocol import DetectedFace, FaceBackend
from likeness.heap import reuse_freed_memory
from likeness.library.decode import DecodeError, decode_photo
from likeness.library.dedupe import perceptual_hash


@dataclass
class PhotoAnalysis:
    width: int
    height: int
    format: str
    taken_at: datetime | None
    gps: tuple[float, float] | None
    camera_make: str | None
    camera_model: str | None
    phash: int
    faces: list[DetectedFace]


@dataclass
class AnalysisFailure:
    reason: str


def analyze_photo(data: bytes, backend: FaceBackend) -> PhotoAnalysis | AnalysisFailure:
    try:
        photo = decode_photo(data)
    except DecodeError as exc:
        return AnalysisFailure(str(exc))
    faces = backend.analyze(photo.pixels)
    h, w = photo.pixels.shape[:2]
    return PhotoAnalysis(
        width=w,
        height=h,
        format=photo.format,
        taken_at=photo.taken_at,
        gps=photo.gps,
        camera_make=photo.camera_make,
        camera_model=photo.camera_model,
        phash=perceptual_hash(photo.pixels),
        faces=faces,
    )


# -- worker process side ---------------------------------------------------------------------
# One backend per worker process, set by the pool initializer. This is process-local cache for
# a loaded model, not shared state: the parent process never reads it.
_worker_backend: FaceBackend | None = None


def start_worker(
    settings: DetectionSettings, decode_threads: int = 1, backend: str | None = None
) -> None:
    """Load the backend, keep freed arrays' memory for the next photo (``likeness.heap``: a
    third of a 12 MP photo's CPU time went to page faults without it), and decode HEIC on
    ``decode_threads`` threads: the cores the import leaves each worker. With a worker a
    core, libheif's own threads (4 by default, over the 512 px tiles phones store a photo
    in) win no time, and cost a worker 130 MiB more at its peak and 2% more CPU on a phone's
    12 MP HEIC. ``backend`` is the face backend the importing process chose
    (``faces.backends.backend_spec``)."""
    global _worker_backend
    reuse_freed_memory()
    import pillow_heif
    import torch

    pillow_heif.options.DECODE_THREADS = decode_threads
    # A worker a core: PyTorch's own threads (MTCNN, the embedding network) would only
    # contend with the other workers. The worker's process is its own to set.
    torch.set_num_threads(1)
    _worker_backend = load_backend(settings, backend)


def analyze_in_worker(data: bytes) -> PhotoAnalysis | AnalysisFailure:
    if _worker_backend is None:
        raise RuntimeError("start_worker() was not called in this process")
    try:
        return analyze_photo(data, _worker_backend)
    except MemoryError:
        return AnalysisFailure("out of memory while analysing the image")
