"""kohya export: the names sd-scripts write, which ComfyUI, A1111 and diffusers read.

SDXL LoRAs from sd-scripts name the original (SGM) UNet's modules (``input_blocks_4_1_…``),
SD1.5 ones the diffusers UNet's. The SDXL mapping is checked both ways: our names against known
real pairs, and back through diffusers' own readers (its single-file UNet converter and its
kohya LoRA converter) on the real SDXL layout and on the tiny one, then end to end: a trained
tiny-SDXL adapter exported and loaded into a plain diffusers pipeline."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from likeness.adapters.export import (
    ExportError,
    authorize_export,
    export_adapter,
    sgm_unet_module,
    sgm_unet_names,
    to_kohya,
    unet_config_of,
)
from likeness.adapters.manage import get_adapter, load_into_pipeline
from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
from likeness.models.families import family
from likeness.models.loading import load_pipeline
from likeness.models.registry import add_model, get_model
from likeness.testing.models import sample, save_tiny_folder
from tests.adapters.conftest import RULES

SGM_BLOCKS = ("lora_unet_input_blocks_", "lora_unet_middle_block_", "lora_unet_output_blocks_")
DIFFUSERS_BLOCKS = ("down_blocks", "mid_block", "up_blocks")

#: (diffusers module, original SDXL UNet module), as kohya's sd-scripts map them for SDXL
#: (``library/sdxl_model_util.make_unet_conversion_map``) and ComfyUI does
#: (``comfy/utils.unet_to_diffusers``).
REAL_SDXL_PAIRS = [
    (
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
        "input_blocks.4.1.transformer_blocks.0.attn1.to_q",
    ),
    (
        "down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_out.0",
        "input_blocks.8.1.transformer_blocks.9.attn2.to_out.0",
    ),
    ("down_blocks.2.attentions.0.proj_in", "input_blocks.7.1.proj_in"),
    (
        "mid_block.attentions.0.transformer_blocks.3.attn2.to_k",
        "middle_block.1.transformer_blocks.3.attn2.to_k",
    ),
    (
        "up_blocks.0.attentions.2.transformer_blocks.9.ff.net.2",
        "output_blocks.2.1.transformer_blocks.9.ff.net.2",
    ),
    (
        "up_blocks.1.attentions.0.transformer_blocks.1.ff.net.0.proj",
        "output_blocks.3.1.transformer_blocks.1.ff.net.0.proj",
    ),
    ("down_blocks.0.resnets.1.conv1", "input_blocks.2.0.in_layers.2"),
    ("down_blocks.1.resnets.0.conv_shortcut", "input_blocks.4.0.skip_connection"),
    ("down_blocks.0.downsamplers.0.conv", "input_blocks.3.0.op"),
    ("down_blocks.1.downsamplers.0.conv", "input_blocks.6.0.op"),
    ("mid_block.resnets.0.conv2", "middle_block.0.out_layers.3"),
    ("mid_block.resnets.1.time_emb_proj", "middle_block.2.emb_layers.1"),
    ("up_blocks.0.upsamplers.0.conv", "output_blocks.2.2.conv"),
    ("up_blocks.1.upsamplers.0.conv", "output_blocks.5.2.conv"),
    ("up_blocks.2.resnets.2.conv_shortcut", "output_blocks.8.0.skip_connection"),
    ("conv_in", "input_blocks.0.0"),
    ("time_embedding.linear_2", "time_embed.2"),
    ("add_embedding.linear_1", "label_emb.0.0"),
    ("conv_out", "out.2"),
]


def _real_sdxl_config() -> dict:
    return json.loads((family("sdxl").config_dir / "unet" / "config.json").read_text())


def _sdxl_unet(layout: str):
    """The real SDXL UNet's architecture (on the meta device: no weights), or the tiny one's."""
    from diffusers import UNet2DConditionModel

    from likeness.models.tiny import tiny_components

    if layout == "tiny":
        return tiny_components("tiny-sdxl")["unet"]
    with torch.device("meta"):
        return UNet2DConditionModel.from_config(_real_sdxl_config())


@pytest.mark.parametrize(("diffusers_name", "sgm_name"), REAL_SDXL_PAIRS)
def test_sdxl_unet_modules_take_the_original_unets_names(diffusers_name, sgm_name):
    assert sgm_unet_module(diffusers_name, sgm_unet_names(_real_sdxl_config())) == sgm_name


def test_sdxl_kohya_keys_are_what_sd_scripts_writes():
    pair = {
        "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q": (
            "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q"
        ),
        "unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0": (
            "lora_unet_middle_block_1_transformer_blocks_0_attn1_to_out_0"
        ),
        "unet.up_blocks.0.attentions.2.transformer_blocks.9.attn2.to_v": (
            "lora_unet_output_blocks_2_1_transformer_blocks_9_attn2_to_v"
        ),
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj": (
            "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"
        ),
        "text_encoder_2.text_model.encoder.layers.31.self_attn.out_proj": (
            "lora_te2_text_model_encoder_layers_31_self_attn_out_proj"
        ),
    }
    state = {}
    for module in pair:
        state[f"{module}.lora_A.weight"] = torch.ones(4, 8)
        state[f"{module}.lora_B.weight"] = torch.ones(8, 4)
    out = to_kohya(state, "sdxl", alpha=4, unet_config=_real_sdxl_config())
    expected = {f"{n}.{p}" for n in pair.values() for p in ("lora_down.weight", "lora_up.weight")}
    assert set(out) == expected | {f"{n}.alpha" for n in pair.values()}
    with pytest.raises(ExportError):  # the SDXL names depend on the UNet's layout
        to_kohya(state, "sdxl", alpha=4)


def test_sd15_kohya_keys_stay_diffusers_named():
    """sd-scripts train SD1.x on a diffusers-named UNet: its LoRAs say ``down_blocks``."""
    unet = "down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k"
    text = "text_model.encoder.layers.11.self_attn.v_proj"
    state = {
        f"unet.{unet}.lora_A.weight": torch.ones(4, 8),
        f"text_encoder.{text}.lora_B.weight": torch.ones(8, 4),
    }
    assert set(to_kohya(state, "sd15", alpha=4)) == {
        "lora_unet_down_blocks_0_attentions_1_transformer_blocks_0_attn2_to_k.lora_down.weight",
        "lora_unet_down_blocks_0_attentions_1_transformer_blocks_0_attn2_to_k.alpha",
        "lora_te_text_model_encoder_layers_11_self_attn_v_proj.lora_up.weight",
        "lora_te_text_model_encoder_layers_11_self_attn_v_proj.alpha",
    }


def test_export_takes_the_block_layout_from_the_adapters_base_model(lib, tmp_path):
    """The same diffusers layer sits in another input block of a UNet with fewer layers a
    block: the names follow the base model's own UNet config."""
    add_model(lib, "mine", str(save_tiny_folder("tiny-sdxl", tmp_path / "mine")))
    layer = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"
    expected = {
        "tiny-sdxl": "input_blocks.3.1",  # built in: one layer a block
        "mine": "input_blocks.3.1",  # a folder: its unet/config.json
        "gone": "input_blocks.4.1",  # no longer registered: the family's standard layout
    }
    for base_model, block in expected.items():
        config = unet_config_of(lib, SimpleNamespace(base_model=base_model, family="sdxl"))
        assert (
            sgm_unet_module(layer, sgm_unet_names(config))
            == f"{block}.transformer_blocks.0.attn1.to_q"
        )


