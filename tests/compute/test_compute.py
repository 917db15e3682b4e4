"""Choosing where the heavy half runs, and a worker's check of its own base model (no
cluster needed: the Ray cluster's tests are in test_ray_cluster.py)."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from likeness.compute import (
    COMPUTE_ENV,
    RESOURCE_ENV,
    ComputeError,
    ComputeUnavailableError,
    compute_from,
)
from likeness.compute.worker import WORKER_MODELS_ENV, WorkerModelError, resolve_on_worker
from likeness.models.registry import add_model, get_model
from likeness.testing.models import save_tiny_single_file


def test_the_compute_setting_is_read_from_the_option_or_the_environment(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.delenv(COMPUTE_ENV, raising=False)
    monkeypatch.delenv(RESOURCE_ENV, raising=False)
    assert compute_from(None) is None and compute_from("local") is None
    cluster = compute_from("ray")
    assert (cluster.address, cluster.resource) == ("auto", "GPU")
    assert compute_from("ray://10.0.0.2:10001").address == "ray://10.0.0.2:10001"
    assert compute_from("ray:10.0.0.2:6379").address == "10.0.0.2:6379"
    monkeypatch.setenv(COMPUTE_ENV, "ray")
    monkeypatch.setenv(RESOURCE_ENV, "big_gpu")
    assert compute_from(None).resource == "big_gpu"
    assert compute_from("local") is None  # the option wins over the environment
    with pytest.raises(ComputeError, match=r"unknown compute 'cloud'.*ray://HOST:PORT"):
        compute_from("cloud")


def test_a_worker_uses_its_own_copy_of_the_model_only_if_it_is_the_same(lib, tmp_path, monkeypatch):
    path, configs = save_tiny_single_file(tmp_path / "library", "tiny-sd15")
    model = add_model(lib, "my-sd15", str(path), config_dir=configs)
    assert resolve_on_worker(get_model(lib, "tiny-sd15")).source == "builtin"
    assert resolve_on_worker(model).location == str(path)  # the registered path, here

    # A worker keeping its models elsewhere, by name.
    elsewhere = tmp_path / "worker-models"
    monkeypatch.setenv(WORKER_MODELS_ENV, str(elsewhere))
    with pytest.raises(WorkerModelError, match=r"no copy at .*tiny\.safetensors.*LIKENESS_WORK"):
        resolve_on_worker(model)
    elsewhere.mkdir()
    data = path.read_bytes()
    (elsewhere / path.name).write_bytes(data)
    resolved = resolve_on_worker(model)
    assert resolved.location == str(elsewhere / path.name)
    assert resolved.config_dir == str(configs)  # there on this machine

    changed = bytearray(data)
    changed[-1000] ^= 0xFF
    (elsewhere / path.name).write_bytes(bytes(changed))
    with pytest.raises(WorkerModelError, match="is another model: SHA-256"):
        resolve_on_worker(model)
    # A built-in model whose weights differ (another version of likeness) is refused too.
    with pytest.raises(WorkerModelError, match="built-in model differs"):
        resolve_on_worker(replace(get_model(lib, "tiny-sd15"), sha256="0" * 64))


def test_a_node_certificate_comes_from_the_library_s_cluster_ca_for_both_ends(lib, tmp_path):
    import stat

    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from likeness.compute.tls import NodeCertificate, NodeNameError, node_certificate

    issued = node_certificate(lib, "gpu-box.lan", tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(issued.ca.read_bytes())
    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    # Ray's TLS is mutual: each node is a server and a client.
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "gpu-box.lan" in names.get_values_for_type(x509.DNSName)
    assert stat.S_IMODE(issued.key.stat().st_mode) == 0o600
    assert issued.environment()["RAY_USE_TLS"] == "1"
    # What a process with that environment reads back (the check before Ray connects).
    assert NodeCertificate.from_environment(issued.environment()) == issued
    assert NodeCertificate.from_environment({"RAY_USE_TLS": "0"}) is None
    # One CA per library, kept with its keys: the next node's certificate has the same issuer.
    again = node_certificate(lib, "10.0.0.7", tmp_path / "tls2")
    assert again.ca.read_bytes() == issued.ca.read_bytes()
    # A separate CA from the local server's, which may vouch for servers only.
    assert (lib.keys.dir / "ray" / "ca.key").exists()
    with pytest.raises(NodeNameError):
        node_certificate(lib, "not a name/..", tmp_path / "tls3")


def test_the_command_line_says_what_compute_it_takes_and_issues_node_certificates(tmp_path):
    import json

    from likeness.testing.cli import likeness

    bad = likeness(tmp_path / "home", "generate", "a lighthouse", "--compute", "cloud")
    assert bad.returncode == 1 and "unknown compute 'cloud'" in bad.stderr
    assert not list(tmp_path.glob("*.png"))
    made = likeness(
        tmp_path / "home",
        "compute",
        "certificate",
        "10.0.0.7",
        "--out",
        str(tmp_path / "t"),
        "--json",
    )
    assert made.returncode == 0, made.stderr
    environment = json.loads(made.stdout)
    assert environment["RAY_TLS_SERVER_CERT"] == str(tmp_path / "t" / "10.0.0.7.pem")
    assert (tmp_path / "t" / "ca.pem").exists()


def test_a_worker_uses_its_own_copy_of_a_clip_s_motion_module_only_if_it_is_the_same(
    lib, tmp_path, monkeypatch
):
    from likeness.compute.worker import motion_on_worker
    from likeness.models.motion import resolve_motion
    from likeness.testing.models import save_tiny_motion_single_file

    tiny = get_model(lib, "tiny-sd15")
    builtin = resolve_motion("tiny", tiny)
    assert motion_on_worker(builtin, tiny) == builtin
    with pytest.raises(WorkerModelError, match="built-in motion module differs"):
        motion_on_worker(replace(builtin, sha256="0" * 64), tiny)

    (tmp_path / "library").mkdir()
    path = save_tiny_motion_single_file(tmp_path / "library" / "mm.safetensors")
    module = resolve_motion(str(path), tiny)
    assert motion_on_worker(module, tiny).location == str(path)
    elsewhere = tmp_path / "worker-models"
    elsewhere.mkdir()
    monkeypatch.setenv(WORKER_MODELS_ENV, str(elsewhere))
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    (elsewhere / path.name).write_bytes(bytes(data))
    with pytest.raises(WorkerModelError, match=r"mm: this worker's copy .* is another model"):
        motion_on_worker(module, tiny)
    (elsewhere / path.name).write_bytes(path.read_bytes())
    assert motion_on_worker(module, tiny).location == str(elsewhere / path.name)


@pytest.fixture
def silent_port():
    """A port where something accepts connections and never speaks (not a Ray cluster)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on return: nothing listens there


