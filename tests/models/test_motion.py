"""Motion modules load as users keep them (built in, a diffusers folder, a hub id in the
cache, AnimateDiff's single files), offline, and are refused clearly when they do not fit."""

import pytest
import torch

from likeness.errors import InvalidError
from likeness.models.families import FAMILIES
from likeness.models.motion import (
    config_of_checkpoint,
    load_motion_adapter,
    resolve_motion,
    tiny_motion_adapter,
    tiny_motion_config,
    to_diffusers_layout,
)
from likeness.models.registry import add_model, get_model
from likeness.models.tiny import TINY_UNET_BLOCKS
from likeness.testing.models import (
    animatediff_layout,
    save_tiny_folder,
    save_tiny_motion_single_file,
)


def _same(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_the_original_layout_is_read_back_with_its_layout_from_its_tensors(family):
    built_in = tiny_motion_adapter(FAMILIES[family], TINY_UNET_BLOCKS)
    original = animatediff_layout(built_in.state_dict())
    assert any(".temporal_transformer." in k for k in original)
    config = config_of_checkpoint(to_diffusers_layout(original))
    expected = tiny_motion_config(FAMILIES[family], TINY_UNET_BLOCKS)
    for key in ("block_out_channels", "motion_layers_per_block", "use_motion_mid_block"):
        assert config[key] == expected[key], key
    assert config["motion_max_seq_length"] == 32


@pytest.mark.parametrize("suffix", [".safetensors", ".ckpt"])
def test_a_single_file_loads_to_the_same_weights_offline(lib, tmp_path, suffix):
    base = get_model(lib, "tiny-sd15")
    path = save_tiny_motion_single_file(tmp_path / f"mm_tiny{suffix}")
    module = resolve_motion(str(path), base)
    assert module.source == "single_file" and module.kind == "real"
    loaded = load_motion_adapter(module, base, TINY_UNET_BLOCKS)
    assert _same(loaded, tiny_motion_adapter(FAMILIES["sd15"], TINY_UNET_BLOCKS))


def test_a_diffusers_folder_loads_and_a_narrower_base_is_refused(lib, tmp_path):
    base = get_model(lib, "tiny-sd15")
    tiny_motion_adapter(FAMILIES["sd15"], TINY_UNET_BLOCKS).save_pretrained(tmp_path / "mm")
    module = resolve_motion(str(tmp_path / "mm"), base)
    assert module.source == "folder" and len(module.sha256) == 64
    assert _same(
        load_motion_adapter(module, base, TINY_UNET_BLOCKS),
        tiny_motion_adapter(FAMILIES["sd15"], TINY_UNET_BLOCKS),
    )
    with pytest.raises(InvalidError, match=r"blocks \[32, 64\] wide; tiny-sd15 .* has \[320"):
        load_motion_adapter(module, base, (320, 640, 1280, 1280))


def test_what_cannot_be_a_motion_module_is_refused_by_name(lib, tmp_path, monkeypatch):
    base = get_model(lib, "tiny-sd15")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not tensors")
    with pytest.raises(InvalidError, match="cannot read the motion module"):
        load_motion_adapter(resolve_motion(str(junk), base), base, TINY_UNET_BLOCKS)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(InvalidError, match="not in the local Hugging Face cache"):
        resolve_motion("guoyww/animatediff-motion-adapter-v1-5-2", base)
    with pytest.raises(InvalidError, match="no motion module at"):
        resolve_motion("no such thing", base)


def test_a_real_base_model_needs_its_motion_module_named(lib, tmp_path):
    add_model(lib, "mine", str(save_tiny_folder("tiny-sd15", tmp_path / "mine")))
    real = get_model(lib, "mine")
    with pytest.raises(InvalidError, match="is a real model: name its motion module"):
        resolve_motion(None, real)
    with pytest.raises(InvalidError, match="fits the built-in tiny models only"):
        resolve_motion("tiny", real)
    # Named as a file, it drives the saved model through AnimateDiff's own pipeline.
    from likeness.models.loading import load_pipeline

    path = save_tiny_motion_single_file(tmp_path / "mm.safetensors")
    module = resolve_motion(str(path), real)
    pipe = load_pipeline(real)
    adapter = load_motion_adapter(module, real, tuple(pipe.unet.config.block_out_channels))
    video = FAMILIES["sd15"].video_pipeline_type().from_pipe(pipe, motion_adapter=adapter)
    frames = video(
        "a cat",
        num_frames=4,
        num_inference_steps=1,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames
    assert frames.shape == (1, 4, 128, 128, 3)


def test_a_hub_id_loads_from_the_local_cache_without_the_network(lib, tmp_path, monkeypatch):
    """A motion module fetched once into the standard Hugging Face cache (its layout made
    here by hand: refs/main naming a snapshot folder) loads by its hub id, offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--someone--tiny-motion"
    revision = "0123456789abcdef0123456789abcdef01234567"
    built_in = tiny_motion_adapter(FAMILIES["sd15"], TINY_UNET_BLOCKS)
    built_in.save_pretrained(repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    base = get_model(lib, "tiny-sd15")
    module = resolve_motion("someone/tiny-motion", base)
    assert module.source == "hub" and module.name == "someone/tiny-motion"
    assert _same(load_motion_adapter(module, base, TINY_UNET_BLOCKS), built_in)
