"""What a worker machine checks before it samples or trains: that its own copy of the base
model (and of a clip's motion module) is the one the library registered.

The base model never travels: a worker loads it from its own disk or Hugging Face cache (a
model is gigabytes, and it is public data). It must be the same weights, or an adapter
trained on one model would be run on another and the Content Credentials would name a model
that did not make the image: the SHA-256 the library recorded when the model was added is
compared with the worker's copy, and a mismatch refuses the job.

Where the worker looks: a built-in tiny model is built from its config (the same on every
machine running the same likeness); a hub id in the worker's own cache (offline); a folder or
a single file at the path the library registered, or, with ``$LIKENESS_WORKER_MODELS`` set on
the worker, the file or folder of the same name in that folder (a worker keeps its models
where it likes).
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cache
from pathlib import Path

from likeness.models.families import ModelError
from likeness.models.motion import TINY_MOTION, MotionModule, resolve_motion
from likeness.models.registry import BaseModel, sha256_file, sha256_folder, tiny_sha256
from likeness.models.tiny import TINY_MODELS

#: A folder on the worker holding its copies of the registered models, by file name.
WORKER_MODELS_ENV = "LIKENESS_WORKER_MODELS"


class WorkerModelError(ModelError):
    """The worker has no copy of the base model, or a copy with other weights."""


@cache
def _hash(path: str, size: int, mtime_ns: int, folder: bool) -> str:
    """A copy's SHA-256, once per process for an unchanged file (a real model is GBs)."""
    return sha256_folder(Path(path)) if folder else sha256_file(Path(path))


def _own_copy(name: str, source: str, location: str) -> Path:
    """Where this worker keeps its copy of the model or module ``name`` (module docstring)."""
    if source == "hub":
        from likeness.models.loading import cached_snapshot

        return cached_snapshot(location, name, error=WorkerModelError, where="this worker's")
    registered = Path(location)
    folder = os.environ.get(WORKER_MODELS_ENV)
    path = Path(folder) / registered.name if folder else registered
    if not path.exists():
        raise WorkerModelError(
            f"{name}: this worker has no copy at {path} (put one there, or set "
            f"{WORKER_MODELS_ENV} to the folder holding {registered.name})"
        )
    return path


def _checked_copy(name: str, source: str, location: str, sha256: str) -> Path:
    """The worker's copy, ``WorkerModelError`` unless its SHA-256 is the library's."""
    path = _own_copy(name, source, location)
    stat = path.stat()
    sha = _hash(str(path), stat.st_size, stat.st_mtime_ns, path.is_dir())
    if sha != sha256:
        raise WorkerModelError(
            f"{name}: this worker's copy ({path}) is another model: SHA-256 "
            f"{sha[:16]}, the library registered {sha256[:16]}; the job is refused"
        )
    return path


def resolve_on_worker(model: BaseModel) -> BaseModel:
    """The worker's own copy of ``model``, checked against the library's SHA-256 (module
    docstring); ``WorkerModelError`` when it is missing or differs."""
    if model.source == "builtin":
        if model.name not in TINY_MODELS or tiny_sha256(model.name) != model.sha256:
            raise WorkerModelError(
                f"{model.name}: this worker's built-in model differs from the library's "
                "(another version of likeness?)"
            )
        return model
    path = _checked_copy(model.name, model.source, model.location, model.sha256)
    config = model.config_dir if model.config_dir and Path(model.config_dir).is_dir() else None
    return replace(model, location=str(path), config_dir=config)


def motion_on_worker(motion: MotionModule, model: BaseModel) -> MotionModule:
    """The worker's own copy of a clip's motion module for ``model`` (the worker's copy of
    the base model), checked as a base model is."""
    if motion.source == "builtin":
        own = resolve_motion(TINY_MOTION, model)
        if own.sha256 != motion.sha256:
            raise WorkerModelError(
                f"{motion.name}: this worker's built-in motion module differs from the "
                "library's (another version of likeness?)"
            )
        return motion
    path = _checked_copy(motion.name, motion.source, motion.location, motion.sha256)
    return motion if motion.source == "hub" else replace(motion, location=str(path))
