"""HTTPS for a server that phones reach: the server's own CA, and its certificate.

A phone opening the server over the local network gets its camera and passkeys only on a
secure origin, so ``likeness serve --tls`` serves HTTPS with a certificate issued here for
the names and addresses the server is reached by. The phone trusts the CA once (README).

This CA is not the C2PA signing CA (``provenance.identity``): a root a phone trusts for TLS
could vouch for any web site, so this one carries a critical Name Constraints extension that
permits local names only (``localhost``, ``.local``, ``.lan``, ``.home.arpa``,
``.internal``) and private and link-local addresses: were its key stolen, it could not vouch
for a bank. Browsers that honour constraints on a root (Chrome's and Firefox's verifiers,
OpenSSL) refuse a certificate it issued for any other name; and its extended key usage is
server authentication only, so neither can it vouch for e-mail, code or clients. The
leaf is issued again at each start, for the names given, valid 90 days. Keys lie under
``LIKENESS_HOME/keys/tls`` (0600).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from likeness import clock
from likeness.errors import InvalidError
from likeness.provenance.identity import parse_host, subject_names
from likeness.store import Library
from likeness.store.keys import write_private

CA_YEARS = 10
LEAF_DAYS = 90
#: The DNS names the CA may vouch for: each and every name under it (RFC 5280 4.2.1.10).
LOCAL_DOMAINS = ("localhost", "local", "lan", "home.arpa", "internal")
#: The addresses it may vouch for: loopback, private (RFC 1918, RFC 4193) and link-local.
LOCAL_NETWORKS = (
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
)


class TLSNameError(InvalidError):
    """A name the server's CA may not vouch for."""


@dataclass(frozen=True)
class ServerCertificate:
    cert_path: Path  # the server's certificate, then the CA's (PEM)
    key_path: Path
    ca_path: Path  # the root a phone trusts
    names: tuple[str, ...]

    def uvicorn_options(self) -> dict[str, str]:
        """What ``uvicorn.run`` / ``uvicorn.Config`` take to serve it."""
        return {"ssl_certfile": str(self.cert_path), "ssl_keyfile": str(self.key_path)}


def _folder(lib: Library) -> Path:
    folder = lib.keys.dir / "tls"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def is_local_name(name: str) -> bool:
    """Whether the CA may vouch for ``name``: an IP address in ``LOCAL_NETWORKS``, or a
    well-formed host name under ``LOCAL_DOMAINS``."""
    parsed = parse_host(name)
    if parsed is None:
        return False
    if isinstance(parsed, str):
        return any(parsed == d or parsed.endswith("." + d) for d in LOCAL_DOMAINS)
    return any(parsed in ipaddress.ip_network(n) for n in LOCAL_NETWORKS)


def _make_ca(folder: Path, now: datetime.datetime) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from likeness.provenance.identity import new_ca, save_ca

    permitted = [x509.DNSName(d) for d in LOCAL_DOMAINS] + [
        x509.IPAddress(ipaddress.ip_network(n)) for n in LOCAL_NETWORKS
    ]
    constraints = x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)
    # Server certificates only: without this a stolen key could still issue ones a
    # verifier accepts for e-mail (S/MIME), code signing or client authentication.
    server_only = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    save_ca(
        folder,
        *new_ca(
            "likeness local server CA", now, CA_YEARS, [(constraints, True), (server_only, False)]
        ),
    )


def issue_leaf(ca_key, ca, names: list[str], now: datetime.datetime):
    """A server certificate for ``names`` signed by ``ca``: (key, certificate)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from likeness.provenance.identity import new_leaf

    san = x509.SubjectAlternativeName(subject_names(names))
    return new_leaf(
        ca_key, ca, names[0], ExtendedKeyUsageOID.SERVER_AUTH, now, LEAF_DAYS, [(san, False)]
    )


def server_certificate(
    lib: Library, names: Iterable[str], now: datetime.datetime | None = None
) -> ServerCertificate:
    """The server's certificate for ``names`` (and loopback's), issued now by the server's
    CA (made on first use). ``TLSNameError`` for a name the CA may not vouch for."""
    from cryptography.hazmat.primitives import serialization

    from likeness.provenance.identity import has_ca, load_ca, pem_private_key

    wanted = list(dict.fromkeys([*(n.strip("[]") for n in names if n), "localhost", "127.0.0.1"]))
    wanted = [n for n in wanted if n not in ("0.0.0.0", "::")]
    foreign = [n for n in wanted if not is_local_name(n)]
    if foreign:
        raise TLSNameError(
            f"{', '.join(map(repr, foreign))}: the server's CA vouches only for local names "
            "(localhost, .local, .lan, .home.arpa, .internal; letters, digits and hyphens, "
            "an international name in its xn-- form) and private addresses"
        )
    now = clock.precise_now() if now is None else clock.utc(now)
    folder = _folder(lib)
    if not has_ca(folder):
        _make_ca(folder, now)
    ca_key, ca = load_ca(folder)
    key, cert = issue_leaf(ca_key, ca, wanted, now)
    write_private(folder / "server.key", pem_private_key(key))
    chain = cert.public_bytes(serialization.Encoding.PEM) + (folder / "ca.pem").read_bytes()
    (folder / "server.pem").write_bytes(chain)
    return ServerCertificate(
        folder / "server.pem", folder / "server.key", folder / "ca.pem", tuple(wanted)
    )
