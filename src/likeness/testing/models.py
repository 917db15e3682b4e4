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
    from likeness.testing.checkpoints import write_single_file

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


def full_size_components(family_name: str) -> dict:
    """A family's real architecture with random weights, built from the component configs
    likeness carries (make it under ``torch.device("meta")`` to allocate nothing)."""
    import diffusers
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from likeness.models.families import family
    from likeness.models.tokenizer import clip_tokenizer

    fam = family(family_name)
    cfg = fam.config_dir
    parts = {
        "unet": diffusers.UNet2DConditionModel.from_config(
            diffusers.UNet2DConditionModel.load_config(cfg / "unet")
        ),
        "vae": diffusers.AutoencoderKL.from_config(
            diffusers.AutoencoderKL.load_config(cfg / "vae")
        ),
        "text_encoder": CLIPTextModel(
            CLIPTextConfig.from_json_file(cfg / "text_encoder/config.json")
        ),
    }
    if fam.name == "sdxl":
        parts["text_encoder_2"] = CLIPTextModelWithProjection(
            CLIPTextConfig.from_json_file(cfg / "text_encoder_2/config.json")
        )
    with torch.device("cpu"):  # the scheduler's tables are real tensors, whatever the device
        parts["scheduler"] = diffusers.EulerDiscreteScheduler.from_config(
            diffusers.EulerDiscreteScheduler.load_config(cfg / "scheduler")
        )
    for i, pad in enumerate(fam.tokenizer_pads):
        parts["tokenizer" if i == 0 else f"tokenizer_{i + 1}"] = clip_tokenizer(pad)
    if fam.name == "sd15":
        parts |= {
            "safety_checker": None,
            "feature_extractor": None,
            "requires_safety_checker": False,
        }
    return parts


def animatediff_layout(state: dict) -> dict:
    """A diffusers ``MotionAdapter`` state dict in AnimateDiff's original names (as its
    published ``mm_sd_v15_v2`` files have them): the reverse of ``models.motion``'s mapping,
    written here independently, so a test of the reader does not trust the reader."""
    import re

    out = {}
    for key, value in state.items():
        key = re.sub(r"(motion_modules\.\d+)\.", r"\1.temporal_transformer.", key)
        key = (
            key.replace(".attn1.", ".attention_blocks.0.")
            .replace(".attn2.", ".attention_blocks.1.")
            .replace(".norm1.", ".norms.0.")
            .replace(".norm2.", ".norms.1.")
            .replace(".norm3.", ".ff_norm.")
        )
        if key.endswith(".pos_embed.pe"):
            stem = key.removesuffix("pos_embed.pe")
            out[stem + "attention_blocks.0.pos_encoder.pe"] = value
            out[stem + "attention_blocks.1.pos_encoder.pe"] = value.clone()
            continue
        out[key] = value
    return out


def save_tiny_motion_single_file(path: Path, family: str = "sd15") -> Path:
    """The built-in tiny motion module as one file in AnimateDiff's original layout
    (``.safetensors``, or a ``.ckpt`` pickle of ``{"state_dict": ...}``)."""
    import torch

    from likeness.models.families import FAMILIES
    from likeness.models.motion import tiny_motion_adapter
    from likeness.models.tiny import TINY_UNET_BLOCKS

    adapter = tiny_motion_adapter(FAMILIES[family], TINY_UNET_BLOCKS)
    state = {k: v.contiguous() for k, v in animatediff_layout(adapter.state_dict()).items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({"state_dict": state}, str(path))
    return path
