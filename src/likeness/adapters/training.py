"""Train a person's LoRA adapter on a frozen base model.

The recipe of diffusers' DreamBooth-LoRA script, kept to what a face adapter needs: peft LoRA on
the denoiser's attention projections (optionally the text encoder's), the noise-prediction
loss (or v-prediction, as the scheduler says), AdamW, gradient clipping, fp32 on a CPU and
bf16/fp16 autocast on a GPU with gradient checkpointing and 8-bit Adam where bitsandbytes is
installed. Everything random is drawn from generators seeded by (seed, step), so a run resumed
from a checkpoint continues exactly as an uninterrupted one would.

The consent gate is the contract: ``train_adapter`` takes the ``Decision`` for
``train-adapter`` and calls ``Decision.check_in_force`` before every step; a revocation stops
the run and deletes the partial adapter and its checkpoint.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from likeness import clock
from likeness.adapters import storage
from likeness.adapters.checkpoints import LibraryTraining, TrainingHome
from likeness.adapters.curation import CurationRules, TrainingSet, curate
from likeness.adapters.lora import lora_config, lora_state, set_lora_state
from likeness.adapters.loss_curve import write_loss_curve
from likeness.adapters.tables import AdapterRecord, AdapterStatus
from likeness.consent.grants import OWNER
from likeness.consent.policy import (
    Action,
    ConsentWithdrawnError,
    Decision,
    ModelKind,
    authorize,
)
from likeness.errors import InvalidError
from likeness.models.conditioning import encode_captions, encode_images, prediction_target
from likeness.models.device import choose_device
from likeness.models.loading import load_pipeline
from likeness.models.registry import BaseModel, get_model, model_kind
from likeness.people.tables import Person
from likeness.store import Library

if TYPE_CHECKING:
    from PIL import Image

FORMAT_VERSION = "1"


class TrainingError(InvalidError):
    """Training cannot start or resume as asked."""


@dataclass(frozen=True)
class TrainingParams:
    #: Optimizer steps (one batch each).
    steps: int = 1000
    rank: int = 16
    learning_rate: float = 1e-4
    batch_size: int = 1
    seed: int = 0
    #: A checkpoint (sealed) every this many steps, for --resume after a crash.
    checkpoint_every: int = 100
    train_text_encoder: bool = False
    #: None: on for a GPU, off on a CPU.
    gradient_checkpointing: bool | None = None
    #: "no", "fp16" or "bf16"; None: bf16 (or fp16) on a GPU, "no" on a CPU.
    mixed_precision: str | None = None
    #: None: bitsandbytes' 8-bit AdamW on a GPU when installed.
    use_8bit_adam: bool | None = None

    @classmethod
    def for_model(cls, model: BaseModel, **overrides) -> TrainingParams:
        """Defaults that suit the model: a real base needs about 1000 steps at 1e-4 (the
        DreamBooth-LoRA recipe); a built-in tiny one shows learning in 150 steps at 1e-3."""
        base = (
            {"steps": 150, "learning_rate": 1e-3, "checkpoint_every": 50}
            if model.kind == ModelKind.TINY
            else {}
        )
        return cls(**{**base, **{k: v for k, v in overrides.items() if v is not None}})

    def resolved(self, device: str) -> TrainingParams:
        """The automatic choices made for ``device``."""
        import torch

        gpu = device.startswith("cuda")
        precision = self.mixed_precision
        if precision is None:
            precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if gpu else "no"
        eight_bit = self.use_8bit_adam
        if eight_bit is None:
            eight_bit = gpu and _has_bitsandbytes()
        checkpointing = gpu if self.gradient_checkpointing is None else self.gradient_checkpointing
        return TrainingParams(
            **{
                **asdict(self),
                "mixed_precision": precision,
                "use_8bit_adam": eight_bit,
                "gradient_checkpointing": checkpointing,
            }
        )


def _has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


@dataclass
class TrainedAdapter:
    id: str
    person_id: int
    person_uid: str
    base_model: str
    trigger: str
    steps: int
    losses: list[float] = field(repr=False)
    path: str
    loss_curve: str
    resumed_from: int

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "person": self.person_id,
            "base_model": self.base_model,
            "trigger": self.trigger,
            "steps": self.steps,
            "final_loss": self.losses[-1] if self.losses else None,
            "path": self.path,
            "loss_curve": self.loss_curve,
            "resumed_from": self.resumed_from,
        }


def _interrupted_run(lib: Library, person_uid: str, model: str) -> AdapterRecord | None:
    with lib.session() as s:
        return s.scalar(
            select(AdapterRecord)
            .where(
                AdapterRecord.person_uid == person_uid,
                AdapterRecord.base_model == model,
                AdapterRecord.status == AdapterStatus.TRAINING,
            )
            .order_by(AdapterRecord.created_at.desc())
        )


def authorize_training(
    lib: Library, person_id: int, model_name: str, requester: str = OWNER
) -> Decision:
    """Ask the gate for ``train-adapter`` on this person with this model (tiny or real, as
    the registry says). The Decision is recorded in the audit log whatever it says."""
    return authorize(lib, Action.TRAIN_ADAPTER, [person_id], requester, model_kind(lib, model_name))


def _keep_nothing(lib: Library, uid: str, adapter_id: str) -> None:
    """Consent was withdrawn during training: its files go, its record says so, and the key
    of a person who asked never to be generated is destroyed again (if writing made one)."""
    storage.delete_files(lib, uid, adapter_id)
    with lib.session() as s:
        row = s.get(AdapterRecord, adapter_id)
        if row is not None:
            row.status = AdapterStatus.WITHDRAWN
        never = s.scalar(select(Person.do_not_generate).where(Person.uid == uid))
    if never:
        lib.keys.destroy_person_key(uid)


def train_adapter(
    lib: Library,
    decision: Decision,
    person_id: int,
    model_name: str,
    params: TrainingParams | None = None,
    *,
    rules: CurationRules | None = None,
    resume: bool = False,
    device: str | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    training_set: TrainingSet | None = None,
    compute: TrainingCompute | None = None,
) -> TrainedAdapter:
    """Curate the person's photos, train a LoRA on ``model_name`` and store it encrypted.

    ``decision`` must allow ``train-adapter`` for exactly this person (and, if it was made for
    the tiny models, ``model_name`` must be one). ``resume`` continues the person's interrupted
    run on this model from its last checkpoint; it must have the same parameters and photos.
    ``progress(step, steps, loss)`` is called after each step. ``compute``: where the steps
    run (default this process); wherever they run, the Decision is asked before each step
    here, in the library, and checkpoints are sealed here.
    """
    import torch

    model = get_model(lib, model_name)
    decision.require(Action.TRAIN_ADAPTER, [person_id], model.kind)
    params = params or TrainingParams()
    if compute is None:
        device = choose_device(device)
        params = params.resolved(device)  # elsewhere, the worker resolves them for its device
    decision.check_in_force(lib)
    data = training_set or curate(lib, person_id, model.resolution, rules)
    uid = data.person_uid

    record = _interrupted_run(lib, uid, model.name)
    if resume:
        if record is None:
            raise TrainingError(
                f"no interrupted training of person {person_id} on {model.name} to resume",
                field="resume",
            )
        if json.loads(record.params) != asdict(params):
            raise TrainingError(
                "the interrupted run used other settings "
                f"({record.params}); start afresh instead of resuming",
                field="resume",
            )
        if json.loads(record.dataset)["data_sha256"] != data.data_hash():
            raise TrainingError(
                "the person's training photos changed since the interrupted run; "
                "start afresh instead of resuming",
                field="resume",
            )
        adapter_id = record.id
    else:
        if record is not None:  # an interrupted run is replaced by a fresh one
            storage.delete_files(lib, uid, record.id)
            with lib.session() as s:
                s.get(AdapterRecord, record.id).status = AdapterStatus.ABANDONED
        adapter_id = uuid.uuid4().hex
        with lib.session() as s:
            s.add(
                AdapterRecord(
                    id=adapter_id,
                    person_uid=uid,
                    base_model=model.name,
                    base_model_sha256=model.sha256,
                    family=model.family.name,
                    trigger=data.trigger,
                    grant_ids=json.dumps(list(decision.grant_ids)),
                    params=json.dumps(asdict(params)),
                    dataset=json.dumps({"data_sha256": data.data_hash(), **data.as_json()}),
                    status=AdapterStatus.TRAINING,
                    steps_done=0,
                    created_at=clock.now(),
                )
            )

    job = TrainingJob(
        model,
        params,
        tuple(e.image for e in data.examples),
        tuple(e.caption for e in data.examples),
    )
    home = LibraryTraining(lib, decision, uid, adapter_id, progress)
    try:
        if compute is None:
            state, losses = run_training(job, home, device or "cpu")
        else:
            state, losses = compute.train(job, home)
    except ConsentWithdrawnError:
        _keep_nothing(lib, uid, adapter_id)
        raise

    meta = {
        "likeness.format": FORMAT_VERSION,
        "likeness.adapter": adapter_id,
        "likeness.person_uid": uid,
        "likeness.grant_ids": json.dumps(list(decision.grant_ids)),
        "likeness.base_model": model.name,
        "likeness.base_model_sha256": model.sha256,
        "likeness.family": model.family.name,
        "likeness.trigger": data.trigger,
        "likeness.data_sha256": data.data_hash(),
        "likeness.data": json.dumps([e.sha256 for e in data.examples]),
        "likeness.params": json.dumps(asdict(params)),
    }
    try:
        path = storage.save_weights(lib, uid, adapter_id, state, meta)
        storage.checkpoint_path(lib, uid, adapter_id).unlink(missing_ok=True)
        curve = storage.loss_curve_path(lib, uid, adapter_id)
        write_loss_curve(losses, curve, f"{model.name}, rank {params.rank}")
        # Once more after writing: consent withdrawn (or the person erased) while the
        # weights were saved leaves nothing behind.
        decision.check_in_force(lib)
        with lib.session() as s:
            row = s.get(AdapterRecord, adapter_id)
            if row is None:  # deleted while it was being written (an erasure)
                raise ConsentWithdrawnError("the adapter was deleted while it was saved")
            row.status, row.steps_done = AdapterStatus.READY, params.steps
            row.finished_at, row.metrics = clock.now(), json.dumps({"losses": losses})
    except ConsentWithdrawnError:
        _keep_nothing(lib, uid, adapter_id)
        raise
    if device is not None and device.startswith("cuda"):
        torch.cuda.empty_cache()
    return TrainedAdapter(
        adapter_id,
        person_id,
        uid,
        model.name,
        data.trigger,
        params.steps,
        losses,
        str(path),
        str(curve),
        home.resumed_from,
    )


@dataclass(frozen=True)
class TrainingJob:
    """What the training steps need, and all that travels when they run on another machine
    (``likeness.compute``): the base model as registered (a worker loads its own copy, which
    must have the same SHA-256), the parameters, and the curated crops with their captions.
    Never the catalog, the photos, the embeddings or a key."""

    model: BaseModel
    params: TrainingParams
    images: tuple[Image.Image, ...]
    captions: tuple[str, ...]


class TrainingCompute(Protocol):
    """Where a run's steps are taken, with ``home`` (the library, the Decision, the
    adapter's checkpoints) on this machine: returns (the final LoRA weights, every step's
    loss)."""

    def train(self, job: TrainingJob, home: LibraryTraining) -> tuple[dict, list[float]]: ...


def run_training(job: TrainingJob, home: TrainingHome, device: str) -> tuple[dict, list[float]]:
    """Take the run's steps on ``device`` from where ``home`` says, asking ``home`` before
    every step and once after the last: (the final LoRA weights, every step's loss). The
    same steps on a worker (``likeness.compute``) or here."""
    params = job.params
    run = TrainingRun(job.model, params, job.images, job.captions, device)
    start, losses = 0, []
    checkpoint = home.restore_point()
    if checkpoint is not None:
        run.restore(checkpoint)
        start, losses = int(checkpoint["step"]), list(checkpoint["losses"])
    for step in range(start, params.steps):
        home.in_force()
        losses.append(run.step(step))
        done = step + 1
        home.progress(done, params.steps, losses[-1])
        if done % params.checkpoint_every == 0 and done < params.steps:
            home.checkpoint(run.checkpoint(done, losses))
    home.in_force()
    state = {k: v.detach().cpu() for k, v in run.lora_state().items()}
    return state, losses


class TrainingRun:
    """The model, data and optimizer of one training run."""

    def __init__(
        self,
        model: BaseModel,
        params: TrainingParams,
        images: Sequence[Image.Image],
        captions: Sequence[str],
        device: str,
    ):
        import torch

        self.params, self.device = params, device
        self.weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
            params.mixed_precision, torch.float32
        )
        pipe = load_pipeline(model, device, self.weight_dtype)
        self.pipe, self.family = pipe, model.family
        for part in ("unet", "vae", "text_encoder", "text_encoder_2"):
            module = getattr(pipe, part, None)
            if module is not None:
                module.requires_grad_(False)
        self.latents = encode_images(pipe, list(images)).to(self.weight_dtype)
        self.captions = list(captions)
        self.resolution = model.resolution
        with torch.random.fork_rng(devices=[]):  # LoRA's random init, seeded
            torch.manual_seed(params.seed)
            pipe.unet.add_adapter(lora_config(model.family, params.rank))
            if params.train_text_encoder:
                # peft directly: transformers' add_adapter insists on a newer peft than
                # diffusers does.
                from peft import inject_adapter_in_model

                config = lora_config(model.family, params.rank, text=True)
                inject_adapter_in_model(config, pipe.text_encoder)
        if params.train_text_encoder:
            self.cached = None
        else:  # the text encoder is frozen: encode each caption once
            with torch.no_grad():
                self.cached = encode_captions(pipe, model.family, self.captions, self.resolution)
        if params.gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
        self.trainable = [p for p in pipe.unet.parameters() if p.requires_grad]
        if params.train_text_encoder:
            self.trainable += [p for p in pipe.text_encoder.parameters() if p.requires_grad]
        for p in self.trainable:  # LoRA weights train in fp32 whatever the base's dtype
            p.data = p.data.float()
        if params.use_8bit_adam:
            import bitsandbytes

            optimizer_cls = bitsandbytes.optim.AdamW8bit
        else:
            optimizer_cls = torch.optim.AdamW
        self.optimizer = optimizer_cls(
            self.trainable, lr=params.learning_rate, betas=(0.9, 0.999), weight_decay=1e-2
        )
        self.n = len(self.captions)

    def _batch(self, step: int) -> list[int]:
        """Examples of this step: epochs of a permutation seeded by (seed, epoch)."""
        import torch

        size = self.params.batch_size
        out = []
        for k in range(step * size, (step + 1) * size):
            epoch, pos = divmod(k, self.n)
            g = torch.Generator().manual_seed(self.params.seed * 1_000_003 + epoch)
            out.append(int(torch.randperm(self.n, generator=g)[pos]))
        return out

    def step(self, step: int) -> float:
        import torch
        import torch.nn.functional as F

        unet, scheduler = self.pipe.unet, self.pipe.scheduler
        idx = self._batch(step)
        latents = self.latents[idx]
        g = torch.Generator().manual_seed(self.params.seed * 7_919 + step)
        noise = torch.randn(latents.shape, generator=g).to(latents)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (len(idx),), generator=g)
        t = t.to(latents.device)
        noisy = scheduler.add_noise(latents, noise, t)
        if self.cached is not None:
            embeds, added = self.cached
            embeds = embeds[idx]
            added = None if added is None else {k: v[idx] for k, v in added.items()}
        else:
            embeds, added = encode_captions(
                self.pipe, self.family, [self.captions[i] for i in idx], self.resolution
            )
        autocast = self.weight_dtype != torch.float32
        with torch.autocast(self.device.split(":")[0], self.weight_dtype, enabled=autocast):
            pred = unet(noisy, t, embeds, added_cond_kwargs=added).sample
        loss = F.mse_loss(pred.float(), prediction_target(scheduler, latents, noise, t).float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.trainable, 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def lora_state(self) -> dict:
        return lora_state(self.pipe, self.params.train_text_encoder)

    def checkpoint(self, step: int, losses: list[float]) -> dict:
        return {
            "step": step,
            "losses": list(losses),
            "lora": {k: v.detach().cpu() for k, v in self.lora_state().items()},
            "optimizer": self.optimizer.state_dict(),
        }

    def restore(self, checkpoint: dict) -> None:
        set_lora_state(self.pipe, checkpoint["lora"])
        for p in self.trainable:
            p.data = p.data.float()
        self.optimizer.load_state_dict(checkpoint["optimizer"])
