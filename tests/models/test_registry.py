"""Base models: built-ins, folders and single files load back through the user's path, offline;
bad sources get clear errors."""

import json

import numpy as np
import pytest

from likeness.consent.policy import ModelKind
from likeness.models.loading import load_pipeline
from likeness.models.registry import (
    ModelError,
    ModelNotFoundError,
    add_model,
    get_model,
    list_models,
    model_kind,
    remove_model,
    tiny_sha256,
)
from likeness.models.tiny import tiny_pipeline
from likeness.testing.cli import likeness
from likeness.testing.models import sample, save_tiny_folder, save_tiny_single_file


def test_builtins_are_tiny_and_listed(lib):
    models = {m.name: m for m in list_models(lib)}
    assert models["tiny-sd15"].kind == ModelKind.TINY and models["tiny-sd15"].family.name == "sd15"
    assert models["tiny-sdxl"].kind == ModelKind.TINY and models["tiny-sdxl"].family.name == "sdxl"
    # the same random weights on every machine: the hash is stable
    assert models["tiny-sd15"].sha256 == get_model(lib, "tiny-sd15").sha256


@pytest.mark.parametrize("name", ["tiny-sd15", "tiny-sdxl"])
def test_diffusers_folder_loads_back_as_a_real_model(lib, tmp_path, name):
    folder = save_tiny_folder(name, tmp_path / name)
    added = add_model(lib, "mine", str(folder))
    assert added.kind == ModelKind.REAL  # anything a user adds is real, whatever its size
    assert added.family.name == name.split("-")[1] and added.source == "folder"
    assert added.resolution == 128
    original, loaded = sample(tiny_pipeline(name)), sample(load_pipeline(added))
    assert np.abs(original - loaded).max() < 1e-5


@pytest.mark.parametrize("name", ["tiny-sd15", "tiny-sdxl"])
def test_single_file_loads_offline_with_given_configs(lib, tmp_path, monkeypatch, name):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any attempt to reach a hub fails at once
    path, configs = save_tiny_single_file(tmp_path, name)
    added = add_model(lib, "tiny-file", str(path), config_dir=configs)
    assert added.source == "single_file" and added.family.name == name.split("-")[1]
    assert added.kind == ModelKind.REAL
    original, loaded = sample(tiny_pipeline(name)), sample(load_pipeline(added))
    assert np.abs(original - loaded).max() < 1e-5


def test_single_file_with_the_wrong_configs_is_a_clear_error(lib, tmp_path, monkeypatch):
    """Without --config the family's standard (full-size) configs are used: the tiny file's
    tensors do not fit them, and the error says so instead of a loader traceback."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path, _ = save_tiny_single_file(tmp_path)
    added = add_model(lib, "tiny-file", str(path))
    with pytest.raises(ModelError, match="tiny-file"):
        load_pipeline(added)


def test_bad_sources_are_refused_with_reasons(lib, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="no such file"):
        add_model(lib, "x", str(tmp_path / "missing.safetensors"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"model_index\.json"):
        add_model(lib, "x", str(tmp_path / "empty"))
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not a pickle we would open")
    with pytest.raises(ModelError, match="safetensors"):
        add_model(lib, "x", str(ckpt))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="not a readable safetensors"):
        add_model(lib, "x", str(junk))
    import torch
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"some.layer.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(ModelError, match=r"not a Stable Diffusion 1\.5 or SDXL"):
        add_model(lib, "x", str(other))
    with pytest.raises(ModelError, match="cannot download"):
        add_model(lib, "x", "some-org/some-model", hub=True)
    with pytest.raises(ModelError, match="built-in"):
        add_model(lib, "tiny-sd15", str(tmp_path))
    with pytest.raises(ModelError, match="no base model named"):
        get_model(lib, "nope")
    with pytest.raises(ModelError, match="built in"):
        remove_model(lib, "tiny-sd15")


def test_models_cli_lists_adds_and_removes(tmp_path):
    home = tmp_path / "home"
    folder = save_tiny_folder("tiny-sd15", tmp_path / "folder")
    added = likeness(home, "models", "add", "mine", str(folder), "--json")
    assert added.returncode == 0, added.stderr
    listed = json.loads(likeness(home, "models", "list", "--json").stdout)
    assert [(m["name"], m["kind"]) for m in listed] == [
        ("tiny-sd15", "tiny"),
        ("tiny-sdxl", "tiny"),
        ("mine", "real"),
    ]
    assert {"name", "family", "source", "kind"} <= set(listed[0])
    bad = likeness(home, "models", "add", "other", str(tmp_path / "nothing"))
    assert bad.returncode == 1 and "no such file" in bad.stderr and "Traceback" not in bad.stderr
    assert likeness(home, "models", "remove", "mine").returncode == 0
    gone = likeness(home, "models", "info", "mine")
    assert gone.returncode == 1 and "no base model named" in gone.stderr


def test_an_unknown_model_is_refused_without_building_the_built_in_ones(lib):
    """A request naming no model answers at once with the names it might have meant. The
    refusal once listed the models with their hashes, building every tiny model (seconds
    each, the first time in a process): a generation route asked for "=" ran past a
    client's 10 s timeout (schemathesis, the PostgreSQL run of CI)."""
    tiny_sha256.cache_clear()
    with pytest.raises(ModelNotFoundError) as refused:
        get_model(lib, "=")
    assert "tiny-sd15" in str(refused.value) and "tiny-sdxl" in str(refused.value)
    with pytest.raises(ModelNotFoundError):
        model_kind(lib, "surrogatepass")
    assert tiny_sha256.cache_info().currsize == 0
