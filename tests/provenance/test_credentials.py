"""C2PA Content Credentials with the official SDK: signed, trusted with our root, tampering
detected, other tools' manifests read, and the local CA shaped as validators require."""

import io
import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from likeness.provenance.credentials import (
    LIKENESS_ASSERTION,
    TRAINED_ALGORITHMIC_MEDIA,
    GenerationRecord,
    read_credentials,
    sign_image,
    verify_credentials,
)
from likeness.provenance.identity import export_trust, signing_identity
from likeness.store import Library

RECORD = GenerationRecord(
    title="generated.png",
    model_name="tiny-sd15",
    model_sha256="ab" * 32,
    grant_ids=("g" * 32,),
    adapter_ids=("a" * 32,),
    parameters_sha256="cd" * 32,
    soft_bindings=(("org.likeness.watermark.1", "0123abcd"),),
)


def _image(fmt: str, seed: int = 0) -> bytes:
    pixels = (np.random.default_rng(seed).random((96, 128, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_signed_image_is_trusted_with_our_root_and_says_what_it_is(lib, fmt, mime):
    signed = sign_image(lib, _image(fmt), mime, RECORD)
    report = read_credentials(signed, mime, [signing_identity(lib).ca_pem])
    assert report.state == "trusted", report.failures
    assert report.made_by_likeness and report.claim_generator == "likeness"
    [action] = report.assertions["c2pa.actions.v2"]["actions"]
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert action["parameters"] == {"model": "tiny-sd15", "model_sha256": "ab" * 32}
    mining = report.assertions["cawg.training-mining"]["entries"]
    assert {v["use"] for v in mining.values()} == {"notAllowed"}
    assert report.assertions["c2pa.soft-binding"]["alg"] == "org.likeness.watermark.1"
    assert report.assertions[LIKENESS_ASSERTION]["grants"] == ["g" * 32]
    assert not any("thumbnail" in label for label in report.assertions)
    assert "Astronaut" not in json.dumps(report.as_json())  # ids and hashes only
    # signing embeds the manifest beside the pixels: they decode exactly as before
    before = np.asarray(Image.open(io.BytesIO(_image(fmt))))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(signed))), before)


def test_size_and_layout_read_back_as_the_signed_integers_with_the_official_sdk(lib):
    import c2pa

    parameters = {
        "seed": 5,
        "size": [512, 768],
        "layout": [[0, 0, 256, 768], [256, 0, 512, 768]],
        "adapters": ["a" * 32],
        "scales": [1.5, 2],  # any other list of numbers: signed as JSON text
    }
    record = replace(RECORD, parameters=parameters)
    signed = sign_image(lib, _image("PNG"), "image/png", record)
    # the SDK's reader turns a signed array of numbers into base64 bytes: read it directly
    manifest = c2pa.Reader("image/png", io.BytesIO(signed)).get_active_manifest()
    [consent] = [a["data"] for a in manifest["assertions"] if a["label"] == LIKENESS_ASSERTION]
    read = consent["parameters"]
    assert read["size"] == {"width": 512, "height": 768}
    assert read["layout"] == [
        {"x0": 0, "y0": 0, "x1": 256, "y1": 768},
        {"x0": 256, "y0": 0, "x1": 512, "y1": 768},
    ]
    assert read["seed"] == 5 and read["adapters"] == ["a" * 32]
    assert json.loads(read["scales"]) == [1.5, 2]
    assert parameters["size"] == [512, 768]  # the caller's record is left as it was
    report = read_credentials(signed, "image/png", [signing_identity(lib).ca_pem])
    assert report.assertions[LIKENESS_ASSERTION]["parameters"] == read


def test_without_our_root_the_manifest_is_valid_but_not_trusted(lib):
    signed = sign_image(lib, _image("PNG"), "image/png", RECORD)
    assert read_credentials(signed, "image/png").state == "valid"


