"""Motion modules: the temporal layers that turn a base model into a video model.

A motion module (AnimateDiff's; diffusers' ``MotionAdapter``) is a set of attention layers
across frames, trained to sit between the blocks of a frozen base model. AnimateDiff's
pipelines put it on the user's own base model, with the person's adapters on top, so a clip
keeps the likeness the images have. A module is named where it is used (``--motion``):

- ``tiny`` (the default with the built-in tiny models): a built-in tiny module per family,
  random weights from a fixed seed. Like the tiny base models it stands in for a pretrained
  one in tests and the demo, and makes noise move, not people;
- a diffusers folder (``config.json`` and weights), or a hub id whose files are in the local
  Hugging Face cache: ``MotionAdapter.from_pretrained(local_files_only=True)``;
- a single file as AnimateDiff publishes them (``mm_sd_v15_v2.ckpt``, ``.safetensors``; the
  original layout) or a diffusers-layout single file (AnimateDiff-Lightning's). Its layout
  (blocks and their widths, layers per block, mid block, frames) is read from its own tensors
  (``config_of_checkpoint``), so no config has to be carried or fetched for it; the number of
  attention heads, which no tensor shape shows, is 8, as in every published module.

A module is recorded by its SHA-256 (in each clip's Content Credentials) and must match its
base model's block widths, or it is refused with both named.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from likeness.consent.policy import ModelKind
from likeness.models.families import Family, ModelError
from likeness.models.loading import cached_snapshot
from likeness.models.registry import WEIGHT_SUFFIXES, BaseModel, sha256_file, sha256_folder
from likeness.models.tiny import TINY_UNET_BLOCKS
from likeness.paths import typed_path

TINY_MOTION = "tiny"
SEED = 20261204
#: Published motion modules all use 8 heads; no tensor's shape tells the number.
HEADS = 8
#: Frames a module without a positional table covers (AnimateDiff v2 and v3: 32).
DEFAULT_FRAMES = 32


@dataclass(frozen=True)
class MotionModule:
    """A motion module as a clip's generation and credentials refer to it."""

    name: str
    source: str  # "builtin" | "folder" | "single_file" | "hub"
    location: str
    sha256: str
    kind: ModelKind

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "location": self.location,
            "sha256": self.sha256,
            "kind": str(self.kind),
        }


def tiny_motion_config(base: Family, block_out_channels: tuple[int, ...]) -> dict:
    """The built-in tiny module's layout for a base UNet of these block widths."""
    return dict(
        block_out_channels=tuple(block_out_channels),
        motion_layers_per_block=1,
        motion_num_attention_heads=HEADS,
        motion_norm_num_groups=min(32, min(block_out_channels)),
        motion_max_seq_length=DEFAULT_FRAMES,
        # AnimateDiff's SDXL UNet has no motion layers in its mid block.
        use_motion_mid_block=base.name != "sdxl",
    )


def tiny_motion_adapter(base: Family, block_out_channels: tuple[int, ...]):
    """The built-in tiny motion module: random weights from a fixed seed."""
    import torch
    from diffusers import MotionAdapter

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return MotionAdapter(**tiny_motion_config(base, block_out_channels))


def _state_sha256(state: dict) -> str:
    import numpy as np

    digest = hashlib.sha256()
    for key, tensor in sorted(state.items()):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    return digest.hexdigest()


def resolve_motion(spec: str | None, base: BaseModel) -> MotionModule:
    """The motion module ``spec`` names for ``base`` (None: the tiny one for a tiny base;
    a real base model needs one named)."""
    if spec is None or spec == TINY_MOTION:
        if spec is None and base.kind != ModelKind.TINY:
            raise ModelError(
                f"{base.name} is a real model: name its motion module with --motion (a hub id, "
                "a diffusers folder or a single .safetensors/.ckpt file, e.g. AnimateDiff's "
                "mm_sd_v15_v2.ckpt)",
                field="motion",
            )
        if base.source != "builtin":
            raise ModelError(
                f"the built-in tiny motion module fits the built-in tiny models only, not "
                f"{base.name}: name a motion module made for its family ({base.family.name})",
                field="motion",
            )
        adapter = tiny_motion_adapter(base.family, TINY_UNET_BLOCKS)
        return MotionModule(
            TINY_MOTION,
            "builtin",
            "random weights (tests and demo)",
            _state_sha256(adapter.state_dict()),
            ModelKind.TINY,
        )
    path = typed_path(spec, "motion")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a motion module folder (no config.json)", field="motion")
        return MotionModule(path.name, "folder", str(path), sha256_folder(path), ModelKind.REAL)
    if path.is_file():
        if path.suffix.lower() not in (*WEIGHT_SUFFIXES, ".pth"):
            raise ModelError(
                f"{path}: a motion module file is .safetensors or .ckpt", field="motion"
            )
        return MotionModule(path.stem, "single_file", str(path), sha256_file(path), ModelKind.REAL)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", spec) and not spec.startswith((".", "/")):
        folder = cached_snapshot(spec, "motion module", field="motion")
        return MotionModule(spec, "hub", spec, sha256_folder(folder), ModelKind.REAL)
    raise ModelError(
        f"no motion module at {spec!r}: give 'tiny', a folder, a file or a hub id", field="motion"
    )