@pytest.mark.parametrize("layout", ["real", "tiny"])
def test_sdxl_names_are_the_ones_diffusers_reads_in_an_original_checkpoint(layout):
    """Every weight of the UNet, renamed by our table, comes back to its own diffusers name
    through diffusers' single-file (original-layout) UNet reader."""
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    unet = _sdxl_unet(layout)
    config = dict(unet.config)
    names = sgm_unet_names(config)
    keys = list(unet.state_dict())
    checkpoint = {}
    for i, key in enumerate(keys):
        module, param = key.rsplit(".", 1)
        checkpoint[f"model.diffusion_model.{sgm_unet_module(module, names)}.{param}"] = i
    back = convert_ldm_unet_checkpoint(checkpoint, config)
    assert back == {key: i for i, key in enumerate(keys)}


@pytest.mark.parametrize("layout", ["real", "tiny"])
def test_sdxl_kohya_file_loads_in_diffusers_onto_the_same_layers(layout):
    """A LoRA on every Linear and Conv2d of the UNet and on both text encoders, named by
    ``to_kohya``: diffusers' kohya reader (given the UNet's config, as ``load_lora_weights``
    does) puts each tensor back on the layer it came from."""
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils.state_dict_utils import convert_unet_state_dict_to_peft

    unet = _sdxl_unet(layout)
    layers = [
        n for n, m in unet.named_modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d)
    ]
    state = {}
    for i, layer in enumerate(layers):
        state[f"unet.{layer}.lora_A.weight"] = torch.full((1, 1), float(i))
        state[f"unet.{layer}.lora_B.weight"] = torch.full((1, 1), -float(i))
    for te in ("text_encoder", "text_encoder_2"):
        for proj in ("q_proj", "out_proj"):
            for ab in "AB":
                state[f"{te}.text_model.encoder.layers.1.self_attn.{proj}.lora_{ab}.weight"] = (
                    torch.zeros(1, 1)
                )
    kohya = to_kohya(state, "sdxl", alpha=3, unet_config=unet.config)
    assert not any(part in key for key in kohya for part in DIFFUSERS_BLOCKS)

    back, alphas = StableDiffusionXLPipeline.lora_state_dict(kohya, unet_config=unet.config)
    unet_back = {k.removeprefix("unet."): v for k, v in back.items() if k.startswith("unet.")}
    got = {k: float(v) for k, v in convert_unet_state_dict_to_peft(unet_back).items()}
    assert got == {k[5:]: float(v) for k, v in state.items() if k.startswith("unet.")}
    assert [v for k, v in alphas.items() if k.startswith("unet.")] == [3.0] * len(layers)
    text = {re.sub(r"\.(to_\w+_lora)\..*", r".\1", k) for k in back if k.startswith("text_")}
    assert text == {
        f"{te}.text_model.encoder.layers.1.self_attn.{p}"
        for te in ("text_encoder", "text_encoder_2")
        for p in ("to_q_lora", "to_out_lora")
    }


