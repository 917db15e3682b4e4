"""Stamped outputs: watermark, fingerprint, signature and the local store, and finding the
manifest again after the embedded one was stripped. Real photos from faces-dev."""

import io

import numpy as np
import pytest
from PIL import Image

from likeness.provenance import fingerprint, watermark
from likeness.provenance.credentials import GenerationRecord, ProvenanceError
from likeness.provenance.stamp import (
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    find_provenance,
    stamp_image,
)
from likeness.testing.photos import scenery

RECORD = GenerationRecord("out.png", "tiny-sd15", "ab" * 32, ("g" * 32,), ("a" * 32,))


def photo_512(path) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return np.asarray(im.crop(box).resize((512, 512), Image.Resampling.LANCZOS))


def reencode(pixels: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photos(faces_dev):
    return [photo_512(p) for p in sorted(faces_dev.glob("people/*/1.*"))[:6]]


def test_watermark_survives_jpeg_and_resizing_and_is_not_seen_where_absent(photos):
    for i, pixels in enumerate(photos):
        mark = 0x9E3779B9 ^ i
        marked = watermark.embed(pixels, mark)
        psnr = 10 * np.log10(255**2 / np.mean((marked.astype(float) - pixels) ** 2))
        assert psnr > 40  # invisible to the eye
        for quality in (90, 75, 50):
            jpeg = np.asarray(Image.open(io.BytesIO(reencode(marked, quality))))
            assert watermark.read(jpeg).id == mark, quality
        small = np.asarray(Image.fromarray(marked).resize((256, 256), Image.Resampling.BICUBIC))
        assert watermark.read(small) is None  # a resize not undone: read at the output's size
        assert watermark.read(small, [(384, 384), (512, 512)]).id == mark
        assert watermark.read(pixels) is None
    assert watermark.read(np.asarray(scenery(2, (512, 512)))) is None
    with pytest.raises(ValueError, match="32-bit"):
        watermark.embed(photos[0], 2**32)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_a_stripped_copy_is_traced_to_its_manifest(lib, photos, tmp_path, fmt):
    stamped = stamp_image(lib, photos[0], fmt, RECORD)
    original = tmp_path / f"out.{fmt}"
    original.write_bytes(stamped.data)
    report = find_provenance(lib, original)
    assert report.credentials.state == "trusted", report.credentials.failures
    assert report.watermark_id == stamped.watermark_id == report.fingerprint_match

    decoded = np.asarray(Image.open(io.BytesIO(stamped.data)).convert("RGB"))
    copy = tmp_path / "reposted.jpg"  # re-encoded: the embedded manifest is gone
    copy.write_bytes(reencode(decoded, 75))
    report = find_provenance(lib, copy)
    assert report.credentials.state == "none"
    assert report.watermark_id == stamped.watermark_id
    assert report.fingerprint_match == stamped.watermark_id and report.keys_agree
    labels = {a["label"] for a in report.stored_manifest["assertions"]}
    assert {"c2pa.actions.v2", "org.likeness.consent", "c2pa.soft-binding"} <= labels


@pytest.mark.parametrize(
    ("edit", "copy_was"),
    [
        (np.fliplr, "mirrored left to right"),
        (np.flipud, "flipped upside down"),
        (np.rot90, "turned a quarter to the left"),
        (lambda px: np.rot90(px, 3), "turned a quarter to the right"),
    ],
)
def test_a_mirrored_or_turned_copy_is_traced_to_its_manifest(lib, photos, tmp_path, edit, copy_was):
    """The watermark does not survive a mirror image; the fingerprint's dihedral variants
    find the manifest, and say how the copy was turned or flipped."""
    stamped = stamp_image(lib, photos[1], "png", RECORD)
    decoded = np.asarray(Image.open(io.BytesIO(stamped.data)).convert("RGB"))
    copy = tmp_path / "flipped.jpg"
    copy.write_bytes(reencode(np.ascontiguousarray(edit(decoded)), 85))
    report = find_provenance(lib, copy)
    assert report.fingerprint_match == stamped.watermark_id, report.as_json()
    assert report.fingerprint_copy == copy_was
    assert report.as_json()["fingerprint"]["copy"] == copy_was
    # An unrelated photo mirrored finds nothing either.
    other = tmp_path / "other-flipped.jpg"
    other.write_bytes(reencode(np.ascontiguousarray(np.fliplr(photos[2])), 85))
    assert find_provenance(lib, other).fingerprint_match is None


def test_verify_names_the_manifest_and_lists_both_soft_bindings(lib, tmp_path):
    import c2pa

    stamped = stamp_image(lib, np.asarray(scenery(3, (256, 256))), "png", RECORD)
    path = tmp_path / "out.png"
    path.write_bytes(stamped.data)
    report = find_provenance(lib, path).as_json()
    credentials = report["credentials"]
    assert credentials["state"] == "trusted", credentials["failures"]
    reader = c2pa.Reader("image/png", io.BytesIO(stamped.data))
    assert credentials["manifest_label"] == reader.get_active_manifest()["label"]
    assert credentials["manifest_label"].startswith("urn:c2pa:")
    assert credentials["soft_bindings"] == [
        {"alg": WATERMARK_ALG, "value": f"{stamped.watermark_id:08x}"},
        {"alg": FINGERPRINT_ALG, "value": stamped.pdq.hex()},
    ]
    # each assertion under its C2PA label: a repeated one gets its instance suffix
    assertions = credentials["assertions"]
    assert assertions["c2pa.soft-binding"]["alg"] == WATERMARK_ALG
    assert assertions["c2pa.soft-binding__1"]["alg"] == FINGERPRINT_ALG
    assert report["watermark"]["id"] == f"{stamped.watermark_id:08x}"


def test_unrelated_photos_find_nothing(lib, photos, tmp_path):
    stamp_image(lib, photos[0], "png", RECORD)
    for i, pixels in enumerate(photos[1:]):
        path = tmp_path / f"other-{i}.jpg"
        path.write_bytes(reencode(pixels, 90))
        report = find_provenance(lib, path)
        assert not report.found, report.as_json()
        assert fingerprint.distance(fingerprint.pdq(pixels)[0], fingerprint.pdq(photos[0])[0]) > 60


def test_unsupported_files_are_clear_errors(lib, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ProvenanceError, match="not a PNG, JPEG or WebP"):
        find_provenance(lib, text)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    report = find_provenance(lib, broken)  # broken is an answer: invalid, with the reason
    assert report.credentials.state == "invalid"
    assert report.credentials.failures[0]["code"] == "unreadable"


def test_a_file_claiming_too_many_pixels_is_a_clear_error(lib, tmp_path):
    """A few hundred bytes of PNG can claim 10 gigapixels: refused before decoding."""
    from tests.server.test_provenance_check import claimed_png

    for width, height in ((100_000, 100_000), (10_000, 8_000)):
        bomb = tmp_path / "bomb.png"
        bomb.write_bytes(claimed_png(width, height))
        with pytest.raises(ProvenanceError, match="too many pixels"):
            find_provenance(lib, bomb)


def _store_synthetic(lib, hashes: list[bytes]) -> None:
    """Outputs with these fingerprints in the store (the rest of each record a placeholder)."""
    from likeness import clock
    from likeness.provenance.stamp import index_fingerprint
    from likeness.provenance.tables import ProvenanceRecord
    from likeness.testing.provenance import placeholder_record

    with lib.session() as s:
        for i, pdq in enumerate(hashes):
            s.add(ProvenanceRecord(**placeholder_record(i + 1, pdq, clock.now())))
            index_fingerprint(s, i + 1, pdq)


def test_the_chunk_index_finds_exactly_what_reading_every_hash_finds(lib):
    """Queries 0 to 40 bits from stored hashes, and unrelated ones: the index's answer is the
    linear scan's, at every distance (within 31 bits found, beyond not)."""
    from likeness.provenance.stamp import nearest_stored

    rng = np.random.default_rng(4)
    hashes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(400)]
    _store_synthetic(lib, hashes)
    stored = list(enumerate(hashes, start=1))
    with lib.session() as s:
        for trial in range(120):
            base = np.frombuffer(hashes[trial], np.uint8)
            bits = np.unpackbits(base)
            flipped = rng.choice(256, size=trial % 41, replace=False)
            bits[flipped] ^= 1
            query = np.packbits(bits).tobytes()
            found = nearest_stored(s, [query])
            assert found == fingerprint.nearest([query], stored)
            assert (found is not None) == (trial % 41 <= fingerprint.MATCH_BITS)
        unrelated = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
        assert nearest_stored(s, [unrelated]) is None
