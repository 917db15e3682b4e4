"""LoRA training on the built-in tiny models: it learns, it reproduces in plain diffusers, it
resumes after a crash, and consent stops it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from likeness.adapters import storage
from likeness.adapters.curation import TrainingSetError, curate
from likeness.adapters.export import authorize_export, export_adapter
from likeness.adapters.manage import get_adapter, list_adapters, load_into_pipeline
from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
from likeness.consent.grants import revoke_grant
from likeness.consent.policy import ConsentWithdrawnError, GateError
from likeness.models.conditioning import denoising_loss, encode_captions, encode_images
from likeness.models.loading import load_pipeline
from likeness.models.registry import add_model, get_model
from likeness.testing.models import sample, save_tiny_folder
from tests.adapters.conftest import RULES

FAST = TrainingParams(steps=12, learning_rate=1e-3, checkpoint_every=4)


def _train(granted, model="tiny-sd15", params=FAST, **kw):
    decision = authorize_training(granted.lib, granted.person, model)
    assert decision.allowed, decision.reason
    return train_adapter(
        granted.lib, decision, granted.person, model, params, rules=RULES, device="cpu", **kw
    )


@pytest.mark.slow  # 50 s; `make test-training` (CI) and `make test-all`
def test_lora_learns_the_person_and_changes_outputs(granted):
    lib, person = granted.lib, granted.person
    base = get_model(lib, "tiny-sd15")
    data = curate(lib, person, base.resolution, RULES)
    held_out = data.examples[-2:]
    data.examples = data.examples[:-2]  # train on the others
    trained = _train(granted, params=TrainingParams.for_model(base), training_set=data)

    pipe = load_pipeline(base)
    latents = encode_images(pipe, [e.image for e in held_out])
    embeds, added = encode_captions(pipe, base.family, [e.caption for e in held_out], 128)
    before = denoising_loss(pipe, latents, embeds, added)
    base_image = sample(pipe, f"a photo of {trained.trigger} person")
    load_into_pipeline(lib, pipe, get_adapter(lib, trained.id))
    after = denoising_loss(pipe, latents, embeds, added)
    print(f"held-out denoising loss: base model {before:.4f}, with the adapter {after:.4f}")
    assert after < 0.8 * before
    adapted_image = sample(pipe, f"a photo of {trained.trigger} person")
    assert np.abs(adapted_image - base_image).mean() > 0.01
    assert trained.losses[-1] < trained.losses[0]
    assert os.path.getsize(trained.loss_curve) > 1000  # a PNG was drawn


def test_stored_adapter_is_encrypted_and_carries_its_provenance(granted):
    trained = _train(granted)
    raw = Path(trained.path).read_bytes()
    assert b"lora" not in raw and b"likeness" not in raw  # sealed: no readable header
    state, meta = storage.load_weights(granted.lib, trained.person_uid, trained.id)
    assert any(k.startswith("unet.") and "lora_A" in k for k in state)
    assert json.loads(meta["likeness.grant_ids"]) == [granted.grant_id]
    assert meta["likeness.base_model_sha256"] == get_model(granted.lib, "tiny-sd15").sha256
    assert meta["likeness.person_uid"] == trained.person_uid
    assert len(json.loads(meta["likeness.data"])) == 6
    assert json.loads(meta["likeness.params"])["rank"] == 16
    [info] = list_adapters(granted.lib, granted.person)
    assert info.status == "ready" and info.as_json()["person"] == granted.person


@pytest.mark.parametrize("fmt", ["diffusers", "kohya"])
@pytest.mark.parametrize("text_encoder", [False, True])
def test_exported_adapter_reproduces_likeness_outputs_in_plain_diffusers(
    granted, tmp_path, fmt, text_encoder
):
    from diffusers import StableDiffusionPipeline

    params = TrainingParams(steps=6, learning_rate=1e-3, train_text_encoder=text_encoder)
    trained = _train(granted, params=params)
    prompt = f"a photo of {trained.trigger} person"
    ours = load_pipeline(get_model(granted.lib, "tiny-sd15"))
    load_into_pipeline(granted.lib, ours, get_adapter(granted.lib, trained.id))
    expected = sample(ours, prompt)

    decision = authorize_export(granted.lib, granted.person)
    out = export_adapter(granted.lib, decision, granted.person, fmt, tmp_path / "lora.safetensors")
    folder = save_tiny_folder("tiny-sd15", tmp_path / "base")
    plain = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None)
    plain.set_progress_bar_config(disable=True)
    base_image = sample(plain, prompt)
    plain.load_lora_weights(str(out))
    got = sample(plain, prompt)
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(got - base_image).mean() > 1e-3  # the adapter did something
    if fmt == "kohya":
        from safetensors import safe_open

        with safe_open(str(out), "pt") as f:
            keys = set(f.keys())
        assert any(k.startswith("lora_unet_") and k.endswith(".lora_down.weight") for k in keys)
        assert all(k.startswith(("lora_unet_", "lora_te_")) for k in keys)
        assert any(k.startswith("lora_te_") for k in keys) == text_encoder
        assert sum(k.endswith(".alpha") for k in keys) * 3 == len(keys)


def test_sdxl_tiny_trains_and_exports(granted, tmp_path):
    from diffusers import StableDiffusionXLPipeline

    trained = _train(granted, model="tiny-sdxl", params=TrainingParams(steps=4, learning_rate=1e-3))
    prompt = f"a photo of {trained.trigger} person"
    ours = load_pipeline(get_model(granted.lib, "tiny-sdxl"))
    load_into_pipeline(granted.lib, ours, get_adapter(granted.lib, trained.id))
    decision = authorize_export(granted.lib, granted.person)
    out = export_adapter(granted.lib, decision, granted.person, "kohya", tmp_path / "x.safetensors")
    plain = StableDiffusionXLPipeline.from_pretrained(
        save_tiny_folder("tiny-sdxl", tmp_path / "base")
    )
    plain.set_progress_bar_config(disable=True)
    plain.load_lora_weights(str(out))
    assert np.abs(sample(plain, prompt) - sample(ours, prompt)).max() < 1e-4


def _adapter_state(lib, trained):
    state, _ = storage.load_weights(lib, trained.person_uid, trained.id)
    return state


@pytest.mark.slow  # 33 s; `make test-all`
def test_killed_training_resumes_to_the_same_adapter(granted, prepared, tmp_path):
    """kill -9 mid-run, then --resume: the adapter equals an uninterrupted run's."""
    from likeness.testing.libraries import copy_home

    lib, person = granted.lib, granted.person
    steps = ["--steps", "40", "--checkpoint-every", "10", "--lr", "0.001"]
    env = {**os.environ, "LIKENESS_HOME": str(lib.home)}
    cmd = [sys.executable, "-m", "likeness.cli", "adapter", "train", str(person)]
    cmd += [*steps, "--min-photos", "2", "--no-evaluate", "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        running = [a for a in list_adapters(lib, person) if a.status == "training"]
        if running and running[0].steps_done >= 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [interrupted] = list_adapters(lib, person)
    assert interrupted.status == "training" and 20 <= interrupted.steps_done < 40

    params = TrainingParams(steps=40, learning_rate=1e-3, checkpoint_every=10)
    resumed = _train(granted, params=params, resume=True)
    assert resumed.id == interrupted.id and resumed.resumed_from >= 20

    other = copy_home(prepared[0], tmp_path / "uninterrupted")
    from likeness.consent.grants import Scope, Trust, issue_grant

    issue_grant(other, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    decision = authorize_training(other, person, "tiny-sd15")
    straight = train_adapter(
        other, decision, person, "tiny-sd15", params, rules=RULES, device="cpu"
    )
    a, b = _adapter_state(lib, resumed), _adapter_state(other, straight)
    assert a.keys() == b.keys()
    # Equal within float tolerance: the two processes' CPU kernels may round differently
    # (alignment-dependent vector paths), and Adam carries such differences along.
    for key in a:
        assert torch.linalg.norm(a[key] - b[key]) <= 1e-3 * torch.linalg.norm(b[key]), key
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-3)
    # The tolerance means something: another seed's adapter is far outside it.
    reseeded = train_adapter(
        other,
        decision,
        person,
        "tiny-sd15",
        TrainingParams(steps=40, learning_rate=1e-3, checkpoint_every=10, seed=1),
        rules=RULES,
        device="cpu",
    )
    c = _adapter_state(other, reseeded)
    assert any(torch.linalg.norm(c[k] - b[k]) > 0.1 * torch.linalg.norm(b[k]) for k in b)


def test_revocation_mid_training_stops_it_and_leaves_nothing_readable(granted):
    lib = granted.lib
    seen = []

    def revoke_at_step_5(step, total, loss):
        seen.append(step)
        if step == 5:
            revoke_grant(lib, granted.grant_id, "changed my mind")

    with pytest.raises(ConsentWithdrawnError):
        _train(granted, progress=revoke_at_step_5)
    assert seen == [1, 2, 3, 4, 5]  # stopped before step 6
    [info] = list_adapters(lib, granted.person)
    assert info.status == "withdrawn"
    folder = storage.adapter_dir(lib, info.person_uid)
    assert not list(folder.glob("*.lora*")) and not list(folder.glob("*.ckpt*"))


def test_a_copied_adapter_is_useless_after_revocation(granted, tmp_path):
    trained = _train(granted)
    copy = tmp_path / "stolen.lora"
    copy.write_bytes(Path(trained.path).read_bytes())
    revoke_grant(granted.lib, granted.grant_id)
    with pytest.raises(storage.AdapterUnreadableError, match="revoked"):
        storage.read_sealed(granted.lib, trained.person_uid, copy, "weights")
    # even a new key for the person (a later grant) does not open it
    granted.lib.keys.person_key(trained.person_uid, create=True)
    with pytest.raises(storage.AdapterUnreadableError, match="altered"):
        storage.read_sealed(granted.lib, trained.person_uid, copy, "weights")
    [info] = list_adapters(granted.lib, granted.person)
    assert info.status in ("destroyed", "ready")


def test_gate_decides_tiny_or_real_from_the_registry(granted, tmp_path):
    lib, person = granted.lib, granted.person
    add_model(lib, "mine", str(save_tiny_folder("tiny-sd15", tmp_path / "m")))
    refused = authorize_training(lib, person, "mine")  # attested grants drive tiny models only
    assert not refused.allowed and "real model" in refused.reason
    tiny_decision = authorize_training(lib, person, "tiny-sd15")
    with pytest.raises(GateError, match="tiny"):
        train_adapter(lib, tiny_decision, person, "mine", FAST, rules=RULES)
    with pytest.raises(GateError):
        train_adapter(lib, refused, person, "mine", FAST, rules=RULES)


def test_too_few_photos_is_refused_with_counts_and_reasons(granted):
    with pytest.raises(TrainingSetError) as caught:
        curate(granted.lib, granted.person, 128)  # the default asks for 10
    message = str(caught.value)
    assert "6 usable photo(s) of 8 face(s)" in message
    assert "at least 10" in message and "2 face smaller than 80 px" in message


def test_an_erasure_while_the_weights_are_saved_leaves_no_adapter_and_no_key(granted, monkeypatch):
    from likeness.people.records import get_person
    from likeness.workflows import erase

    lib = granted.lib
    with lib.session() as s:
        uid = get_person(s, granted.person).uid
    save = storage.save_weights

    def erased_first(*args, **kwargs):
        erase(lib, granted.person)
        return save(*args, **kwargs)

    monkeypatch.setattr(storage, "save_weights", erased_first)
    with pytest.raises(ConsentWithdrawnError):
        _train(granted)
    folder = storage.adapter_dir(lib, uid)
    assert not list(folder.glob("*")) if folder.exists() else True
    assert not lib.keys.has_person_key(uid)  # writing made no new key for her
    assert not list_adapters(lib, granted.person)
