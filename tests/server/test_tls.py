"""HTTPS for phones: the server's name-constrained CA, its certificate, ``serve --tls``.

Real TLS throughout: uvicorn serves the certificate, httpx (OpenSSL) verifies it against the
CA alone, and a certificate the CA's key signs for a public name is refused by OpenSSL's
own name-constraint check."""

from __future__ import annotations

import datetime
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from likeness.server import create_app
from likeness.server.tls import TLSNameError, is_local_name, issue_leaf, server_certificate
from likeness.store import Library
from likeness.testing.server import free_port, serve_command, served_on_loopback


def _trusting(ca_path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_path))


def test_local_names_only():
    for name in (
        "localhost",
        "photos.local",
        "nas.lan",
        "photos.home.arpa",
        "192.168.1.20",
        "10.0.0.7",
        "127.0.0.1",
        "::1",
        "[fd00::5]",
        "box.internal",
        "xn--bcher-kva.lan",
    ):
        assert is_local_name(name), name
    for name in (
        "example.com",
        "bank.example",
        "8.8.8.8",
        "2001:db8::1",
        "local.example.com",
        "evillocal",
        "lan.evil.com",
        "*.lan",
        "evil.com\x00.lan",
        "evil.com/.lan",
        "bücher.lan",
    ):
        assert not is_local_name(name), name


def test_the_certificate_is_trusted_through_the_ca_alone_and_names_what_was_asked(tmp_path):
    lib = Library.open(tmp_path / "home")
    certificate = server_certificate(lib, ["photos.home.arpa", "192.168.1.20"])
    assert set(certificate.names) == {"photos.home.arpa", "192.168.1.20", "localhost", "127.0.0.1"}
    assert oct(certificate.key_path.stat().st_mode & 0o777) == "0o600"
    leaf = x509.load_pem_x509_certificate(certificate.cert_path.read_bytes())
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usage
    with served_on_loopback(
        create_app(lib, secure_cookies=True, tls=certificate), certificate
    ) as url:
        assert url.startswith("https://")
        with httpx.Client(verify=_trusting(certificate.ca_path)) as client:
            assert client.get(f"{url}/health").json() == {"status": "ok"}
            # What a phone installs: the CA, served without sign-in.
            ca = client.get(f"{url}/tls/ca.pem")
            assert ca.status_code == 200 and ca.content == certificate.ca_path.read_bytes()
            # Passkeys are offered over HTTPS, at a name.
            named = url.replace("127.0.0.1", "localhost")
            assert client.post(f"{named}/api/me/sign-in/options").status_code == 200
        # Without the CA, the certificate is not trusted.
        with pytest.raises(httpx.ConnectError), httpx.Client() as client:
            client.get(f"{url}/health")
    # The CA stays, the leaf is issued again for new names.
    again = server_certificate(lib, ["nas.lan"])
    assert again.ca_path.read_bytes() == certificate.ca_path.read_bytes()
    assert "nas.lan" in again.names and "photos.home.arpa" not in again.names
    lib.close()


def test_the_ca_cannot_vouch_for_a_public_name_even_with_its_own_key(tmp_path):
    lib = Library.open(tmp_path / "home")
    with pytest.raises(TLSNameError, match=r"example\.com"):
        server_certificate(lib, ["photos.lan", "example.com"])
    certificate = server_certificate(lib, ["photos.lan"])
    # A thief of the CA key signs a certificate for a bank: the name constraint refuses it.
    folder = certificate.ca_path.parent
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate(certificate.ca_path.read_bytes())
    # Nor for e-mail, code or clients: the CA's extended key usage is server auth alone.
    usage = ca.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    key, forged = issue_leaf(
        ca_key, ca, ["localhost", "bank.example"], datetime.datetime.now(datetime.UTC)
    )
    forged_dir = tmp_path / "forged"
    forged_dir.mkdir()
    (forged_dir / "server.pem").write_bytes(
        forged.public_bytes(serialization.Encoding.PEM) + certificate.ca_path.read_bytes()
    )
    (forged_dir / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    from dataclasses import replace

    bad = replace(
        certificate,
        cert_path=forged_dir / "server.pem",
        key_path=forged_dir / "server.key",
    )
    with (
        served_on_loopback(create_app(lib), bad) as url,
        pytest.raises(httpx.ConnectError, match=r"(?i)constraint|permitted"),
    ):
        httpx.get(
            url.replace("127.0.0.1", "localhost") + "/health",
            verify=_trusting(certificate.ca_path),
        )
    lib.close()


def test_serve_tls_serves_https_on_loopback(prepared, tmp_path):
    from likeness.testing.libraries import copy_home

    home, _, _ = prepared
    copy_home(home, tmp_path / "home").close()
    port = free_port()
    args = ["--tls", "--port", str(port), "--home", str(tmp_path / "home"), "--passphrase-stdin"]
    url = f"https://127.0.0.1:{port}"
    ca_path = tmp_path / "home" / "keys" / "tls" / "ca.pem"
    passphrase = b"a service passphrase\n"
    with serve_command(args, url, passphrase, verify=lambda: _trusting(ca_path)) as server:
        signed = httpx.post(
            f"{url}/api/sign-in",
            json={"passphrase": "a service passphrase"},
            verify=_trusting(ca_path),
        )
        assert signed.status_code == 200
        # The session cookie is Secure over HTTPS.
        assert "secure" in signed.headers["set-cookie"].lower()
    output = server.stdout.read().decode()
    assert f"https://127.0.0.1:{port}" in output and "/tls/ca.pem" in output, output


def test_serve_tls_refuses_a_public_host(tmp_path):
    from typer.testing import CliRunner

    from likeness.cli import app

    result = CliRunner().invoke(
        app,
        ["serve", "--tls", "--host", "8.8.8.8", "--allow-remote", "--home", str(tmp_path)],
    )
    assert result.exit_code == 1 and "not a local name" in result.output
