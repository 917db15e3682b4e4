"""Making a generation's pixels, on this machine or elsewhere.

``SamplingRequest`` is what sampling needs, and all that travels when it runs on another
machine (``likeness.compute``): the base model as the library registered it (a worker loads
its own copy, which must have the same SHA-256), for a clip the motion module likewise, each
person's LoRA weights decrypted for the job, the prompt as the model reads it, the layout and
the seeds. Never the catalog, a photo, an embedding or a key. Pixels come back (an image, or
a clip's frames); the safety gate and the stamping stay with the library (``generate.run``,
``generate.video``).

``Compute`` is where sampling runs. ``LocalCompute`` runs it in this process; the consent
gate's Decision is asked before every image, wherever it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from likeness.consent.policy import Decision
from likeness.generate.sampling import Region, sample_prompt
from likeness.models.motion import MotionModule
from likeness.models.registry import BaseModel
from likeness.store import Library

#: ``progress(output, step, steps)``, after each denoising step of an image or a clip.
ImageProgress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class AdapterWeights:
    """One person's adapter as a pipeline holds it: its name there and its LoRA weights."""

    name: str
    state: dict


@dataclass(frozen=True)
class SamplingRequest:
    """One generation's sampling (module docstring): output ``index`` is made from
    ``seeds[index]``; with ``motion``, each output is a clip of ``frames`` frames (AnimateDiff's
    pipeline for the model's family, built on the base model)."""

    model: BaseModel
    adapters: tuple[AdapterWeights, ...]
    text: str
    negative: str
    regions: tuple[Region, ...]
    width: int
    height: int
    steps: int
    guidance: float
    seeds: tuple[int, ...]
    motion: MotionModule | None = None
    frames: int | None = None

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.adapters]

    def pipeline(
        self, device: str, model: BaseModel | None = None, motion: MotionModule | None = None
    ):
        """The pipeline that samples this request on ``device``, fp16 on a GPU: the base
        model's, or for a clip its family's AnimateDiff pipeline on it with the motion module
        (``model``, ``motion``: the local copies a worker resolved, default the registered
        ones). A clip longer than the module covers is refused (``ModelError``)."""
        import torch

        from likeness.models.loading import load_pipeline

        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        model = model or self.model
        base = load_pipeline(model, device, dtype)
        if self.motion is None:
            return base
        from likeness.models.families import ModelError
        from likeness.models.motion import load_motion_adapter, max_frames

        motion = motion or self.motion
        adapter = load_motion_adapter(motion, model, tuple(base.unet.config.block_out_channels))
        if (self.frames or 0) > max_frames(adapter):
            raise ModelError(
                f"{self.frames} frames: the motion module {motion.name} covers at most "
                f"{max_frames(adapter)}",
                field="frames",
            )
        pipe = model.family.video_pipeline_type().from_pipe(base, motion_adapter=adapter)
        pipe = pipe.to(device, dtype)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def load_adapters(self, pipe) -> None:
        """Every person's adapter into ``pipe``, under its name."""
        from likeness.adapters.manage import load_weights_into_pipeline

        for adapter in self.adapters:
            load_weights_into_pipeline(pipe, adapter.state, adapter.name)

    def sample(self, pipe, index: int, progress: Callable[[int, int], None] | None = None):
        """Output ``index``'s pixels (H x W x 3, uint8; a clip's F x H x W x 3): regional
        prompting for several people, else the pipeline's own call."""
        import torch

        common = {
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "guidance": self.guidance,
            "generator": torch.Generator().manual_seed(self.seeds[index]),
            "progress": progress,
            "frames": self.frames,
        }
        return sample_prompt(
            pipe, self.text, self.negative, self.names, list(self.regions), **common
        )


class Compute(Protocol):
    """Where a generation's images (or clips) are sampled: ``images`` yields (index, pixels)
    for every index of the request, each once, in any order, having asked ``decision`` (still
    in force?) before each."""

    def images(
        self,
        lib: Library,
        decision: Decision,
        request: SamplingRequest,
        progress: ImageProgress | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]: ...


@dataclass(frozen=True)
class LocalCompute:
    """Sampling in this process, on ``device`` (None: the best this machine has)."""

    device: str | None = None

    def images(
        self,
        lib: Library,
        decision: Decision,
        request: SamplingRequest,
        progress: ImageProgress | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        from likeness.models.device import choose_device

        pipe = request.pipeline(choose_device(self.device))
        request.load_adapters(pipe)
        for index in range(len(request.seeds)):
            decision.check_in_force(lib)

            def report(step: int, steps: int, index: int = index) -> None:
                if progress is not None:
                    progress(index, step, steps)

            yield index, request.sample(pipe, index, report)
