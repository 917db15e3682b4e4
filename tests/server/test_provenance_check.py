"""Checking an image from the web app (``POST /api/provenance/check``): a cropped copy of an
output is traced to it; the route is the owner's, takes only images, holds nothing back to
disk and names no file of the server's; what can hurt a decoder is refused."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from likeness.provenance.credentials import GenerationRecord
from likeness.provenance.stamp import stamp_image
from likeness.server.provenance import CHECK_BODY_BYTES, shown_name
from likeness.testing.photos import scenery
from likeness.testing.server import signed_in

RECORD = GenerationRecord("out.png", "tiny-sd15", "ab" * 32)
CHECK = "/api/provenance/check"


@pytest.fixture
def served(world):
    """The shared two-people world's client and library (``conftest.world``)."""
    client, lib, _, _ = world
    return client, lib


def jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def claimed_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` pixels, with one row of data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * 16))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_a_cropped_copy_of_an_output_is_traced_and_nothing_is_kept(served):
    client, lib = served
    picture = np.asarray(scenery(9, (512, 384)))
    noise = np.random.default_rng(3).integers(0, 60, picture.shape, dtype=np.uint8)
    stamped = stamp_image(lib, picture // 2 + noise, "png", RECORD)
    original = np.asarray(Image.open(io.BytesIO(stamped.data)).convert("RGB"))
    headers = signed_in(client) | {"File-Name": "found%20online%20%C3%A9t%C3%A9.jpg"}
    answer = client.post(CHECK, content=jpeg(original[40:, 60:]), headers=headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["file"] == "found online été.jpg"
    assert report["keypoints"]["id"] == f"{stamped.watermark_id:08x}"
    assert report["keypoints"]["copy"].startswith("cropped to")
    assert report["stored_manifest"]["assertions"]
    assert str(lib.home) not in answer.text and "check-" not in answer.text
    assert not list(lib.vault.glob("check-*"))  # the upload's temporary file is gone
    # The original, whole and signed: its own Content Credentials.
    answer = client.post(CHECK, content=stamped.data, headers=headers)
    assert answer.json()["credentials"]["state"] == "trusted"


def test_an_image_not_from_this_library_finds_nothing(served):
    client, _ = served
    answer = client.post(CHECK, content=jpeg(np.asarray(scenery(4))), headers=signed_in(client))
    assert answer.status_code == 200
    assert answer.json()["found"] is False and answer.json()["file"] == "the image"


def test_only_the_signed_in_owner_with_the_csrf_token_may_check(served):
    client, _ = served
    body = jpeg(np.asarray(scenery(4)))
    assert client.post(CHECK, content=body).status_code == 401
    assert (
        client.post(CHECK, content=body, headers={"Authorization": "Bearer x"}).status_code == 401
    )
    signed_in(client)
    assert client.post(CHECK, content=body).status_code == 403  # no CSRF token


def test_what_is_no_image_or_too_large_is_refused_without_naming_server_files(served):
    client, lib = served
    headers = signed_in(client)
    text = client.post(CHECK, content=b"<svg onload=alert(1)>", headers=headers)
    assert text.status_code == 400
    assert text.json()["detail"] == "the image: not a PNG, JPEG or WebP image"
    # A PNG header claiming 100,000 x 100,000 pixels: refused before any is allocated.
    bomb = client.post(CHECK, content=claimed_png(100_000, 100_000), headers=headers)
    assert bomb.status_code == 400 and "too many pixels" in bomb.json()["detail"]
    assert str(lib.home) not in bomb.text and "image.png" not in bomb.text
    # A broken JPEG is an answer, as for `provenance verify`: unreadable credentials.
    broken = client.post(CHECK, content=b"\xff\xd8\xff" + b"\x00" * 100, headers=headers)
    assert broken.json()["credentials"]["failures"][0]["code"] == "unreadable"
    assert str(lib.home) not in broken.text
    huge = client.post(CHECK, content=b"\xff\xd8\xff" + b"\x00" * CHECK_BODY_BYTES, headers=headers)
    assert huge.status_code == 413
    assert not list(lib.vault.glob("check-*"))


def png_with_chunk(kind: bytes, body: bytes) -> bytes:
    """A 16x16 PNG with one more chunk after its header."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    data = buf.getvalue()
    extra = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return data[:33] + extra + data[33:]


@pytest.mark.parametrize(
    "data",
    [
        png_with_chunk(b"tRNS", b"\x00" * 5),  # Pillow: ValueError, once a 500
        png_with_chunk(b"pHYs", b"\x00"),
        png_with_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"A" * 2_000_000, 9)),
    ],
    ids=["short tRNS", "short pHYs", "huge zTXt"],
)
def test_a_malformed_image_is_refused_not_a_server_error(served, data):
    client, lib = served
    answer = client.post(CHECK, content=data, headers=signed_in(client))
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith("the image: cannot decode the image")
    assert str(lib.home) not in answer.text


def test_only_the_decoder_of_the_files_kind_reads_it(served, monkeypatch):
    """Bytes that begin like a PNG but read as a Kodak Photo CD to another of Pillow's
    decoders (one with a history of memory bugs) never reach that decoder."""
    from PIL import PcdImagePlugin

    opened = []
    original = PcdImagePlugin.PcdImageFile._open
    monkeypatch.setattr(
        PcdImagePlugin.PcdImageFile, "_open", lambda self: opened.append(1) or original(self)
    )
    client, _ = served
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2040 + b"PCD_IPI" + b"\x00" * 0x60000
    answer = client.post(CHECK, content=data, headers=signed_in(client))
    assert answer.status_code in (200, 400)  # unreadable credentials, or undecodable
    assert opened == []


@pytest.mark.parametrize("size", [(512, 1), (5000, 1), (1, 2000), (7, 5000)])
def test_a_picture_too_thin_for_corners_is_checked(served, size):
    client, _ = served
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, "PNG")
    answer = client.post(CHECK, content=buf.getvalue(), headers=signed_in(client))
    assert answer.status_code == 200, answer.text
    assert answer.json()["found"] is False


def test_one_image_is_checked_at_a_time_and_a_killed_checks_upload_is_removed(served):
    import os
    import time

    from likeness.server import provenance

    client, lib = served
    headers = signed_in(client)
    body = jpeg(np.asarray(scenery(4)))
    assert provenance._checking.acquire(blocking=False)  # another check is running
    try:
        busy = client.post(CHECK, content=body, headers=headers)
    finally:
        provenance._checking.release()
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "2"
    left = lib.vault / "check-left-by-a-killed-process"
    left.mkdir()
    (left / "image.jpg").write_bytes(body)
    recent = lib.vault / "check-another-running-now"
    recent.mkdir()
    an_hour_ago = time.time() - 3700
    os.utime(left, (an_hour_ago, an_hour_ago))
    assert client.post(CHECK, content=body, headers=headers).status_code == 200
    assert not left.exists() and recent.exists()


def test_a_file_name_is_shown_as_printable_text_only():
    assert shown_name("a%0Ab%1B[31m%E2%80%AEc.png") == "ab[31mc.png"
    assert shown_name("%") == "%" and shown_name(None) == "the image"
    assert len(shown_name("x" * 5000)) == 120
    assert len(shown_name("%E6%96%87" * 1000)) == 120  # a long name is cut, not refused
