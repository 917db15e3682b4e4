"""Write a diffusers SD1.5- or SDXL-type pipeline as a single ``.safetensors`` file in the
original (LDM/CompVis, SGM for SDXL) layout that A1111 and ComfyUI keep, so tests can load it
back through the single-file path users take. The key mapping is the inverse of diffusers' own
conversion, driven by the model's config, so it fits the tiny models as well as the full-size
ones."""

from __future__ import annotations

from pathlib import Path

RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def _rename(state: dict, old: str, new: str, out: dict, names: dict | None = None) -> None:
    """Move every ``old.*`` tensor to ``new.*``, renaming the first part after ``old`` by
    ``names`` where it has an entry."""
    for key in [k for k in state if k.startswith(old + ".")]:
        rest = key[len(old) + 1 :]
        for a, b in (names or {}).items():
            if rest.startswith(a + "."):
                rest = b + rest[len(a) :]
                break
        out[f"{new}.{rest}"] = state.pop(key)


def unet_to_ldm(unet) -> dict:
    state = dict(unet.state_dict())
    cfg = unet.config
    levels, per = len(cfg.block_out_channels), cfg.layers_per_block
    out: dict = {}
    _rename(state, "time_embedding.linear_1", "time_embed.0", out)
    _rename(state, "time_embedding.linear_2", "time_embed.2", out)
    _rename(state, "conv_in", "input_blocks.0.0", out)
    _rename(state, "conv_norm_out", "out.0", out)
    _rename(state, "conv_out", "out.2", out)
    _rename(state, "add_embedding.linear_1", "label_emb.0.0", out)  # SDXL's size/crop embedding
    _rename(state, "add_embedding.linear_2", "label_emb.0.2", out)
    for b in range(levels):
        for j in range(per):
            i = 1 + b * (per + 1) + j
            _rename(state, f"down_blocks.{b}.resnets.{j}", f"input_blocks.{i}.0", out, RESNET)
            _rename(state, f"down_blocks.{b}.attentions.{j}", f"input_blocks.{i}.1", out)
        i = 1 + b * (per + 1) + per
        _rename(state, f"down_blocks.{b}.downsamplers.0.conv", f"input_blocks.{i}.0.op", out)
    _rename(state, "mid_block.resnets.0", "middle_block.0", out, RESNET)
    _rename(state, "mid_block.attentions.0", "middle_block.1", out)
    _rename(state, "mid_block.resnets.1", "middle_block.2", out, RESNET)
    for b in range(levels):
        has_attention = any(k.startswith(f"up_blocks.{b}.attentions.") for k in state)
        for j in range(per + 1):
            i = b * (per + 1) + j
            _rename(state, f"up_blocks.{b}.resnets.{j}", f"output_blocks.{i}.0", out, RESNET)
            _rename(state, f"up_blocks.{b}.attentions.{j}", f"output_blocks.{i}.1", out)
        i = b * (per + 1) + per
        slot = 2 if has_attention else 1
        _rename(state, f"up_blocks.{b}.upsamplers.0.conv", f"output_blocks.{i}.{slot}.conv", out)
    if state:
        raise ValueError(f"UNet tensors with no LDM name: {sorted(state)[:5]}")
    return {f"model.diffusion_model.{k}": v for k, v in out.items()}


