"""The model families likeness can load and train on, one entry each.

A family says which diffusers pipeline runs it, its native resolution, its tokenizers, where the
standard component configs that the project carries lie (so a single-file checkpoint loads with
no network), how to recognise its single files, and which modules a LoRA targets. A transformer
family (SD3/FLUX-type) is one more entry with its own pipeline class and targets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from likeness.errors import InvalidError, NotFoundError

CONFIGS = Path(__file__).parent / "configs"


class ModelError(InvalidError):
    """A base model that cannot be added, found or loaded."""


class ModelNotFoundError(NotFoundError, ModelError):
    """No base model by that name."""


class UnknownFamilyError(ModelError):
    """A model whose family likeness does not know (yet)."""


@dataclass(frozen=True)
class Family:
    name: str
    #: The diffusers pipeline class that runs it.
    pipeline_class: str
    #: Native image size: training crops are made at this size.
    resolution: int
    #: Pad token of each tokenizer, in pipeline order (``tokenizer``, ``tokenizer_2``...).
    tokenizer_pads: tuple[str, ...]
    #: The denoiser's attention projections a LoRA adapts (diffusers module names).
    lora_targets: tuple[str, ...]
    #: The text encoders' attention projections, when the text encoder is trained too.
    text_lora_targets: tuple[str, ...]
    #: True if a single-file checkpoint's keys belong to this family.
    recognises: Callable[[set[str]], bool]
    #: The diffusers pipeline class that runs it with a motion module (video).
    video_pipeline_class: str

    @property
    def config_dir(self) -> Path:
        """The standard component configs (model_index.json, unet/, vae/, text_encoder...)."""
        return CONFIGS / self.name

    def pipeline_type(self):
        import diffusers

        return getattr(diffusers, self.pipeline_class)

    def video_pipeline_type(self):
        import diffusers

        return getattr(diffusers, self.video_pipeline_class)


_UNET_ATTENTION = ("to_q", "to_k", "to_v", "to_out.0")
_CLIP_ATTENTION = ("q_proj", "k_proj", "v_proj", "out_proj")


def _is_sdxl(keys: set[str]) -> bool:
    return any(k.startswith("conditioner.embedders.1.") for k in keys)


def _is_sd15(keys: set[str]) -> bool:
    return "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight" in keys or (
        "model.diffusion_model.input_blocks.0.0.weight" in keys
        and not any(k.startswith(("conditioner.", "cond_stage_model.model.")) for k in keys)
    )


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="sd15",
            pipeline_class="StableDiffusionPipeline",
            resolution=512,
            tokenizer_pads=("<|endoftext|>",),
            lora_targets=_UNET_ATTENTION,
            text_lora_targets=_CLIP_ATTENTION,
            recognises=_is_sd15,
            video_pipeline_class="AnimateDiffPipeline",
        ),
        Family(
            name="sdxl",
            pipeline_class="StableDiffusionXLPipeline",
            resolution=1024,
            tokenizer_pads=("<|endoftext|>", "!"),
            lora_targets=_UNET_ATTENTION,
            text_lora_targets=_CLIP_ATTENTION,
            recognises=_is_sdxl,
            video_pipeline_class="AnimateDiffSDXLPipeline",
        ),
    )
}

#: diffusers pipeline class name -> family, for folders and hub snapshots (model_index.json).
_BY_PIPELINE = {f.pipeline_class: f for f in FAMILIES.values()}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownFamilyError(
            f"unknown model family {name!r}; known: {', '.join(FAMILIES)}"
        ) from None


def family_of_pipeline(class_name: str) -> Family:
    found = _BY_PIPELINE.get(class_name)
    if found is None:
        raise UnknownFamilyError(
            f"{class_name} is not a family likeness supports yet (supported: "
            + ", ".join(f"{f.name} ({f.pipeline_class})" for f in FAMILIES.values())
            + ")"
        )
    return found


def family_of_checkpoint(keys: set[str]) -> Family:
    """Recognise a single-file checkpoint (A1111/ComfyUI layout) by its tensor names."""
    # SDXL first: its files also carry model.diffusion_model.* keys.
    for name in ("sdxl", "sd15"):
        if FAMILIES[name].recognises(keys):
            return FAMILIES[name]
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        raise UnknownFamilyError("an SD 2.x checkpoint: not a family likeness supports yet")
    raise UnknownFamilyError(
        "not a Stable Diffusion 1.5 or SDXL checkpoint (no UNet/text-encoder keys of either)"
    )