# -- single files ------------------------------------------------------------------------


def _read_checkpoint(path: Path) -> dict:
    """A single file's tensors: safetensors directly; a pickle only through torch's
    ``weights_only`` loader (no code in it runs)."""
    import torch

    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # safetensors and pickle readers raise many kinds
        raise ModelError(f"{path}: cannot read the motion module: {exc}", field="motion") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise ModelError(f"{path}: no tensors in this file", field="motion")
    return state


def to_diffusers_layout(state: dict) -> dict:
    """AnimateDiff's original names as diffusers' ``MotionAdapter`` has them (the mapping of
    diffusers' ``convert_animatediff_checkpoint_to_diffusers``, keeping the positional table,
    which tells how many frames the module covers); a diffusers-layout file passes as is."""
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        key = (
            key.replace(".temporal_transformer", "")
            .replace(".attention_blocks.0.pos_encoder", ".pos_embed")
            .replace(".attention_blocks.1.pos_encoder", ".pos_embed_2")
            .replace(".norms.0", ".norm1")
            .replace(".norms.1", ".norm2")
            .replace(".ff_norm", ".norm3")
            .replace(".attention_blocks.0", ".attn1")
            .replace(".attention_blocks.1", ".attn2")
        )
        if key.endswith(".pos_embed_2.pe"):
            continue  # the second attention's table is the same sinusoid; diffusers keeps one
        out[key] = value
    return out


def config_of_checkpoint(state: dict) -> dict:
    """A ``MotionAdapter`` config read from a diffusers-layout state dict's tensors."""
    blocks: dict[int, set[int]] = {}
    for key in state:
        m = re.match(r"down_blocks\.(\d+)\.motion_modules\.(\d+)\.", key)
        if m:
            blocks.setdefault(int(m[1]), set()).add(int(m[2]))
    if not blocks or sorted(blocks) != list(range(len(blocks))):
        raise ModelError(
            "not a motion module (no down_blocks.N.motion_modules tensors)", field="motion"
        )
    channels = []
    for i in range(len(blocks)):
        weight = state.get(f"down_blocks.{i}.motion_modules.0.proj_in.weight")
        if weight is None:
            raise ModelError(f"a motion module without block {i}'s input layer", field="motion")
        channels.append(int(weight.shape[0]))
    layers = len(blocks[0])
    transformer_layers = len(
        {
            key.split(".")[5]
            for key in state
            if key.startswith("down_blocks.0.motion_modules.0.transformer_blocks.")
        }
    )
    tables = [v for k, v in state.items() if k.endswith(".pos_embed.pe")]
    frames = int(tables[0].shape[1]) if tables else DEFAULT_FRAMES
    return dict(
        block_out_channels=tuple(channels),
        motion_layers_per_block=layers,
        motion_transformer_layers_per_block=max(1, transformer_layers),
        motion_num_attention_heads=HEADS,
        motion_norm_num_groups=32,
        motion_max_seq_length=frames,
        use_motion_mid_block=any(k.startswith("mid_block.motion_modules.") for k in state),
    )


def _from_single_file(path: Path):
    import torch
    from diffusers import MotionAdapter

    state = to_diffusers_layout(_read_checkpoint(path))
    config = config_of_checkpoint(state)
    adapter = MotionAdapter(**config)
    expected = adapter.state_dict()
    # The positional tables are recomputed sinusoids: a file may keep them at another
    # length, or not at all.
    state = {k: v for k, v in state.items() if not k.endswith(".pos_embed.pe")}
    missing = [k for k in expected if k not in state and not k.endswith(".pos_embed.pe")]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        raise ModelError(
            f"{path}: not a motion module likeness can read ({len(missing)} tensors missing, "
            f"{len(unexpected)} unknown, {len(wrong)} of another shape; e.g. {first})",
            field="motion",
        )
    with torch.no_grad():
        adapter.load_state_dict(state, strict=False)
    return adapter


def load_motion_adapter(module: MotionModule, base: BaseModel, unet_channels: tuple[int, ...]):
    """The ``MotionAdapter`` of ``module``, checked against the base UNet's block widths."""
    from diffusers import MotionAdapter

    if module.source == "builtin":
        adapter = tiny_motion_adapter(base.family, unet_channels)
    elif module.source == "single_file":
        adapter = _from_single_file(Path(module.location))
    else:
        location = (
            module.location
            if module.source == "folder"
            else str(cached_snapshot(module.location, "motion module", field="motion"))
        )
        try:
            adapter = MotionAdapter.from_pretrained(location, local_files_only=True)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(
                f"{module.name}: cannot load the motion module: {exc}", field="motion"
            ) from None
    widths = tuple(adapter.config.block_out_channels)
    if widths != tuple(unet_channels):
        raise ModelError(
            f"motion module {module.name} was made for a UNet with blocks {list(widths)} wide; "
            f"{base.name} ({base.family.name}) has {list(unet_channels)}",
            field="motion",
        )
    return adapter


def max_frames(adapter) -> int:
    """How many frames the module's positional table covers (a longer clip is refused)."""
    return int(adapter.config.motion_max_seq_length)
