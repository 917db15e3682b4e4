"""Built-in tiny models saved to disk the ways users keep models: a diffusers folder, and a
single original-layout ``.safetensors`` file with its component configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_tiny_folder(name: str, folder: Path) -> Path:
    from likeness.models.tiny import tiny_pipeline

    tiny_pipeline(name).save_pretrained(folder)
    return folder


def save_tiny_single_file(folder: Path, name: str = "tiny-sd15") -> tuple[Path, Path]:
    """(a tiny model as one original-layout file, a folder of its component configs)."""
    from likeness.models.tiny import tiny_pipeline
    from tests.support.checkpoints import write_single_file

    path = write_single_file(tiny_pipeline(name), folder / "tiny.safetensors", folder / "configs")
    return path, folder / "configs"


def sample(pipe, prompt: str = "a photo of a cat", seed: int = 1, steps: int = 3) -> np.ndarray:
    """One image as floats in 0..1, at the model's native size, reproducibly."""
    import torch

    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    return pipe(
        prompt,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
        height=size,
        width=size,
        output_type="np",
    ).images[0]
