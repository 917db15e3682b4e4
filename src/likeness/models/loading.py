"""Turn a registered base model into a diffusers pipeline, with no network.

- built-in tiny models are made from their config (``likeness.models.tiny``);
- a diffusers folder or a cached hub snapshot loads with ``from_pretrained(local_files_only)``;
- a single ``.safetensors`` checkpoint loads with ``from_single_file``, given the standard
  component configs the project carries for its family (or the user's ``--config`` folder), and
  the CLIP tokenizers built from open-clip-torch's vocabulary: ``from_single_file`` would fetch
  all of these from a hub otherwise.
"""

from __future__ import annotations

from pathlib import Path

from likeness.models.registry import BaseModel, ModelError
from likeness.models.tiny import tiny_pipeline
from likeness.models.tokenizer import clip_tokenizer


def _tokenizers(model: BaseModel) -> dict:
    names = ["tokenizer", "tokenizer_2"]
    return {names[i]: clip_tokenizer(pad) for i, pad in enumerate(model.family.tokenizer_pads)}


def load_pipeline(model: BaseModel, device: str = "cpu", dtype=None):
    """The model's family pipeline, on ``device`` (weights in ``dtype``, default float32).

    Raises ``ModelError`` naming what is missing or wrong, never a bare loader traceback.
    """
    import torch

    quiet_loaders()
    dtype = dtype or torch.float32
    if model.source == "builtin":
        pipe = tiny_pipeline(model.name).to(dtype=dtype)
    else:
        pipe = _load_files(model, dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def quiet_loaders() -> None:
    """Keep diffusers' and transformers' per-component loading bars and notices off the
    terminal: likeness shows its own progress, and a failure becomes a ``ModelError``."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def cached_snapshot(
    repo_id: str,
    name: str,
    *,
    error: type[ModelError] = ModelError,
    field: str | None = None,
    where: str = "the local",
) -> Path:
    """``repo_id``'s snapshot in this machine's Hugging Face cache (likeness never downloads
    while it loads, generates or works for a cluster), else ``error`` naming ``name``. The
    one place a base model, a motion module and a worker's copy are looked up by hub id."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        raise error(
            f"{name}: {repo_id} is not in {where} Hugging Face cache (likeness does not "
            f"download while it runs: fetch it once with `huggingface-cli download {repo_id}`)",
            field=field,
        ) from None


def _load_files(model: BaseModel, dtype):
    from diffusers.loaders.single_file_utils import SingleFileComponentError
    from huggingface_hub.errors import LocalEntryNotFoundError

    cls = model.family.pipeline_type()
    try:
        if model.source == "single_file":
            config = Path(model.config_dir) if model.config_dir else model.family.config_dir
            return cls.from_single_file(
                model.location,
                config=str(config),
                local_files_only=True,
                dtype=dtype,
                **_tokenizers(model),
            )
        location = model.location
        if model.source == "hub":
            location = str(cached_snapshot(model.location, model.name))
        extra = {} if (Path(location) / "tokenizer").is_dir() else _tokenizers(model)
        if model.family.name == "sd15":
            extra |= {"safety_checker": None, "feature_extractor": None}
        return cls.from_pretrained(location, local_files_only=True, dtype=dtype, **extra)
    except LocalEntryNotFoundError:
        raise ModelError(
            f"{model.name}: {model.location} is not in the local Hugging Face cache; "
            "run `likeness models add` online once to download it"
        ) from None
    except SingleFileComponentError as exc:
        raise ModelError(f"{model.name}: {exc.message.splitlines()[0]}") from None
    except FileNotFoundError as exc:
        raise ModelError(f"{model.name}: a file is missing: {exc}") from None
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"{model.name}: cannot load {model.location}: {exc}") from None
