"""Copies that PDQ loses (crops, small turns, a frame around the picture) found again by
their corners: a real tiny-sd15 output, stamped, edited and verified through the same call
``likeness provenance verify`` makes, and the search index kept in step with the catalog."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete

from likeness.provenance import keypoint_index, keypoints
from likeness.provenance.credentials import GenerationRecord
from likeness.provenance.keypoint_index import KeypointIndex
from likeness.provenance.stamp import find_provenance, stamp_image
from likeness.provenance.tables import ProvenanceRecord
from likeness.testing.photos import scenery

RECORD = GenerationRecord("out.png", "tiny-sd15", "ab" * 32, ("g" * 32,), ("a" * 32,))


@pytest.fixture(scope="module")
def outputs() -> list[np.ndarray]:
    """Two images from the built-in tiny-sd15 (random weights: coloured noise, 128 px)."""
    from likeness.models.tiny import tiny_pipeline
    from likeness.testing.models import sample

    pipe = tiny_pipeline("tiny-sd15")
    return [(sample(pipe, seed=seed, steps=3) * 255).round().astype(np.uint8) for seed in (1, 2)]


def jpeg(pixels: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def turned(pixels: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).rotate(degrees, Image.Resampling.BICUBIC))


def framed(pixels: np.ndarray) -> np.ndarray:
    """The picture in a screenshot: scaled up in a larger grey window under a dark bar."""
    h, w = pixels.shape[:2]
    big = np.asarray(Image.fromarray(pixels).resize((w * 3, h * 3), Image.Resampling.BICUBIC))
    window = np.full((h * 3 + 160, w * 3 + 240, 3), 236, np.uint8)
    window[:48] = 30
    window[100 : 100 + h * 3, 120 : 120 + w * 3] = big
    return window


def social_post(pixels: np.ndarray) -> np.ndarray:
    """Cut to 4:5 from the top, scaled down and recompressed at JPEG 70."""
    h, w = pixels.shape[:2]
    cut = pixels[:h, w // 10 : w - w // 10]
    small = Image.fromarray(np.ascontiguousarray(cut)).resize((96, int(96 * h / (w * 0.8))))
    return np.asarray(Image.open(io.BytesIO(jpeg(np.asarray(small), 70))))


EDITS = {
    "20% cut off one side": (lambda px: px[:, : px.shape[1] * 4 // 5], "cropped to 80% of it"),
    "20% cut around": (
        lambda px: px[12:-12, 12:-12],
        "cropped to",
    ),
    "mirrored and turned 3 degrees": (
        lambda px: turned(np.ascontiguousarray(px[:, ::-1]), 3),
        "mirrored, turned 3° to the left",
    ),
    "turned 3 degrees": (lambda px: turned(px, 3), "turned 3° to the left"),
    "turned 5 degrees the other way and cropped": (
        lambda px: turned(px, -5)[10:-10, 10:-10],
        "turned 5° to the right, cropped to",
    ),
    "a social post": (social_post, "cropped to 80% of it"),
    "a screenshot": (framed, "as it is"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_copy_is_traced_to_its_manifest_by_its_corners(lib, outputs, tmp_path, edit):
    make, words = EDITS[edit]
    stamped = stamp_image(lib, outputs[0], "png", RECORD)
    stamp_image(lib, outputs[1], "png", RECORD)  # another output in the store
    original = np.asarray(Image.open(io.BytesIO(stamped.data)).convert("RGB"))
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(jpeg(make(original)))
    report = find_provenance(lib, copy)
    assert report.keypoints_match == stamped.watermark_id, report.as_json()
    assert report.fingerprint_match is None and report.watermark_id is None  # PDQ lost it
    assert report.keypoints_inliers >= keypoints.MIN_INLIERS
    assert report.keypoints_copy.startswith(words), report.keypoints_copy
    assert report.stored_manifest["assertions"]
    found = report.as_json()["keypoints"]
    assert found == {
        "id": f"{stamped.watermark_id:08x}",
        "inliers": report.keypoints_inliers,
        "copy": report.keypoints_copy,
    }


def test_unrelated_images_match_no_corners(lib, outputs, tmp_path):
    from skimage import data

    stamp_image(lib, outputs[0], "png", RECORD)
    others = [outputs[1], np.asarray(scenery(5, (512, 384)))]
    others += [data.astronaut(), data.coffee(), data.chelsea(), np.asarray(data.camera())]
    for i, pixels in enumerate(others):
        for variant in (pixels, np.ascontiguousarray(pixels[:, ::-1])):
            path = tmp_path / f"other-{i}.jpg"
            path.write_bytes(jpeg(np.asarray(Image.fromarray(variant).convert("RGB"))))
            report = find_provenance(lib, path)
            assert not report.found, report.as_json()


def test_the_index_is_a_cache_of_the_catalog(lib, outputs, tmp_path, monkeypatch):
    """Saved once it falls behind, loaded by the next process, rebuilt when the catalog is not
    the one it was built from; an output deleted from the catalog is no longer a match."""
    monkeypatch.setattr(keypoint_index, "SAVE_AFTER", 2)
    first = stamp_image(lib, outputs[0], "png", RECORD)
    copy = tmp_path / "copy.jpg"
    original = np.asarray(Image.open(io.BytesIO(first.data)).convert("RGB"))
    copy.write_bytes(jpeg(original[:, :100]))
    assert find_provenance(lib, copy).keypoints_match == first.watermark_id
    saved = lib.vault / keypoint_index.FILE
    assert not saved.exists()  # one output behind: not worth a save yet
    second = stamp_image(lib, outputs[1], "png", RECORD)
    assert find_provenance(lib, copy).keypoints_match == first.watermark_id
    state = json.loads(saved.with_suffix(".json").read_text())
    assert state["last"] == second.watermark_id

    loaded = KeypointIndex(lib)  # what another process opens
    assert loaded.index.ntotal == 2 * keypoints.INDEXED and loaded.last == second.watermark_id
    saved.with_suffix(".json").write_text(json.dumps({**state, "last": 12345}))
    assert KeypointIndex(lib).index.ntotal == 0  # not this catalog's: rebuilt from it
    for forged in ({"seq": 99999, "last": None}, {"seq": "abc"}, {"seq": 1.5}, {"seq": 0}):
        saved.with_suffix(".json").write_text(json.dumps({**state, **forged}))
        assert KeypointIndex(lib).index.ntotal == 0  # not believed: rebuilt
    saved.with_suffix(".json").write_text(json.dumps(state))
    import faiss

    faiss.write_index_binary(faiss.IndexBinaryFlat(256), str(saved))  # an index of another kind
    assert KeypointIndex(lib).index.ntotal == 0
    saved.write_bytes(b"damaged")
    rebuilt = KeypointIndex(lib)
    assert rebuilt.index.ntotal == 0  # unreadable: rebuilt from the catalog as well
    rebuilt.refresh()
    assert rebuilt.index.ntotal == 2 * keypoints.INDEXED

    with lib.session() as s:
        gone = ProvenanceRecord.watermark_id == first.watermark_id
        s.execute(delete(ProvenanceRecord).where(gone))
    assert not find_provenance(lib, copy).found


def test_verify_says_what_was_done_to_a_cropped_copy(outputs, tmp_path):
    from likeness.store import Library
    from likeness.testing.cli import likeness

    home = tmp_path / "home"
    with Library.open(home) as lib:
        stamped = stamp_image(lib, outputs[0], "png", RECORD)
    original = np.asarray(Image.open(io.BytesIO(stamped.data)).convert("RGB"))
    copy = tmp_path / "cropped.jpg"
    copy.write_bytes(jpeg(turned(original, -4)[:, 20:]))
    done = likeness(home, "provenance", "verify", str(copy))
    assert done.returncode == 0, done.stderr
    assert f"its corners match manifest {stamped.watermark_id:08x}" in done.stdout
    assert "turned 4° to the right, cropped to" in done.stdout
    assert "the stored manifest says this image was made by likeness" in done.stdout
    as_json = json.loads(likeness(home, "provenance", "verify", str(copy), "--json").stdout)
    assert as_json["found"] and as_json["keypoints"]["id"] == f"{stamped.watermark_id:08x}"
