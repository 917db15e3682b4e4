"""Export an adapter as a plain file other tools load, on the person's consent.

- ``diffusers``: the layout diffusers' ``save_lora_weights`` writes (``unet.`` and
  ``text_encoder.`` prefixes, peft's ``lora_A``/``lora_B``), which ``load_lora_weights`` reads;
- ``kohya``: the layout kohya's sd-scripts write and ComfyUI and A1111 load: one
  ``lora_<part>_<module path with underscores>`` per adapted layer, with ``.lora_down.weight``,
  ``.lora_up.weight`` and ``.alpha``. The module paths are the ones sd-scripts trains on: for
  SD1.5 the diffusers UNet's (``lora_unet_down_blocks_0_attentions_0_…``) and the CLIP text
  encoder's (``lora_te_text_model_encoder_layers_0_…``); for SDXL the original (SGM) UNet's
  (``lora_unet_input_blocks_4_1_…``, ``middle_block_1``, ``output_blocks_2_1``: see
  ``sgm_unet_names``) and the two encoders as ``lora_te1_``/``lora_te2_``.

An exported file is no longer protected by the person's key: that is why it takes its own
consent scope (``export-adapter``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from likeness.adapters import storage
from likeness.adapters.manage import AdapterInfo, latest_adapter
from likeness.consent.grants import OWNER
from likeness.consent.policy import Action, Decision, ModelKind, authorize
from likeness.errors import InvalidError, LikenessError
from likeness.models.tiny import TINY_MODELS
from likeness.people.records import get_person
from likeness.store import Library

FORMATS = ("diffusers", "kohya")


class ExportError(InvalidError):
    """The export cannot be written as asked."""


def _kohya_prefix(component: str, family: str) -> str:
    if component == "unet":
        return "lora_unet_"
    if family == "sdxl":
        return "lora_te1_" if component == "text_encoder" else "lora_te2_"
    return "lora_te_"


#: A diffusers ``ResnetBlock2D``'s layers under their names in the original UNet's ``ResBlock``.
_SGM_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
#: The diffusers UNet's layers outside its blocks, under their original names.
_SGM_OUTSIDE_BLOCKS = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",  # SDXL's size/crop conditioning
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def sgm_unet_names(unet_config: Mapping) -> dict[str, str]:
    """diffusers UNet module paths -> the original (SGM) UNet's, for an SDXL-type UNet.

    kohya's sd-scripts train SDXL on the original UNet (``library/sdxl_original_unet.py``), so
    an SDXL LoRA it writes names that UNet's modules: ``lora_unet_input_blocks_4_1_…``. ComfyUI
    (``comfy/lora.py``, its models keep these names), Forge (ComfyUI's key map) and A1111
    (``extensions-builtin/Lora/networks.py``: "SDXL loras seem to already have correct compvis
    keys") read them as they are; diffusers' ``load_lora_weights`` maps them back with the
    pipeline's UNet config (``_maybe_map_sgm_blocks_to_diffusers``). SD1.5 needs none of this:
    sd-scripts train it on a diffusers-named UNet.

    The layout comes from the config, so it fits any block count (the built-in tiny model's as
    well as the real SDXL's): ``input_blocks`` are ``conv_in``, then per down block its layers
    (a ResBlock at ``.0``, its transformer at ``.1``) and, but for the last block, a downsampler
    (``.0.op``); ``middle_block`` is ResBlock, transformer, ResBlock; ``output_blocks`` are per
    up block its layers (``layers_per_block + 1``) with, but for the last, the upsampler in the
    last layer's next slot (``.2.conv`` after a transformer, ``.1.conv`` without). Inside a
    block the transformer keeps diffusers' names (``transformer_blocks.0.attn1.to_q``) and a
    ResBlock takes the original ones (``conv1`` is ``in_layers.2``).

    Returns a table of module-path prefixes: a block (``down_blocks.1.attentions.0`` ->
    ``input_blocks.4.1``) or a layer outside the blocks (``conv_in`` -> ``input_blocks.0.0``).
    """
    levels = len(unet_config["down_block_types"])
    per = unet_config["layers_per_block"]
    per = [per] * levels if isinstance(per, int) else list(per)
    names = dict(_SGM_OUTSIDE_BLOCKS)
    i = 1
    for b, block_type in enumerate(unet_config["down_block_types"]):
        for j in range(per[b]):
            names[f"down_blocks.{b}.resnets.{j}"] = f"input_blocks.{i}.0"
            if "CrossAttn" in block_type:
                names[f"down_blocks.{b}.attentions.{j}"] = f"input_blocks.{i}.1"
            i += 1
        if b < levels - 1:
            names[f"down_blocks.{b}.downsamplers.0.conv"] = f"input_blocks.{i}.0.op"
            i += 1
    names["mid_block.resnets.0"] = "middle_block.0"
    names["mid_block.attentions.0"] = "middle_block.1"
    names["mid_block.resnets.1"] = "middle_block.2"
    i = 0
    for b, block_type in enumerate(unet_config["up_block_types"]):
        attention = "CrossAttn" in block_type
        for j in range(per[levels - 1 - b] + 1):
            names[f"up_blocks.{b}.resnets.{j}"] = f"output_blocks.{i}.0"
            if attention:
                names[f"up_blocks.{b}.attentions.{j}"] = f"output_blocks.{i}.1"
            i += 1
        if b < levels - 1:  # after the last layer's transformer, or in its place
            slot = 2 if attention else 1
            names[f"up_blocks.{b}.upsamplers.0.conv"] = f"output_blocks.{i - 1}.{slot}.conv"
    return names


def sgm_unet_module(module: str, names: dict[str, str]) -> str:
    """One diffusers UNet module path (``down_blocks.1.attentions.0.proj_in``) under its
    original (SGM) name (``input_blocks.4.1.proj_in``), by a table from ``sgm_unet_names``."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in names:
            rest = parts[n:]
            if ".resnets." in prefix and rest:
                rest = [*_SGM_RESNET.get(rest[0], rest[0]).split("."), *rest[1:]]
            return ".".join([names[prefix], *rest])
    raise ExportError(f"UNet module {module} has no name in the original SDXL UNet")


def to_kohya(state: dict, family: str, alpha: float, unet_config: Mapping | None = None) -> dict:
    """diffusers/peft LoRA tensors -> kohya names, with each layer's ``alpha``.

    An SDXL adapter's UNet layers take the original UNet's names, which needs the UNet's
    ``unet_config`` (its block layout); see ``sgm_unet_names``.
    """
    import torch

    sgm = None
    if family == "sdxl":
        if unet_config is None:
            raise ExportError("an SDXL adapter's kohya names need its base UNet's config")
        sgm = sgm_unet_names(unet_config)
    out: dict = {}
    for key, value in state.items():
        component, rest = key.split(".", 1)
        module, kind = rest.rsplit(".lora_", 1)  # e.g. "...attn1.to_q", "A.weight"
        if component.startswith("text_encoder") and not module.startswith("text_model."):
            module = "text_model." + module  # kohya names CLIP layers as transformers 4 did
        if component == "unet" and sgm is not None:
            module = sgm_unet_module(module, sgm)
        name = _kohya_prefix(component, family) + module.replace(".", "_")
        if kind.startswith("A."):
            out[f"{name}.lora_down.weight"] = value
        elif kind.startswith("B."):
            out[f"{name}.lora_up.weight"] = value
        else:
            raise ExportError(f"unexpected LoRA tensor {key}")
        out[f"{name}.alpha"] = torch.tensor(float(alpha))
    return out


def unet_config_of(lib: Library, info: AdapterInfo) -> Mapping:
    """The config of the UNet the adapter was trained on: a built-in's, the one in a model's
    diffusers folder (or hub snapshot, or a single file's ``--config`` folder), else the
    family's standard one that likeness carries (what a single file of the family loads with,
    and the layout of every SDXL-family checkpoint)."""
    from likeness.models.families import family
    from likeness.models.registry import get_model
    from likeness.models.tiny import tiny_components

    if info.base_model in TINY_MODELS:
        return dict(tiny_components(info.base_model)["unet"].config)
    folders = []
    try:
        model = get_model(lib, info.base_model)
    except LikenessError:  # removed from the registry since: its family's layout
        model = None
    if model is not None and model.config_dir:
        folders.append(Path(model.config_dir))
    if model is not None and model.source == "folder":
        folders.append(Path(model.location))
    if model is not None and model.source == "hub":
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model.location, "unet/config.json")
        if isinstance(cached, str):
            folders.append(Path(cached).parent.parent)
    folders.append(family(info.family).config_dir)
    for folder in folders:
        config = folder / "unet" / "config.json"
        if config.is_file():
            return json.loads(config.read_text())
    looked = ", ".join(map(str, folders))
    raise ExportError(f"no UNet config for {info.base_model}: looked in {looked}")


def _model_kind(info: AdapterInfo) -> ModelKind:
    """The kind of the adapter's base model: only the built-ins are tiny."""
    return ModelKind.TINY if info.base_model in TINY_MODELS else ModelKind.REAL


def authorize_export(lib: Library, person_id: int, requester: str = OWNER) -> Decision:
    """Ask the gate for ``export-adapter`` of the person's newest adapter (its base model
    decides tiny or real)."""
    kind = _model_kind(latest_adapter(lib, person_id))
    return authorize(lib, Action.EXPORT_ADAPTER, [person_id], requester, kind)


def export_adapter(
    lib: Library,
    decision: Decision,
    person_id: int,
    fmt: str,
    out: Path,
    adapter: AdapterInfo | None = None,
) -> Path:
    """Write the person's adapter (their newest ready one unless given) to ``out``."""
    decision.require(Action.EXPORT_ADAPTER, [person_id])
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    info = adapter or latest_adapter(lib, person_id)
    decision.require(Action.EXPORT_ADAPTER, [person_id], _model_kind(info))
    if info.person_id != person_id:
        raise ExportError(f"adapter {info.id} is not person {person_id}'s")
    state, meta = storage.load_weights(lib, info.person_uid, info.id)
    if fmt == "kohya":
        rank = json.loads(meta["likeness.params"])["rank"]
        unet_config = unet_config_of(lib, info) if info.family == "sdxl" else None
        # likeness trains with alpha = rank
        state = to_kohya(state, info.family, alpha=rank, unet_config=unet_config)
        meta = {
            **meta,
            "ss_network_module": "networks.lora",
            "ss_network_dim": str(rank),
            "ss_network_alpha": str(rank),
        }
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    out = export_target(lib, person_id, fmt, Path(out))
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, str(out), metadata=meta)
    except SafetensorError as exc:  # not written: permissions, a full disk
        raise ExportError(f"cannot write {out}: {exc}", field="out") from None
    return out


def export_file_name(name: str | None, person: int, fmt: str) -> str:
    """``<name>-<format>.safetensors`` for an export into a folder: the person's name in safe
    file name characters (ASCII letters and digits, runs of anything else as one ``-``:
    ``Zoë O'Brien`` is ``zoe-o-brien``), or ``person-<id>`` without a usable name."""
    import re
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-")
    return f"{slug or f'person-{person}'}-{fmt}.safetensors"


def export_target(lib: Library, person_id: int, fmt: str, out: Path) -> Path:
    """Where an export to ``out`` is written: into ``out`` under ``export_file_name`` when it
    is a folder, else ``out`` itself, whose folder must exist (a typo is not created)."""
    if out.is_dir():
        with lib.session() as s:
            name = get_person(s, person_id).name
        return out / export_file_name(name, person_id, fmt)
    if not out.parent.is_dir():
        raise ExportError(
            f"{out.parent}: no such folder (create it, or give an existing folder)", field="out"
        )
    return out
