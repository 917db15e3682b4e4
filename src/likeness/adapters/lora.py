"""A person's LoRA layers: their configuration, and their tensors in and out of a pipeline in
diffusers' file layout."""

from __future__ import annotations

from likeness.models.families import Family


def lora_config(family: Family, rank: int, text: bool = False):
    """peft's LoRA on the family's attention projections (the text encoder's with ``text``),
    alpha equal to the rank (a scale of 1)."""
    from peft import LoraConfig

    return LoraConfig(
        r=rank,
        lora_alpha=rank,
        init_lora_weights="gaussian",
        target_modules=list(family.text_lora_targets if text else family.lora_targets),
    )


def lora_state(pipe, text_encoder: bool) -> dict:
    """The trained LoRA tensors in diffusers' file layout (``unet.`` / ``text_encoder.``
    prefixes, peft's ``lora_A``/``lora_B`` names), as ``load_lora_weights`` reads them."""
    from peft.utils import get_peft_model_state_dict

    state = {f"unet.{k}": v for k, v in get_peft_model_state_dict(pipe.unet).items()}
    if text_encoder:
        state |= {
            f"text_encoder.{k}": v for k, v in get_peft_model_state_dict(pipe.text_encoder).items()
        }
    return state


def set_lora_state(pipe, state: dict) -> None:
    """Load tensors in ``lora_state``'s layout back into a pipeline's LoRA layers."""
    from peft.utils import set_peft_model_state_dict

    for prefix, module in (("unet.", pipe.unet), ("text_encoder.", pipe.text_encoder)):
        part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if part:
            set_peft_model_state_dict(module, part)