def test_pixels_changed_after_signing_are_reported_as_tampered(lib, tmp_path):
    signed = sign_image(lib, _image("PNG"), "image/png", RECORD)
    raw = bytearray(signed)
    raw[signed.find(b"IDAT") + 60] ^= 0xFF
    path = tmp_path / "tampered.png"
    path.write_bytes(bytes(raw))
    report = verify_credentials(lib, path)
    assert report.state == "invalid"
    assert "assertion.dataHash.mismatch" in {f["code"] for f in report.failures}


def test_a_file_without_credentials_says_so(lib, tmp_path):
    path = tmp_path / "plain.png"
    path.write_bytes(_image("PNG"))
    assert verify_credentials(lib, path).state == "none"


def test_another_installs_manifest_is_read_and_not_trusted_here(lib, tmp_path):
    with Library.open(tmp_path / "elsewhere") as other:
        signed = sign_image(other, _image("PNG"), "image/png", RECORD)
    path = tmp_path / "elsewhere.png"
    path.write_bytes(signed)
    report = verify_credentials(lib, path)
    assert report.state == "valid" and report.made_by_likeness


def test_the_local_ca_and_signer_are_shaped_as_c2pa_requires(lib, tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    identity = signing_identity(lib)
    leaf, ca = x509.load_pem_x509_certificates(identity.chain_pem)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.issuer == ca.subject and leaf.subject != ca.subject  # not self-signed
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert signing_identity(lib) == identity  # made once, then reused
    out = export_trust(lib, tmp_path / "root.pem")
    assert out.read_bytes() == identity.ca_pem and b"PRIVATE" not in out.read_bytes()


def test_provenance_cli_verifies_and_exports_the_root(tmp_path):
    from likeness.testing.cli import likeness

    home = tmp_path / "home"
    assert likeness(home, "init").returncode == 0
    with Library.open(home) as lib:
        signed = sign_image(lib, _image("PNG"), "image/png", RECORD)
    good = tmp_path / "good.png"
    good.write_bytes(signed)
    done = likeness(home, "provenance", "verify", str(good), "--json")
    assert done.returncode == 0
    credentials = json.loads(done.stdout)["credentials"]
    assert credentials["state"] == "trusted"
    assert credentials["manifest_label"].startswith("urn:c2pa:")
    assert credentials["soft_bindings"] == [
        {"alg": "org.likeness.watermark.1", "value": "0123abcd"}
    ]
    raw = bytearray(signed)
    raw[signed.find(b"IDAT") + 60] ^= 0xFF
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(raw))
    tampered = likeness(home, "provenance", "verify", str(bad))
    assert tampered.returncode == 1 and "assertion.dataHash.mismatch" in tampered.stdout
    plain = tmp_path / "plain.png"
    plain.write_bytes(_image("PNG"))
    nothing = likeness(home, "provenance", "verify", str(plain))
    assert nothing.returncode == 0 and "no embedded Content Credentials" in nothing.stdout
    assert "no watermark, fingerprint or corners of this library either" in nothing.stdout
    wrong = likeness(home, "provenance", "verify", str(tmp_path / "notes.txt"))
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    root = tmp_path / "root.pem"
    assert likeness(home, "provenance", "export-trust", "--out", str(root)).returncode == 0
    assert root.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_only_a_trusted_manifest_is_said_to_be_made_by_likeness(tmp_path):
    """Another library (or any tool) can sign a manifest with likeness's assertion in it:
    it verifies as valid, and verify says it only *claims* to be likeness's."""
    from likeness.testing.cli import likeness

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for home in (ours, theirs):
        assert likeness(home, "init").returncode == 0
    with Library.open(theirs) as lib:
        signed = sign_image(lib, _image("PNG"), "image/png", RECORD)
    path = tmp_path / "theirs.png"
    path.write_bytes(signed)
    here = likeness(ours, "provenance", "verify", str(path))
    assert "valid" in here.stdout and "(claims to be made by likeness)" in here.stdout
    there = likeness(theirs, "provenance", "verify", str(path))
    assert "(made by likeness)" in there.stdout and "claims" not in there.stdout
