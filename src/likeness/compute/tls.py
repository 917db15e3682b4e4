"""Certificates for Ray's TLS between the library machine and its workers.

Ray encrypts and authenticates its gRPC traffic when every node and driver has
``RAY_USE_TLS=1`` and the three files below (Ray's own mechanism: "TLS authentication" in
its documentation). The library keeps a CA of its own for its cluster (``keys/ray/``, made on
first use, separate from the local server's CA, which may vouch for servers only: Ray's TLS
is mutual, each node both a server and a client), and issues each node a certificate for its
name or address. A machine without a certificate from this CA cannot join or talk to the
cluster; one that has one is trusted with what the cluster carries (``compute.cluster``).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from likeness import clock
from likeness.errors import InvalidError
from likeness.provenance.identity import parse_host
from likeness.store import Library
from likeness.store.keys import make_private_folder, write_private

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
    from cryptography.x509 import Certificate

CA_YEARS = 10
NODE_DAYS = 825


class NodeNameError(InvalidError):
    """A node name that is no host name or address."""


@dataclass(frozen=True)
class NodeCertificate:
    ca: Path
    cert: Path
    key: Path

    def environment(self) -> dict[str, str]:
        """What Ray reads on the node (and on the library's own processes)."""
        return {
            "RAY_USE_TLS": "1",
            "RAY_TLS_SERVER_CERT": str(self.cert),
            "RAY_TLS_SERVER_KEY": str(self.key),
            "RAY_TLS_CA_CERT": str(self.ca),
        }

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> NodeCertificate | None:
        """The certificate Ray uses in a process with ``env`` (what ``environment`` sets),
        or None when Ray speaks plain gRPC there (``RAY_USE_TLS`` unset, or not 1/true)."""
        if env.get("RAY_USE_TLS", "0").lower() not in ("1", "true"):
            return None
        return cls(
            ca=Path(env.get("RAY_TLS_CA_CERT", "")),
            cert=Path(env.get("RAY_TLS_SERVER_CERT", "")),
            key=Path(env.get("RAY_TLS_SERVER_KEY", "")),
        )


def _ca(lib: Library, now: datetime.datetime) -> tuple[PrivateKeyTypes, Certificate]:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from likeness.provenance.identity import has_ca, load_ca, new_ca, save_ca

    folder = lib.keys.dir / "ray"
    folder.mkdir(mode=0o700, exist_ok=True)
    if not has_ca(folder):
        usage = x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        save_ca(folder, *new_ca("likeness cluster CA", now, CA_YEARS, [(usage, False)]))
    key, cert = load_ca(folder)
    return key, cert


def _check_name(name: str) -> None:
    """``NodeNameError`` unless ``name`` is an IP address or a well-formed host name."""
    if parse_host(name) is None:
        raise NodeNameError(f"{name!r} is no host name or IP address", field="name")


def node_certificate(
    lib: Library, name: str, out: Path, now: datetime.datetime | None = None
) -> NodeCertificate:
    """A certificate for the Ray node ``name`` (its host name or address; loopback added),
    issued by the library's cluster CA, written with the CA's certificate into ``out``:
    ``ca.pem``, ``NAME.pem`` and ``NAME.key`` (0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from likeness.provenance.identity import new_leaf, pem_private_key, subject_names

    _check_name(name)
    names = list(dict.fromkeys([name, "localhost", "127.0.0.1"]))
    san = x509.SubjectAlternativeName(subject_names(names))
    now = clock.precise_now() if now is None else clock.utc(now)
    ca_key, ca = _ca(lib, now)
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    key, cert = new_leaf(ca_key, ca, name, usage, now, NODE_DAYS, [(san, False)])
    make_private_folder(out)
    stem = name.replace(":", "_")
    paths = NodeCertificate(out / "ca.pem", out / f"{stem}.pem", out / f"{stem}.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(paths.key, pem_private_key(key))  # replaces an older key atomically
    return paths
