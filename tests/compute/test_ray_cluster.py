"""Trainings and generations on a real Ray cluster on loopback: a head (the library machine)
and worker nodes, each its own process group with its own resources. Slow (a cluster start,
PyTorch in every worker): `make test-compute` runs them, as CI does."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from likeness.adapters import storage
from likeness.adapters.manage import list_adapters
from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
from likeness.compute.worker import WORKER_MODELS_ENV, WorkerModelError
from likeness.consent.grants import Scope, Trust, issue_grant, revoke_grant
from likeness.consent.policy import ConsentWithdrawnError
from likeness.generate.outputs import LocalCompute
from likeness.generate.run import GenerationOptions, authorize_generation, generate_images
from likeness.generate.video import VideoOptions, authorize_video, generate_video
from likeness.models.registry import add_model
from likeness.provenance.clips import read_clip_frames
from likeness.provenance.credentials import verify_credentials
from likeness.provenance.stamp import find_provenance
from likeness.testing.libraries import copy_home
from likeness.testing.models import save_tiny_single_file
from tests.adapters.conftest import RULES

ray = pytest.importorskip("ray")
from likeness.compute.cluster import JobKeeper, RayCompute  # noqa: E402 - needs ray
from likeness.compute.keeper import JobEndedError  # noqa: E402
from likeness.testing.ray_cluster import WORKER_RESOURCE, RayCluster  # noqa: E402

pytestmark = pytest.mark.slow  # 2-3 minutes: make test-compute


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> Path:
    """A folder holding another model under the registered model's file name."""
    folder = tmp_path_factory.mktemp("other-models")
    made, _ = save_tiny_single_file(tmp_path_factory.mktemp("other"), "tiny-sd15")
    data = bytearray(made.read_bytes())
    data[-1000] ^= 0xFF  # one weight changed: another model, the same file name
    (folder / "tiny.safetensors").write_bytes(bytes(data))
    return folder


@pytest.fixture(scope="module")
def cluster(other_model):
    cluster = RayCluster.start(workers=2)
    # Asked for by name only: its copy of the registered model has other weights.
    cluster.add_worker("odd", {WORKER_MODELS_ENV: str(other_model)}, shared=False)
    cluster.wait_for(f"{WORKER_RESOURCE}_odd", 1)
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.stop()


@pytest.fixture
def remote(cluster) -> RayCompute:
    return RayCompute(cluster.address, resource=WORKER_RESOURCE)


