"""The registry of base models: the built-in tiny models, and what a user added.

A user adds a model by hub id (downloaded into the standard Hugging Face cache when online), by
a local diffusers folder, or by a single ``.safetensors`` checkpoint as ComfyUI and A1111 keep
them. The registry records its family and a SHA-256 of its weights (an adapter records the hash
of the base it was trained on). Only the built-ins are ``ModelKind.TINY`` for the consent gate;
anything a user adds is ``real``, whatever its size.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select

from likeness import clock
from likeness.consent.policy import ModelKind
from likeness.models.families import (
    Family,
    ModelError,
    ModelNotFoundError,
    family,
    family_of_checkpoint,
    family_of_pipeline,
)
from likeness.models.tables import BaseModelRecord
from likeness.models.tiny import TINY_MODELS, TINY_RESOLUTION, tiny_components
from likeness.paths import typed_path
from likeness.store import Library

DEFAULT_MODEL = "tiny-sd15"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt")


@dataclass(frozen=True)
class BaseModel:
    name: str
    family: Family
    source: str  # "builtin" | "hub" | "folder" | "single_file"
    location: str
    kind: ModelKind
    sha256: str
    resolution: int
    config_dir: str | None = None

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "family": self.family.name,
            "source": self.source,
            "kind": str(self.kind),
            "location": self.location,
            "resolution": self.resolution,
            "sha256": self.sha256,
            "config_dir": self.config_dir,
        }


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_folder(folder: Path) -> str:
    """A hash over a diffusers folder's weight files (relative path and content)."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not files:
        raise ModelError(f"{folder}: no weight files (.safetensors, .bin) in this folder")
    for p in files:
        digest.update(p.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(sha256_file(p).encode())
    return digest.hexdigest()


@cache
def tiny_sha256(name: str) -> str:
    """The hash of a built-in tiny model's weights (they are the same on every machine)."""
    import numpy as np

    digest = hashlib.sha256()
    for component, module in sorted(tiny_components(name).items()):
        state = getattr(module, "state_dict", None)
        if state is None:
            continue
        for key, tensor in sorted(state().items()):
            digest.update(f"{component}.{key}".encode())
            digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    return digest.hexdigest()


def _builtin(name: str) -> BaseModel:
    tiny = TINY_MODELS[name]
    return BaseModel(
        name=name,
        family=tiny.family,
        source="builtin",
        location=tiny.description,
        kind=ModelKind.TINY,
        sha256=tiny_sha256(name),
        resolution=TINY_RESOLUTION,
    )


def _from_record(r: BaseModelRecord) -> BaseModel:
    fam = family(r.family)
    return BaseModel(
        name=r.name,
        family=fam,
        source=r.source,
        location=r.location,
        kind=ModelKind.REAL,
        sha256=r.sha256,
        resolution=r.resolution,
        config_dir=r.config_dir,
    )


def list_models(lib: Library) -> list[BaseModel]:
    """The built-in tiny models first, then the user's, by name."""
    with lib.session() as s:
        records = s.query(BaseModelRecord).order_by(BaseModelRecord.name).all()
        added = [_from_record(r) for r in records]
    return [_builtin(n) for n in TINY_MODELS] + added


def model_names(lib: Library) -> list[str]:
    """The names ``list_models`` gives, without building anything (a tiny model's hash
    builds the model: seconds, the first time in a process)."""
    with lib.session() as s:
        added = s.scalars(select(BaseModelRecord.name).order_by(BaseModelRecord.name)).all()
    return [*TINY_MODELS, *added]


def model_kind(lib: Library, name: str) -> ModelKind:
    """Whether ``name`` is a built-in tiny model or a real one (what the consent gate asks),
    without hashing a tiny model's weights."""
    if name in TINY_MODELS:
        return ModelKind.TINY
    return get_model(lib, name).kind


def get_model(lib: Library, name: str) -> BaseModel:
    if name in TINY_MODELS:
        return _builtin(name)
    with lib.session() as s:
        record = s.get(BaseModelRecord, name)
        if record is not None:
            return _from_record(record)
    known = ", ".join(model_names(lib))
    raise ModelNotFoundError(
        f"no base model named {name!r} (known: {known}; add one with `models add`)", field="model"
    )


def _folder_family(folder: Path) -> Family:
    index = folder / "model_index.json"
    if not index.exists():
        raise ModelError(
            f"{folder}: not a diffusers model folder (no model_index.json); for a single "
            "checkpoint file, pass the .safetensors file itself"
        )
    try:
        class_name = json.loads(index.read_text())["_class_name"]
    except (ValueError, KeyError) as exc:
        raise ModelError(f"{index}: unreadable model_index.json ({exc})") from None
    return family_of_pipeline(class_name)


def native_resolution(config_dir: Path, fam: Family) -> int:
    """Image size from a diffusers folder's configs: the UNet's latent sample size times the
    VAE's downscaling (2 per block after the first); the family's when they say nothing."""
    try:
        unet = json.loads((config_dir / "unet" / "config.json").read_text())
        vae = json.loads((config_dir / "vae" / "config.json").read_text())
        return int(unet["sample_size"]) * 2 ** (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        return fam.resolution


def _file_family(path: Path) -> Family:
    from safetensors import SafetensorError, safe_open

    if path.suffix.lower() != ".safetensors":
        raise ModelError(
            f"{path}: only .safetensors checkpoints are loaded (a .ckpt is a pickle that can run "
            "code when opened; convert it to .safetensors first)"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"{path}: not a readable safetensors file ({exc})") from None
    return family_of_checkpoint(keys)


def _download(repo_id: str) -> Path:
    """Fetch a hub model's diffusers files into the standard Hugging Face cache (with the hub
    client's progress bars); offline, use what the cache already holds."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    # The diffusers components only: hub repos of SD models also hold multi-GB single-file
    # checkpoints at their root, fp16 and non-EMA variants, and pickles.
    patterns = [
        "model_index.json",
        "*/*.json",
        "*/*.txt",
        "*/diffusion_pytorch_model*.safetensors",
        "*/model*.safetensors",
    ]
    skip = ["*.fp16.*", "*non_ema*", "*.ckpt", "*.bin", "*.msgpack", "*.onnx*"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, ignore_patterns=skip))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelError(
            f"cannot download {repo_id} from the hub and it is not in the local cache: {exc}. "
            "Online, run `models add` again; offline, add a local folder or .safetensors file"
        ) from None


def add_model(
    lib: Library,
    name: str,
    source: str,
    *,
    hub: bool = False,
    family_name: str | None = None,
    config_dir: Path | None = None,
) -> BaseModel:
    """Register a base model under ``name``: a hub id (``hub=True``), a diffusers folder or a
    single ``.safetensors`` file. ``config_dir`` gives component configs for a single file whose
    architecture is not its family's standard one."""
    if name in TINY_MODELS:
        raise ModelError(f"{name!r} is a built-in model name; choose another")
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ModelError(f"bad model name {name!r}: use letters, digits, '-', '_' or '.'")
    with lib.session() as s:
        if s.get(BaseModelRecord, name) is not None:
            raise ModelError(f"a model named {name!r} exists; remove it first")
    if hub:
        folder = _download(source)
        fam, kind, location, sha = _folder_family(folder), "hub", source, sha256_folder(folder)
    else:
        path = typed_path(source, "source").absolute()
        if not path.exists():
            raise ModelError(f"{path}: no such file or folder")
        if path.is_dir():
            fam, kind, sha = _folder_family(path), "folder", sha256_folder(path)
        else:
            fam, kind, sha = _file_family(path), "single_file", sha256_file(path)
        location = str(path)
    if family_name is not None and family(family_name) != fam:
        raise ModelError(f"{source} is a {fam.name} model, not {family_name}")
    if config_dir is not None:
        if kind != "single_file":
            raise ModelError("a config folder is for single-file checkpoints only", field="config")
        config_dir = Path(config_dir).absolute()
        if not (config_dir / "model_index.json").exists():
            raise ModelError(f"{config_dir}: no model_index.json (a diffusers config folder)")
    configs = config_dir or (folder if hub else path if kind == "folder" else fam.config_dir)
    with lib.session() as s:
        s.add(
            BaseModelRecord(
                name=name,
                family=fam.name,
                source=kind,
                location=location,
                config_dir=str(config_dir) if config_dir else None,
                resolution=native_resolution(configs, fam),
                sha256=sha,
                added_at=clock.now(),
            )
        )
    return get_model(lib, name)


def remove_model(lib: Library, name: str) -> None:
    """Forget a model (its files are the user's and are left alone)."""
    if name in TINY_MODELS:
        raise ModelError(f"{name!r} is built in and cannot be removed")
    with lib.session() as s:
        record = s.get(BaseModelRecord, name)
        if record is None:
            raise ModelNotFoundError(f"no base model named {name!r}", field="model")
        s.delete(record)
