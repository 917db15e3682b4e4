"""Built-in tiny models: the real diffusers and transformers classes of each family with a small
config and random weights from a fixed seed.

They run the whole pipeline (training, generation, adapters, export) on a CPU in seconds. They
draw noise-like images and cannot depict anyone, which is why the consent gate lets an
``attested`` grant drive them (``ModelKind.TINY``) and nothing else. Only these built-ins count as
tiny: a tiny model saved to disk and added back by a user is a ``real`` model like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from likeness.models.families import FAMILIES, Family
from likeness.models.tokenizer import clip_tokenizer

SEED = 20261127
#: The tiny VAE halves the image twice: 128 px images, 32 px latents.
TINY_RESOLUTION = 128
#: The tiny UNets' block widths (a built-in tiny motion module is made to fit them).
TINY_UNET_BLOCKS = (32, 64)


@dataclass(frozen=True)
class TinyModel:
    name: str
    family: Family
    description: str


TINY_MODELS: dict[str, TinyModel] = {
    m.name: m
    for m in (
        TinyModel("tiny-sd15", FAMILIES["sd15"], "SD1.5-type, random weights (tests and demo)"),
        TinyModel("tiny-sdxl", FAMILIES["sdxl"], "SDXL-type, random weights (tests and demo)"),
    )
}


def _text_encoder(hidden: int, with_projection: bool = False, projection: int = 32):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=49408,  # the real CLIP vocabulary, so the real tokenizer drives it
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=projection,
        hidden_act="quick_gelu",
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=TINY_RESOLUTION,
    )


def _scheduler(family: Family):
    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    config = dict(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
    )
    if family.name == "sdxl":
        return EulerDiscreteScheduler(**config, timestep_spacing="leading")
    return DDIMScheduler(**config, clip_sample=False, set_alpha_to_one=False)


def tiny_components(name: str) -> dict:
    """The components of a built-in tiny model, as its family's pipeline takes them."""
    import torch
    from diffusers import UNet2DConditionModel

    model = TINY_MODELS[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        if model.family.name == "sd15":
            unet = UNet2DConditionModel(
                sample_size=TINY_RESOLUTION // 4,
                in_channels=4,
                out_channels=4,
                block_out_channels=TINY_UNET_BLOCKS,
                layers_per_block=1,
                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                cross_attention_dim=32,
                attention_head_dim=4,
                norm_num_groups=16,
            )
            return {
                "unet": unet,
                "vae": _vae(),
                "text_encoder": _text_encoder(32),
                "tokenizer": clip_tokenizer(model.family.tokenizer_pads[0]),
                "scheduler": _scheduler(model.family),
                "safety_checker": None,
                "feature_extractor": None,
                "requires_safety_checker": False,
            }
        unet = UNet2DConditionModel(
            sample_size=TINY_RESOLUTION // 4,
            in_channels=4,
            out_channels=4,
            block_out_channels=TINY_UNET_BLOCKS,
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=6 * 8 + 32,  # time ids + pooled text
            # Both encoders' hidden states, concatenated. They differ in width, as in the real
            # SDXL (768 and 1280), which is how single-file loading tells them apart.
            cross_attention_dim=32 + 48,
            norm_num_groups=16,
        )
        return {
            "unet": unet,
            "vae": _vae(),
            "text_encoder": _text_encoder(32),
            "text_encoder_2": _text_encoder(48, with_projection=True, projection=32),
            "tokenizer": clip_tokenizer(model.family.tokenizer_pads[0]),
            "tokenizer_2": clip_tokenizer(model.family.tokenizer_pads[1]),
            "scheduler": _scheduler(model.family),
        }


def tiny_pipeline(name: str):
    """A built-in tiny model as its family's diffusers pipeline (CPU, float32)."""
    model = TINY_MODELS[name]
    pipe = model.family.pipeline_type()(**tiny_components(name))
    pipe.set_progress_bar_config(disable=True)
    return pipe
