"""Making a generation's pixels, on this machine or elsewhere.

``SamplingRequest`` is what sampling needs, and all that travels when it runs on another
machine (``likeness.compute``): the base model as the library registered it (a worker loads
its own copy, which must have the same SHA-256), each person's LoRA weights decrypted for the
job, the prompt as the model reads it, the layout and the seeds. Never the catalog, a photo,
an embedding or a key. Pixels come back; the safety gate and the stamping stay with the
library (``generate.run``).

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
from likeness.models.registry import BaseModel
from likeness.store import Library

#: ``progress(image, step, steps)``, after each denoising step of an image.
ImageProgress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class AdapterWeights:
    """One person's adapter as a pipeline holds it: its name there and its LoRA weights."""

    name: str
    state: dict


@dataclass(frozen=True)
class SamplingRequest:
    """One generation's sampling (module docstring): image ``index`` is made from
    ``seeds[index]``."""

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

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.adapters]

    def base_pipeline(self, device: str, model: BaseModel | None = None):
        """The base model's pipeline on ``device``, fp16 on a GPU (``model``: the local copy
        a worker resolved, default the registered one)."""
        import torch

        from likeness.models.loading import load_pipeline

        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        return load_pipeline(model or self.model, device, dtype)

    def load_adapters(self, pipe) -> None:
        """Every person's adapter into ``pipe``, under its name."""
        from likeness.adapters.manage import load_weights_into_pipeline

        for adapter in self.adapters:
            load_weights_into_pipeline(pipe, adapter.state, adapter.name)

    def sample(self, pipe, index: int, progress: Callable[[int, int], None] | None = None):
        """Image ``index``'s pixels (H x W x 3, uint8): regional prompting for several
        people, else the pipeline's own call."""
        import torch

        common = {
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "guidance": self.guidance,
            "generator": torch.Generator().manual_seed(self.seeds[index]),
            "progress": progress,
        }
        return sample_prompt(
            pipe, self.text, self.negative, self.names, list(self.regions), **common
        )


class Compute(Protocol):
    """Where a generation's images are sampled: ``images`` yields (index, pixels) for every
    index of the request, each once, in any order, having asked ``decision`` (still in
    force?) before each."""

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

        pipe = request.base_pipeline(choose_device(self.device))
        request.load_adapters(pipe)
        for index in range(len(request.seeds)):
            decision.check_in_force(lib)

            def report(step: int, steps: int, index: int = index) -> None:
                if progress is not None:
                    progress(index, step, steps)

            yield index, request.sample(pipe, index, report)
