"""The library's C2PA signing identity: a local CA and a signing certificate under it.

C2PA validators refuse a self-signed signing certificate, and want the signer's certificate to
carry the emailProtection extended key usage and an Authority Key Identifier. So ``init`` makes
a CA (EC P-256, 10 years) that only signs certificates, and a leaf (2 years, re-issued by the CA
when it nears expiry) that signs manifests. The CA certificate is the root others add to their
readers' trust anchors (``likeness provenance export-trust``). Keys lie under
``LIKENESS_HOME/keys/c2pa`` (0600), beside the library's other keys.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from likeness import clock
from likeness.store import Library
from likeness.store.keys import write_private

CA_YEARS = 10
LEAF_DAYS = 730
RENEW_DAYS = 30


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # the signing certificate, then the CA's
    key_pem: bytes  # the signing certificate's private key (PKCS#8)
    ca_pem: bytes  # the root to trust


def _folder(lib: Library) -> Path:
    folder = lib.keys.dir / "c2pa"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def cert_name(common: str):
    from cryptography.x509 import Name, NameAttribute
    from cryptography.x509.oid import NameOID

    return Name(
        [
            NameAttribute(NameOID.COMMON_NAME, common),
            NameAttribute(NameOID.ORGANIZATION_NAME, "likeness"),
        ]
    )


def key_usage(sign_certs: bool):
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not sign_certs,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


#: A host name as a certificate names it: ASCII letters, digits and hyphens in dot-separated
#: labels (an international name in its xn-- form); no wildcard, no other character.
HOST_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


def parse_host(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str | None:
    """``name`` as a certificate names it: an IP address (bracketed or not), else a
    well-formed host name (``HOST_NAME``) in lower case without its trailing dot, else None."""
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        host = name.lower().rstrip(".")
        return host if HOST_NAME.match(host) else None


def subject_names(names: Iterable[str]) -> list:
    """A certificate's subject alternative names for ``names``: an IP address (bracketed or
    not) as an address, anything else as a DNS name, lower case."""
    from cryptography import x509

    out: list = []
    for name in names:
        parsed = parse_host(name)
        if isinstance(parsed, ipaddress.IPv4Address | ipaddress.IPv6Address):
            out.append(x509.IPAddress(parsed))
        else:
            out.append(x509.DNSName(name.lower().rstrip(".")))
    return out


def pem_private_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_ca(common: str, now: datetime.datetime, years: int, extensions=()):
    """A self-signed CA (EC P-256) that only signs certificates, with ``extensions``
    (``(extension, critical)`` pairs) added: (key, certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = cert_name(common)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(sign_certs=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return key, builder.sign(key, hashes.SHA256())


def new_leaf(ca_key, ca, common: str, usage, now: datetime.datetime, days: int, extensions=()):
    """A certificate (EC P-256) for extended key ``usage`` (one, or a list) signed by
    ``ca``, valid ``days`` (never past the CA), with an Authority Key Identifier and
    ``extensions``: (key, certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert_name(common))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=days), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(sign_certs=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(usage if isinstance(usage, list) else [usage]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return key, builder.sign(ca_key, hashes.SHA256())


def has_ca(folder: Path) -> bool:
    """Whether ``folder`` keeps a CA: its key and its certificate (``save_ca``)."""
    return (folder / "ca.pem").exists() and (folder / "ca.key").exists()


def save_ca(folder: Path, key, cert) -> None:
    """Keep a CA in ``folder``: ``ca.key`` (0600) and ``ca.pem``, the root to trust."""
    from cryptography.hazmat.primitives import serialization

    write_private(folder / "ca.key", pem_private_key(key))
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def load_ca(folder: Path):
    """The CA kept in ``folder``: (key, certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    return key, x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())


def _make_leaf(folder: Path, now: datetime.datetime) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_key, ca = load_ca(folder)
    key, cert = new_leaf(
        ca_key, ca, "likeness content signer", ExtendedKeyUsageOID.EMAIL_PROTECTION, now, LEAF_DAYS
    )
    write_private(folder / "signer.key", pem_private_key(key))
    (folder / "signer.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def signing_identity(lib: Library, now: datetime.datetime | None = None) -> SigningIdentity:
    """The library's signing identity, made on first use (``init`` makes it) and the signing
    certificate re-issued by the CA when it is within 30 days of expiring."""
    from cryptography import x509

    now = clock.precise_now() if now is None else clock.utc(now)
    folder = _folder(lib)
    if not has_ca(folder):
        save_ca(folder, *new_ca("likeness local signing CA", now, CA_YEARS))
        (folder / "signer.pem").unlink(missing_ok=True)
    leaf_path = folder / "signer.pem"
    if leaf_path.exists():
        leaf = x509.load_pem_x509_certificate(leaf_path.read_bytes())
        if leaf.not_valid_after_utc - now < datetime.timedelta(days=RENEW_DAYS):
            leaf_path.unlink()
    if not leaf_path.exists() or not (folder / "signer.key").exists():
        _make_leaf(folder, now)
    ca_pem = (folder / "ca.pem").read_bytes()
    return SigningIdentity(
        chain_pem=leaf_path.read_bytes() + ca_pem,
        key_pem=(folder / "signer.key").read_bytes(),
        ca_pem=ca_pem,
    )


def export_trust(lib: Library, out: Path) -> Path:
    """Write the CA certificate (PEM) that other people's C2PA readers can trust."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(signing_identity(lib).ca_pem)
    return out
