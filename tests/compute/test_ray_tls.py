"""Ray's TLS with certificates from the library's cluster CA, end to end: a head and a worker
that speak only mutual TLS, a generation sent there by the command line lands signed, and the
cluster's port answers only a peer holding a certificate from this library's CA. Slow (a
cluster start, a command that loads PyTorch): `make test-compute` runs it, as CI does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from likeness.compute import COMPUTE_ENV, RESOURCE_ENV
from likeness.compute.reach import grpc_answers
from likeness.compute.tls import NodeCertificate, node_certificate
from likeness.consent.grants import Scope, Trust, issue_grant
from likeness.provenance.credentials import verify_credentials
from likeness.store import Library
from likeness.testing.libraries import copy_home

ray = pytest.importorskip("ray")
from likeness.testing.ray_cluster import WORKER_RESOURCE, RayCluster  # noqa: E402 - needs ray

pytestmark = pytest.mark.slow  # about a minute: make test-compute


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict[str, NodeCertificate]:
    """One certificate per node and one for the library's driver, all from one library's
    cluster CA, for the address this machine's Ray nodes reach each other by (Ray's
    control service connects to the machine's address, whatever address a node binds to:
    a certificate naming only the loopback is refused there), and one from another CA."""
    address = ray.util.get_node_ip_address()
    folder = tmp_path_factory.mktemp("ray-tls")
    with Library.open(folder / "issuer") as lib:
        ours = {
            name: node_certificate(lib, address, folder / name) for name in ("head", "w0", "lib")
        }
    with Library.open(folder / "stranger-home") as other:
        ours["stranger"] = node_certificate(other, address, folder / "stranger")
    return ours


@pytest.fixture(scope="module")
def tls_cluster(certificates):
    cluster = RayCluster.start(
        workers=1,
        env={name: certificates[name].environment() for name in ("head", "w0")},
        driver_env=certificates["lib"].environment(),
    )
    yield cluster
    cluster.stop()


def test_a_generation_on_a_tls_cluster_lands_signed(
    tls_cluster, certificates, trained_two_people_home, tmp_path
):
    home, alice, _ = trained_two_people_home
    lib = copy_home(home, tmp_path / "home")
    issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    lib.close()
    env = {
        **os.environ,
        **certificates["lib"].environment(),
        "LIKENESS_HOME": str(tmp_path / "home"),
        COMPUTE_ENV: f"ray:{tls_cluster.address}",
        RESOURCE_ENV: WORKER_RESOURCE,
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    likeness = str(Path(sys.executable).with_name("likeness"))
    options = ["--steps", "4", "--style", "watercolor", "--out", str(tmp_path / "out"), "--json"]
    made = subprocess.run(
        [likeness, "generate", "@alice in a garden", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-3000:] + tls_cluster.logs()
    [image] = json.loads(made.stdout)["images"]
    with Library.open(tmp_path / "home") as lib:
        assert verify_credentials(lib, Path(image["path"])).state == "trusted"


def test_the_cluster_answers_only_peers_with_the_library_s_certificates(tls_cluster, certificates):
    """gRPC's opening (``compute.reach``, which checks a cluster before Ray connects) gets
    HTTP/2's SETTINGS back only from a peer with a certificate from this library's CA."""
    ca, port = certificates["lib"].ca, tls_cluster.port
    assert grpc_answers("127.0.0.1", port, ca=ca, client=certificates["lib"])
    assert not grpc_answers("127.0.0.1", port, ca=ca, client=certificates["stranger"])
    assert not grpc_answers("127.0.0.1", port, ca=ca)  # no certificate
    assert not grpc_answers("127.0.0.1", port)  # no TLS at all