@pytest.fixture
def library(astronaut_home, tmp_path):
    """A library whose person has grants to train and to generate stylized images."""
    home, person = astronaut_home
    lib = copy_home(home, tmp_path / "home")
    grant = issue_grant(lib, person, [Scope.TRAIN_ADAPTER, Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    yield lib, person, grant.id
    lib.close()


PARAMS = TrainingParams(steps=40, learning_rate=1e-3, checkpoint_every=10, seed=3)


def _train(lib, person, compute=None, params=PARAMS, **kw):
    decision = authorize_training(lib, person, "tiny-sd15")
    return train_adapter(
        lib, decision, person, "tiny-sd15", params, rules=RULES, compute=compute, **kw
    )


def test_a_training_and_a_generation_run_on_the_workers_and_land_signed(library, remote, tmp_path):
    lib, person, _ = library
    steps = []
    trained = _train(lib, person, remote, progress=lambda done, total, loss: steps.append(done))
    assert steps and steps[-1] == PARAMS.steps  # progress came home from the worker
    [info] = list_adapters(lib, person)
    assert info.status == "ready" and info.id == trained.id
    state, meta = storage.load_weights(lib, trained.person_uid, trained.id)  # sealed at home
    assert any("lora_A" in k for k in state)
    assert meta["likeness.person_uid"] == trained.person_uid
    assert not list(storage.adapter_dir(lib, trained.person_uid).glob("*.ckpt*"))

    # The same run here gives the same losses: the worker took exactly these steps.
    local = _train(lib, person, None, device="cpu")
    np.testing.assert_allclose(trained.losses, local.losses, rtol=1e-3, atol=1e-4)

    options = GenerationOptions(count=3, steps=6, style="watercolor", seed=5)
    prompt = "@person in a garden"
    from likeness.people.manage import name_person

    name_person(lib, person, "person")
    decision = authorize_generation(lib, prompt, options)
    result = generate_images(lib, decision, prompt, tmp_path / "out", options, compute=remote)
    assert [i.index for i in result.images] == [0, 1, 2]
    assert all(i.allowed for i in result.images), [i.reason for i in result.images]
    for image in result.written:
        credentials = verify_credentials(lib, Path(image.path))
        assert credentials.state == "trusted", credentials
    # What the workers sampled is what this machine samples from the same request (each
    # output carries its own watermark: the same seed differs by that, another seed by far
    # more).
    here = generate_images(
        lib, decision, prompt, tmp_path / "here", options, compute=LocalCompute("cpu")
    )
    from PIL import Image

    def pixels(image) -> np.ndarray:
        return np.asarray(Image.open(image.path), dtype=np.int16)

    remote_images = [pixels(i) for i in result.written]
    local_images = [pixels(i) for i in here.written]
    same = [np.abs(a - b).mean() for a, b in zip(remote_images, local_images, strict=True)]
    other = [np.abs(remote_images[0] - b).mean() for b in local_images[1:]]
    assert max(same) < 3 and max(same) * 3 < min(other), (same, other)
    # The training and the generation were kept by one host actor of this process (no
    # actor started per job), which keeps nothing once they ended.
    hosts = [a for a in ray.util.list_named_actors(True) if a["name"].startswith("keepers-")]
    assert len(hosts) == 1 and _keepers() == []


@pytest.fixture
def video_library(trained_two_people_home, tmp_path):
    """Alice, with her adapter and a grant to be in clips."""
    home, alice, _ = trained_two_people_home
    lib = copy_home(home, tmp_path / "video-home")
    grant = issue_grant(lib, alice, [Scope.GENERATE_VIDEO], Trust.ATTESTED)
    yield lib, grant.id
    lib.close()


CLIP = VideoOptions(steps=3, frames=8, fps=8, count=2, seed=7, style="watercolor")


def test_clips_are_sampled_on_the_workers_and_land_signed(video_library, remote, tmp_path):
    lib, grant = video_library
    decision = authorize_video(lib, "@alice waving", CLIP)
    result = generate_video(lib, decision, "@alice waving", tmp_path / "out", CLIP, compute=remote)
    assert [(c.index, c.allowed) for c in result.images] == [(0, True), (1, True)]
    for clip in result.written:
        report = find_provenance(lib, clip.path)
        assert report.credentials.state == "trusted", report.credentials.failures
        assert report.credentials.assertions["org.likeness.consent"]["grants"] == [grant]
    # The frames the workers sampled are the frames this machine samples (each clip's own
    # watermark apart).
    here = generate_video(lib, decision, "@alice waving", tmp_path / "here", CLIP)
    for remote_clip, local_clip in zip(result.written, here.written, strict=True):
        a = np.stack(read_clip_frames(Path(remote_clip.path))).astype(np.int16)
        b = np.stack(read_clip_frames(Path(local_clip.path))).astype(np.int16)
        assert a.shape == b.shape == (8, 128, 128, 3)
        assert np.abs(a - b).mean() < 4


def test_a_revocation_mid_clip_stops_the_remote_worker_within_a_step(
    video_library, remote, tmp_path
):
    """A clip's frames are denoised together: the worker asks the keeper after every step,
    so a revocation while a clip is sampled ends it at once, not after its 500 steps."""
    lib, grant = video_library
    options = VideoOptions(steps=500, frames=8, count=1, style="watercolor")
    decision = authorize_video(lib, "@alice waving", options)
    seen: list[tuple[float, int]] = []  # (when, how many times the worker had asked)

    def revoke_once_sampling() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            running = ray.is_initialized()  # once the generation has connected
            for keeper in _keepers() if running else []:
                with contextlib.suppress(JobEndedError, ray.exceptions.RayActorError):
                    asked = keeper.status()["asked"]
                    seen.append((time.monotonic(), asked))
                    if asked >= 6:  # before the clip, then five steps
                        revoke_grant(lib, grant, "changed my mind")
                        return
            time.sleep(0.05)

    revoker = threading.Thread(target=revoke_once_sampling)
    revoker.start()
    with pytest.raises(ConsentWithdrawnError):
        generate_video(lib, decision, "@alice waving", tmp_path / "out", options, compute=remote)
    stopped = time.monotonic()
    revoker.join()
    assert seen and seen[-1][1] >= 6, "the clip ended before it could be revoked"
    assert not any((tmp_path / "out").iterdir())
    # The steps' pace, as the keeper saw them, and how long the clip went on after the
    # revocation: a few steps' worth, where the rest of the clip is ~500 steps.
    first = next((t, n) for t, n in seen if n >= 2)
    step_s = (seen[-1][0] - first[0]) / max(seen[-1][1] - first[1], 1)
    after = stopped - seen[-1][0]
    assert after < 100 * step_s + 5, (after, step_s)


def test_a_revocation_mid_training_stops_the_remote_worker_within_a_step(library, remote):
    lib, person, grant = library
    seen: list[int] = []

    def revoke_early(done, total, loss):
        seen.append(done)
        if len(seen) == 1:
            revoke_grant(lib, grant, "changed my mind")

    params = TrainingParams(steps=400, learning_rate=1e-3, checkpoint_every=100)
    with pytest.raises(ConsentWithdrawnError):
        _train(lib, person, remote, params=params, progress=revoke_early)
    # The progress the library read when it revoked, and at most a poll's worth of steps
    # after it (the worker asks before every step): far from the 400.
    assert seen[-1] < 100
    [info] = list_adapters(lib, person)
    assert info.status == "withdrawn"
    folder = storage.adapter_dir(lib, info.person_uid)
    assert not list(folder.glob("*.lora*")) and not list(folder.glob("*.ckpt*"))


def test_a_worker_with_another_base_model_is_refused(library, cluster, remote, tmp_path):
    lib, _, _ = library
    path, configs = save_tiny_single_file(tmp_path / "model", "tiny-sd15")
    add_model(lib, "my-sd15", str(path), config_dir=configs)
    options = GenerationOptions(model="my-sd15", count=1, steps=2, width=64, height=64)
    decision = authorize_generation(lib, "a lighthouse at dusk", options)
    assert decision.allowed, decision.reason
    # A worker whose copy (by name, in its $LIKENESS_WORKER_MODELS) has other weights.
    odd = RayCompute(cluster.address, resource=f"{WORKER_RESOURCE}_odd")
    with pytest.raises(WorkerModelError, match="another model"):
        generate_images(
            lib, decision, "a lighthouse at dusk", tmp_path / "out", options, compute=odd
        )
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    # The workers with the registered model's file make the image.
    done = generate_images(
        lib, decision, "a lighthouse at dusk", tmp_path / "ok", options, compute=remote
    )
    assert [i.allowed for i in done.images] == [True]


def test_a_worker_lost_mid_generation_has_its_images_run_again_never_twice(
    library, remote, cluster, tmp_path
):
    lib, _, _ = library
    options = GenerationOptions(count=6, steps=30, seed=11)
    decision = authorize_generation(lib, "a lighthouse at dusk", options)
    lost: list[str] = []

    def lose_a_worker(image, step, steps):
        if not lost:  # the first image is back: the others are under way on both workers
            node = next(w for w in cluster.workers if w.process.poll() is None and w.name != "odd")
            lost.append(node.name)
            node.kill()

    result = generate_images(
        lib,
        decision,
        "a lighthouse at dusk",
        tmp_path / "out",
        options,
        progress=lose_a_worker,
        compute=remote,
    )
    assert lost
    assert [i.index for i in result.images] == list(range(6))  # each once
    assert all(i.allowed for i in result.images)
    assert len(list((tmp_path / "out").iterdir())) == 6  # no image written twice
    cluster.add_worker(lost[0] + "b")
    cluster.wait_for(WORKER_RESOURCE, 2)


def test_a_worker_killed_mid_training_hands_the_run_to_another_from_its_checkpoint(
    library, remote, cluster
):
    lib, person, _ = library
    params = TrainingParams(steps=60, learning_rate=1e-3, checkpoint_every=10, seed=4)
    killed: list[str] = []

    def kill_its_worker(done, total, loss):
        if not killed and done >= 15:  # past the checkpoint at step 10
            status = _keeper_status(lib, person)
            node = cluster.node_of(status["where"])
            killed.append(node.name)
            node.kill()  # kill -9 of the node's raylet, object store and task workers

    trained = _train(lib, person, remote, params=params, progress=kill_its_worker)
    assert killed, "the run ended before it could be interrupted"
    assert trained.resumed_from in (10, 20)  # from a checkpoint, not from step 0
    uninterrupted = _train(lib, person, None, params=params, device="cpu")
    np.testing.assert_allclose(trained.losses, uninterrupted.losses, rtol=1e-3, atol=1e-4)
    cluster.add_worker(killed[0] + "b")  # for any test after this one
    shutil.rmtree(storage.adapter_dir(lib, trained.person_uid), ignore_errors=True)


def _keepers() -> list[JobKeeper]:
    """The jobs kept now by the keeper hosts of this cluster's library processes."""
    found = []
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["name"].startswith("keepers-"):
            with contextlib.suppress(ValueError, ray.exceptions.RayActorError):
                host = ray.get_actor(actor["name"], namespace="likeness")
                found += [JobKeeper(host, job) for job in ray.get(host.names.remote())]
    return found


def _keeper_status(lib, person) -> dict:
    """The running training's status, from its keeper (kept under the adapter's id)."""
    [training] = [a for a in list_adapters(lib, person) if a.status == "training"]
    [keeper] = [k for k in _keepers() if k.job == training.id]
    return keeper.status()
