"""Trainings and generations on a Ray cluster of machines the user controls.

The library machine runs or joins the cluster (``ray start --head``, or ``ray start
--address``); GPU machines join it with ``ray start --address=LIBRARY:6379`` after ``pip
install likeness``. ``RayCompute`` sends the heavy half there and keeps trust at home:

- **What travels.** For a training, the curated crops, their captions and the parameters
  (``adapters.training.TrainingJob``); for a generation, the prompt as the model reads it,
  the layout, the seeds and each person's adapter weights, decrypted for the job
  (``generate.outputs.SamplingRequest``; for a clip also the motion module's name and
  hash). Pixels (an image, a clip's frames) and LoRA weights come back. A worker loads the
  base model and a clip's motion module from its own disk and each must match the library's
  SHA-256 (``compute.worker``).
- **What never travels.** The catalog, the source photos, the embeddings, the person keys,
  the signing key: the safety gate, the stamping and the sealing of adapters and checkpoints
  run on the library machine.
- **Consent in force while remote.** A job's ``ConsentKeeper``, in the ``KeeperHost``
  actor pinned to the library machine's node (one for all the jobs of the process that
  sends them), holds the gate's Decision: a worker asks it before every training step,
  every image and every clip, and after each of a clip's denoising steps. A revocation
  stops the job within one step; the worker's task ends and drops what it held (an image
  task unloads the adapters from its cached pipeline).
- **Faults.** Each image (or clip) is a task of its own: a worker that disappears mid-generation has
  its images run again elsewhere (Ray's retries), and the library releases each index once.
  A training is one task that sends a checkpoint home every ``checkpoint_every`` steps
  (sealed there); a worker killed mid-training has the task run again on another worker,
  which starts from that checkpoint.

Requests ask for one unit of ``resource`` (default ``GPU``: one GPU each) and one CPU, so
only machines offering it take them.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from likeness.adapters.checkpoints import LibraryTraining, TrainingHome
from likeness.adapters.training import TrainingJob, run_training
from likeness.compute import ComputeUnavailableError
from likeness.compute.keeper import KeeperHost
from likeness.compute.reach import check_cluster
from likeness.compute.worker import motion_on_worker, resolve_on_worker
from likeness.consent.policy import Decision
from likeness.errors import LikenessError
from likeness.generate.outputs import ImageProgress, SamplingRequest
from likeness.models.device import choose_device
from likeness.store import Library

#: Ray's namespace for likeness's actors.
NAMESPACE = "likeness"
#: How often the library reads a remote training's progress (seconds).
PROGRESS_EVERY_S = 0.5


def _node() -> str:
    return ray.get_runtime_context().get_node_id()


@dataclass(frozen=True)
class JobKeeper:
    """A job's keeper as a worker reaches it: the library process's ``KeeperHost`` and the
    job's name. It is the ``TrainingHome`` of a training on a worker: every call goes home."""

    host: Any
    job: str

    def in_force(self) -> None:
        ray.get(self.host.in_force.remote(self.job))

    def restore_point(self) -> dict[str, Any] | None:
        state: dict[str, Any] | None = ray.get(self.host.restore_point.remote(self.job))
        return state

    def checkpoint(self, state: dict[str, Any]) -> None:
        ray.get(self.host.checkpoint.remote(self.job, state))

    def progress(self, done: int, steps: int, loss: float) -> None:
        self.host.progress.remote(self.job, done, steps, loss, _node())

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = ray.get(self.host.status.remote(self.job))
        return status

    def close(self) -> None:
        with contextlib.suppress(ray.exceptions.RayActorError):
            ray.get(self.host.close.remote(self.job))


def train_on_worker(job: TrainingJob, keeper: JobKeeper) -> tuple[dict[str, Any], list[float]]:
    """A training's steps on the worker (a Ray task): its own copy of the base model, the
    parameters resolved for its device, the checkpoint to start from asked of the keeper."""
    device = choose_device(None)
    job = replace(job, model=resolve_on_worker(job.model), params=job.params.resolved(device))
    home: TrainingHome = keeper
    return run_training(job, home, device)


#: The pipeline a worker process keeps between tasks (public weights only; a person's adapter
#: is loaded for one task and unloaded after it): (model hash, motion hash, device), pipe.
_cached: dict[tuple[str, str | None, str], Any] = {}


def sample_on_worker(request: SamplingRequest, index: int, keeper: JobKeeper) -> np.ndarray:
    """One image or clip on the worker (a Ray task): asks the keeper first, and for a clip
    after every denoising step too (its frames are denoised together, for minutes: a
    revocation stops it within a step; an image takes seconds and each is asked for),
    samples with the people's adapters loaded on the cached pipeline, and unloads them
    after."""

    def in_force(_step: int = 0, _steps: int = 0) -> None:
        keeper.in_force()

    in_force()
    device = choose_device(None)
    motion = request.motion
    key = (request.model.sha256, motion.sha256 if motion else None, device)
    if key not in _cached:
        _cached.clear()
        model = resolve_on_worker(request.model)
        _cached[key] = request.pipeline(
            device, model, motion_on_worker(motion, model) if motion else None
        )
    pipe = _cached[key]
    try:
        request.load_adapters(pipe)
        pixels: np.ndarray = request.sample(pipe, index, in_force if motion else None)
        return pixels
    finally:
        if request.adapters:
            pipe.unload_lora_weights()