def vae_to_ldm(vae) -> dict:
    state = dict(vae.state_dict())
    levels = len(vae.config.block_out_channels)
    per = vae.config.layers_per_block
    out: dict = {}
    for part in ("encoder", "decoder"):
        _rename(state, f"{part}.conv_in", f"{part}.conv_in", out)
        _rename(state, f"{part}.conv_out", f"{part}.conv_out", out)
        _rename(state, f"{part}.conv_norm_out", f"{part}.norm_out", out)
        _rename(state, f"{part}.mid_block.resnets.0", f"{part}.mid.block_1", out)
        _rename(state, f"{part}.mid_block.resnets.1", f"{part}.mid.block_2", out)
        _rename(state, f"{part}.mid_block.attentions.0", f"{part}.mid.attn_1", out, VAE_ATTENTION)
    shortcut = {"conv_shortcut": "nin_shortcut"}
    for b in range(levels):
        for j in range(per):
            _rename(
                state,
                f"encoder.down_blocks.{b}.resnets.{j}",
                f"encoder.down.{b}.block.{j}",
                out,
                shortcut,
            )
        _rename(
            state,
            f"encoder.down_blocks.{b}.downsamplers.0.conv",
            f"encoder.down.{b}.downsample.conv",
            out,
        )
        up = levels - 1 - b
        for j in range(per + 1):
            _rename(
                state,
                f"decoder.up_blocks.{b}.resnets.{j}",
                f"decoder.up.{up}.block.{j}",
                out,
                shortcut,
            )
        _rename(
            state, f"decoder.up_blocks.{b}.upsamplers.0.conv", f"decoder.up.{up}.upsample.conv", out
        )
    _rename(state, "quant_conv", "quant_conv", out)
    _rename(state, "post_quant_conv", "post_quant_conv", out)
    if state:
        raise ValueError(f"VAE tensors with no LDM name: {sorted(state)[:5]}")
    for key, value in out.items():  # LDM's attention projections are 1x1 convolutions
        if ".mid.attn_1." in key and key.endswith(".weight") and value.ndim == 2:
            out[key] = value[:, :, None, None]
    return {f"first_stage_model.{k}": v for k, v in out.items()}


def _clip_text(model) -> dict:
    """CLIP text encoder tensors named as transformers 4 (and the original files) name them."""
    return {
        (k if k.startswith("text_model.") else f"text_model.{k}"): v
        for k, v in model.state_dict().items()
        if not k.startswith("text_projection")
    }


def openclip_text(model) -> dict:
    """A ``CLIPTextModelWithProjection`` in OpenCLIP's layout (SDXL's second text encoder):
    fused q/k/v, ``resblocks``, ``ln_final`` and a (width, projection) ``text_projection``."""
    state = _clip_text(model)
    out = {
        "token_embedding.weight": state.pop("text_model.embeddings.token_embedding.weight"),
        "positional_embedding": state.pop("text_model.embeddings.position_embedding.weight"),
        "ln_final.weight": state.pop("text_model.final_layer_norm.weight"),
        "ln_final.bias": state.pop("text_model.final_layer_norm.bias"),
        "text_projection": model.text_projection.weight.T.contiguous(),
    }
    names = {
        "layer_norm1": "ln_1",
        "layer_norm2": "ln_2",
        "mlp.fc1": "mlp.c_fc",
        "mlp.fc2": "mlp.c_proj",
        "self_attn.out_proj": "attn.out_proj",
    }
    for i in range(model.config.num_hidden_layers):
        old, new = f"text_model.encoder.layers.{i}", f"transformer.resblocks.{i}"
        for kind in ("weight", "bias"):
            out[f"{new}.attn.in_proj_{kind}"] = __import__("torch").cat(
                [state.pop(f"{old}.self_attn.{p}_proj.{kind}") for p in "qkv"]
            )
        _rename(state, old, new, out, names)
    state.pop("text_model.embeddings.position_ids", None)
    if state:
        raise ValueError(f"text encoder tensors with no OpenCLIP name: {sorted(state)[:5]}")
    return out


def write_single_file(pipe, path: Path, config_dir: Path | None = None) -> Path:
    """Save ``pipe`` (SD1.5- or SDXL-type) as one original-layout ``.safetensors`` file; with
    ``config_dir``, also its component configs (no weights) as a diffusers config folder."""
    from safetensors.torch import save_file

    state = unet_to_ldm(pipe.unet) | vae_to_ldm(pipe.vae)
    if hasattr(pipe, "text_encoder_2"):
        for k, v in _clip_text(pipe.text_encoder).items():
            state[f"conditioner.embedders.0.transformer.{k}"] = v
        for k, v in openclip_text(pipe.text_encoder_2).items():
            state[f"conditioner.embedders.1.model.{k}"] = v
    else:
        for k, v in _clip_text(pipe.text_encoder).items():
            state[f"cond_stage_model.transformer.{k}"] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    if config_dir is not None:
        pipe.save_config(config_dir)
        for name in ("unet", "vae", "scheduler"):
            getattr(pipe, name).save_config(config_dir / name)
        for name in ("text_encoder", "text_encoder_2"):
            if hasattr(pipe, name):
                getattr(pipe, name).config.save_pretrained(config_dir / name)
    return path