def _lora_weights(pipe) -> dict:
    """The LoRA tensors in a pipeline, by layer (whatever the adapter is called)."""
    out = {}
    for part in ("unet", "text_encoder", "text_encoder_2"):
        for key, value in getattr(pipe, part).state_dict().items():
            if ".lora_A." in key or ".lora_B." in key:
                out[f"{part}." + re.sub(r"\.(lora_[AB])\.[^.]+\.weight$", r".\1", key)] = value
    return out


def test_sdxl_kohya_export_uses_original_unet_names_and_reproduces_in_plain_diffusers(
    granted, tmp_path
):
    from diffusers import StableDiffusionXLPipeline
    from safetensors import safe_open

    params = TrainingParams(steps=4, learning_rate=1e-3, train_text_encoder=True)
    decision = authorize_training(granted.lib, granted.person, "tiny-sdxl")
    trained = train_adapter(
        granted.lib, decision, granted.person, "tiny-sdxl", params, rules=RULES, device="cpu"
    )
    prompt = f"a photo of {trained.trigger} person"
    ours = load_pipeline(get_model(granted.lib, "tiny-sdxl"))
    load_into_pipeline(granted.lib, ours, get_adapter(granted.lib, trained.id))

    out = export_adapter(
        granted.lib,
        authorize_export(granted.lib, granted.person),
        granted.person,
        "kohya",
        tmp_path / "lora.safetensors",
    )
    with safe_open(str(out), "pt") as f:
        keys = set(f.keys())
    unet_keys = {k for k in keys if k.startswith("lora_unet_")}
    assert unet_keys and all(k.startswith(SGM_BLOCKS) for k in unet_keys)
    for block in SGM_BLOCKS:  # the tiny UNet has attention in all three parts
        assert any(k.startswith(block) for k in unet_keys), block
    assert not any(part in k for k in keys for part in DIFFUSERS_BLOCKS)
    # likeness trains SDXL's first text encoder (CLIP ViT-L): kohya's te1
    assert any(k.startswith("lora_te1_text_model_encoder_layers_") for k in keys)
    assert all(k.startswith(("lora_unet_", "lora_te1_", "lora_te2_")) for k in keys)

    plain = StableDiffusionXLPipeline.from_pretrained(
        save_tiny_folder("tiny-sdxl", tmp_path / "base")
    )
    plain.set_progress_bar_config(disable=True)
    base_image = sample(plain, prompt)
    plain.load_lora_weights(str(out))
    expected, got = _lora_weights(ours), _lora_weights(plain)
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    image = sample(plain, prompt)
    assert np.abs(image - sample(ours, prompt)).max() < 1e-4
    assert np.abs(image - base_image).mean() > 1e-3  # the adapter did something
