"""Export an adapter as a plain file other tools load, on the person's consent.

- ``diffusers``: the layout diffusers' ``save_lora_weights`` writes (``unet.`` and
  ``text_encoder.`` prefixes, peft's ``lora_A``/``lora_B``), which ``load_lora_weights`` reads;
- ``kohya``: the layout kohya's sd-scripts write and ComfyUI and A1111 load: one
  ``lora_unet_<module path with underscores>`` (``lora_te_``, or ``lora_te1_``/``lora_te2_``
  on SDXL) per adapted layer, with ``.lora_down.weight``, ``.lora_up.weight`` and ``.alpha``.

An exported file is no longer protected by the person's key: that is why it takes its own
consent scope (``export-adapter``).
"""

from __future__ import annotations

import json
from pathlib import Path

from likeness.adapters import storage
from likeness.adapters.manage import AdapterInfo, latest_adapter
from likeness.consent.grants import OWNER
from likeness.consent.policy import Action, Decision, ModelKind, authorize
from likeness.errors import LikenessError
from likeness.models.tiny import TINY_MODELS
from likeness.store import Library

FORMATS = ("diffusers", "kohya")


class ExportError(LikenessError):
    """The export cannot be written as asked."""


def _kohya_prefix(component: str, family: str) -> str:
    if component == "unet":
        return "lora_unet_"
    if family == "sdxl":
        return "lora_te1_" if component == "text_encoder" else "lora_te2_"
    return "lora_te_"


def to_kohya(state: dict, family: str, alpha: float) -> dict:
    """diffusers/peft LoRA tensors -> kohya names, with each layer's ``alpha``."""
    import torch

    out: dict = {}
    for key, value in state.items():
        component, rest = key.split(".", 1)
        module, kind = rest.rsplit(".lora_", 1)  # e.g. "...attn1.to_q", "A.weight"
        if component.startswith("text_encoder") and not module.startswith("text_model."):
            module = "text_model." + module  # kohya names CLIP layers as transformers 4 did
        name = _kohya_prefix(component, family) + module.replace(".", "_")
        if kind.startswith("A."):
            out[f"{name}.lora_down.weight"] = value
        elif kind.startswith("B."):
            out[f"{name}.lora_up.weight"] = value
        else:
            raise ExportError(f"unexpected LoRA tensor {key}")
        out[f"{name}.alpha"] = torch.tensor(float(alpha))
    return out


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
        state = to_kohya(state, info.family, alpha=rank)  # likeness trains with alpha = rank
        meta = {
            **meta,
            "ss_network_module": "networks.lora",
            "ss_network_dim": str(rank),
            "ss_network_alpha": str(rank),
        }
    from safetensors.torch import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(out), metadata=meta)
    return out