def test_a_cluster_that_does_not_answer_is_unavailable_within_seconds(silent_port, monkeypatch):
    pytest.importorskip("ray")
    from likeness.compute.cluster import RayCompute

    closed = _closed_port()
    with pytest.raises(
        ComputeUnavailableError,
        match=rf"no Ray cluster answers at 127.0.0.1:{closed} \(connection refused\)",
    ):
        RayCompute(f"127.0.0.1:{closed}").connect()
    with pytest.raises(ComputeUnavailableError, match=r"127.0.0.1:10001 \(connection refused\)"):
        RayCompute("ray://127.0.0.1").connect()  # Ray Client's port when none is given
    # Something else listens there: without the check, Ray would wait for ever.
    with pytest.raises(
        ComputeUnavailableError, match=r"something listens .* no Ray cluster answers in plain gRPC"
    ):
        RayCompute(f"127.0.0.1:{silent_port}").check()
    # `--compute ray` finds the cluster this machine last joined: here a stale one.
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{closed}")
    with pytest.raises(ComputeUnavailableError, match=f"127.0.0.1:{closed}"):
        RayCompute("auto").connect()
    # With TLS on, the check speaks TLS with this machine's files, and says which is missing.
    monkeypatch.setenv("RAY_USE_TLS", "1")
    monkeypatch.setenv("RAY_TLS_CA_CERT", "/nonexistent/ca.pem")
    with pytest.raises(
        ComputeUnavailableError, match=r"RAY_USE_TLS is set but '/nonexistent/ca.pem' is no file"
    ):
        RayCompute(f"127.0.0.1:{silent_port}").check()
    with pytest.raises(ComputeError, match="names no port"):
        compute_from("ray:127.0.0.1").check()
    import ray

    assert not ray.is_initialized()


def test_the_command_line_and_the_server_say_the_cluster_is_unavailable(tmp_path, silent_port):
    pytest.importorskip("ray")
    from typer.testing import CliRunner

    from likeness.cli import app

    closed = _closed_port()
    out = tmp_path / "out"
    home = ["--home", str(tmp_path / "home")]
    made = CliRunner().invoke(
        app,
        [
            "generate",
            "a lighthouse at dusk",
            "--compute",
            f"ray:127.0.0.1:{closed}",
            "--steps",
            "2",
            "--out",
            str(out),
            *home,
        ],
    )
    assert made.exit_code == 5, made.output
    assert f"no Ray cluster answers at 127.0.0.1:{closed}" in made.output
    assert not out.exists() or not any(out.iterdir())  # nothing was written
    # A server with an unanswering cluster does not start (rather than fail its first job).
    served = CliRunner().invoke(
        app, ["serve", "--compute", f"ray:127.0.0.1:{silent_port}", *home], input=""
    )
    assert served.exit_code == 5, served.output
    assert f"something listens at 127.0.0.1:{silent_port}" in served.output


def test_a_keeper_host_keeps_each_job_apart_and_ends_a_closed_one(astronaut_home, tmp_path):
    """One actor keeps every job of a process (``compute.keeper``): each job answers by its
    own Decision, and a worker asking about a job that ended is told so."""
    from likeness.adapters.training import authorize_training
    from likeness.compute.keeper import JobEndedError, KeeperHost
    from likeness.consent.grants import Scope, Trust, issue_grant, revoke_grant
    from likeness.consent.policy import ConsentWithdrawnError
    from likeness.generate.run import GenerationOptions, authorize_generation
    from likeness.testing.libraries import copy_home

    home, person = astronaut_home
    lib = copy_home(home, tmp_path / "home")
    grant = issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    training = authorize_training(lib, person, "tiny-sd15")
    scenery = authorize_generation(lib, "a lighthouse at dusk", GenerationOptions())
    host = KeeperHost()
    host.open("train", str(lib.home), training, "uid", "adapter")
    host.open("scene", str(lib.home), scenery)
    host.in_force("train")
    host.in_force("scene")
    assert sorted(host.names()) == ["scene", "train"]
    revoke_grant(lib, grant.id, "changed my mind")
    with pytest.raises(ConsentWithdrawnError):
        host.in_force("train")
    host.in_force("scene")  # names no one: still in force
    assert host.status("scene")["asked"] == 2
    host.close("scene")
    with pytest.raises(JobEndedError, match="job scene has ended"):
        host.in_force("scene")
    host.close("train")
    assert host.names() == []
    lib.close()
