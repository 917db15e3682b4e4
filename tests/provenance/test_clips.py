"""Reading a clip for its watermark and fingerprint refuses what could exhaust memory or is
not a clip, with the reason, and never reads past its budget."""

import numpy as np
import pytest
from PIL import Image

from likeness.provenance import clips
from likeness.provenance.clips import encode_clip, read_clip_frames
from likeness.provenance.credentials import ProvenanceError


def _frames(n: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)


def _gif(path, frames):
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def test_frames_are_read_within_the_pixel_budget(tmp_path, monkeypatch):
    gif = _gif(tmp_path / "many.gif", _frames(10))
    mp4 = tmp_path / "many.mp4"
    mp4.write_bytes(encode_clip(_frames(10), 8, "mp4"))
    assert len(read_clip_frames(gif)) == 10 and len(read_clip_frames(mp4)) == 10
    monkeypatch.setattr(clips, "READ_PIXELS", 64 * 64 * 4)
    assert len(read_clip_frames(gif)) == 4 and len(read_clip_frames(mp4)) == 4
    assert len(read_clip_frames(mp4, limit=2)) == 2


def test_a_frame_too_large_and_a_file_that_is_no_clip_are_refused(tmp_path, monkeypatch):
    gif = _gif(tmp_path / "big.gif", _frames(3))
    mp4 = tmp_path / "big.mp4"
    mp4.write_bytes(encode_clip(_frames(3), 8, "mp4"))
    monkeypatch.setattr(clips, "MAX_FRAME_PIXELS", 1000)
    for path in (gif, mp4):
        with pytest.raises(ProvenanceError, match="frames too large to look at"):
            read_clip_frames(path)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(ProvenanceError, match=r"junk\.mp4: cannot decode the clip"):
        read_clip_frames(junk)