#: This process's ``KeeperHost`` actor, by the Ray job (driver connection) it belongs to.
_hosts: dict[str, Any] = {}


def _keeper_host() -> Any:
    """This process's ``KeeperHost``, started on this machine's node with its first job and
    ended by Ray with this process (a driver's actors end with it)."""
    driver = ray.get_runtime_context().get_job_id()
    if driver not in _hosts:
        here = NodeAffinitySchedulingStrategy(node_id=_node(), soft=False)
        actor = ray.remote(KeeperHost).options(
            num_cpus=0, scheduling_strategy=here, name=f"keepers-{driver}", namespace=NAMESPACE
        )
        _hosts.clear()  # a host of an earlier connection ended with it
        _hosts[driver] = actor.remote()
    return _hosts[driver]


def _unwrapped(ref: Any) -> Any:
    """``ray.get(ref)``, a likeness error raised on a worker or in the keeper raised here as
    itself (a refusal stays a refusal, whatever machine it came from)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, LikenessError):
            raise exc.cause from None
        raise


@dataclass(frozen=True)
class RayCompute:
    """Sampling and training on a Ray cluster (module docstring). ``address``: ``auto`` (the
    cluster this machine is a node of), ``ray://HOST:PORT`` or ``HOST:PORT``."""

    address: str = "auto"
    #: What each task asks of a worker: ``GPU`` (one GPU), or a custom resource the worker
    #: machines were started with (``ray start --resources='{"NAME": 1}'``).
    resource: str = "GPU"
    #: How many times a task lost with its worker is run again elsewhere.
    retries: int = 3

    def check(self) -> tuple[str, int]:
        """The cluster's host and port once it answers there (``compute.reach``), else
        ``ComputeUnavailableError`` saying why, within seconds."""
        return check_cluster(self.address)

    def connect(self) -> None:
        """Joins the cluster as a driver, once per process, after ``check`` saw it answer
        (Ray alone would hang for minutes on a wrong or stale address)."""
        if ray.is_initialized():
            return
        host, port = self.check()
        try:
            ray.init(
                address=self.address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        except ConnectionError as exc:
            raise ComputeUnavailableError(
                f"the Ray cluster at {host}:{port} did not accept this machine: {exc}",
                field="compute",
            ) from None

    def _asks(self) -> dict[str, Any]:
        if self.resource == "GPU":
            return {"num_gpus": 1, "num_cpus": 1}
        return {"resources": {self.resource: 1}, "num_cpus": 1}

    def _keeper(self, lib: Library, decision: Decision, *training: str) -> JobKeeper:
        """A keeper for one job, in this process's ``KeeperHost`` on this machine's node
        (``soft=False``: never elsewhere), kept under the job's name (a training's is its
        adapter's id: the host's ``names`` show an operator which jobs run)."""
        job = training[1] if training else uuid.uuid4().hex
        opening = (job, str(lib.home.resolve()), decision, *training)
        # Opened before any task is sent: a worker's first question must find the job.
        host = _keeper_host()
        try:
            ray.get(host.open.remote(*opening))
        except ray.exceptions.RayActorError:  # the host died with its process: a new one
            _hosts.clear()
            host = _keeper_host()
            ray.get(host.open.remote(*opening))
        return JobKeeper(host, job)

    def images(
        self,
        lib: Library,
        decision: Decision,
        request: SamplingRequest,
        progress: ImageProgress | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        self.connect()
        keeper = self._keeper(lib, decision)
        task = ray.remote(sample_on_worker).options(max_retries=self.retries, **self._asks())
        shared = ray.put(request)  # the adapters cross to each worker once, not once an image
        index_of = {task.remote(shared, i, keeper): i for i in range(len(request.seeds))}
        pending = list(index_of)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                index = index_of[ready[0]]
                pixels = _unwrapped(ready[0])
                if progress is not None:
                    progress(index, request.steps, request.steps)
                yield index, pixels
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            keeper.close()

    def train(self, job: TrainingJob, home: LibraryTraining) -> tuple[dict[str, Any], list[float]]:
        self.connect()
        keeper = self._keeper(home.lib, home.decision, home.person_uid, home.adapter_id)
        task = ray.remote(train_on_worker).options(max_retries=self.retries, **self._asks())
        ref = task.remote(job, keeper)
        try:
            seen = 0
            while True:
                ready, _ = ray.wait([ref], timeout=PROGRESS_EVERY_S)
                status = keeper.status()
                if status["done"] > seen and status["loss"] is not None:
                    seen = status["done"]
                    home.progress(seen, status["steps"], status["loss"])
                if ready:
                    break
            state, losses = _unwrapped(ref)
            home.resumed_from = keeper.status()["resumed_from"]
            return state, losses
        finally:
            if not ray.wait([ref], timeout=0)[0]:
                ray.cancel(ref, force=True)  # refused or failed here: the worker stops too
            keeper.close()
