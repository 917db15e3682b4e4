"""Import end to end: bad input, incremental re-import, duplicates, kill -9 and resume."""

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from sqlalchemy import func, select

from likeness.faces.tables import Face
from likeness.importing import import_photos
from likeness.library.tables import Photo, PhotoFile
from likeness.testing.photos import astronaut, jpeg_bytes, scenery, write


def build_bad_corpus(root: Path) -> dict[str, str]:
    """Good and bad files; returns {file name: expected reason fragment} for the bad ones."""
    write(root / "good.jpg", jpeg_bytes(scenery(1)))
    write(root / "really-a-jpeg.png", jpeg_bytes(scenery(2)))  # wrong extension, fine
    with open(os.fsencode(root) + b"/caf\xe9.jpg", "wb") as f:  # not valid UTF-8
        f.write(jpeg_bytes(scenery(3)))
    write(root / "sub" / "deeper" / "nested.webp", _webp(scenery(4)))
    bad = {
        "empty.jpg": "empty file",
        "notes.jpg": "not a recognised image format",
        "corrupt.jpg": "corrupt or truncated",
        "truncated.jpg": "corrupt or truncated",
        "bomb.png": "decompression bomb",
        "broken-link.jpg": "broken symlink",
        "unreadable.jpg": "unreadable file",
        "loop": "symlink loop",
    }
    write(root / "empty.jpg", b"")
    write(root / "notes.jpg", b"shopping list: milk, eggs")
    # A JPEG signature followed by garbage (seeded: the same bytes every run).
    write(root / "corrupt.jpg", b"\xff\xd8\xff\xe0" + np.random.default_rng(0).bytes(3000))
    write(root / "truncated.jpg", jpeg_bytes(astronaut())[:15000])
    buf = io.BytesIO()
    Image.new("L", (20_000, 12_000)).save(buf, "PNG")
    write(root / "bomb.png", buf.getvalue())
    os.symlink(root / "does-not-exist.jpg", root / "broken-link.jpg")
    if os.geteuid() == 0:  # root reads any file: use one whose read fails with EIO
        os.symlink("/proc/self/mem", root / "unreadable.jpg")
    else:
        write(root / "unreadable.jpg", jpeg_bytes(scenery(5))).chmod(0)
    os.symlink(root, root / "sub" / "loop")
    return bad


def _webp(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "WEBP")
    return buf.getvalue()


def _assert_reported_once(report, bad: dict[str, str]) -> None:
    names = [Path(p.display_path).name for p in report.problems]
    assert sorted(names) == sorted(bad), report.problems
    for p in report.problems:
        assert bad[Path(p.display_path).name] in p.reason, (p.display_path, p.reason)


def test_bad_input_is_reported_once_and_never_stops_the_import(lib, tmp_path):
    root = tmp_path / "photos"
    bad = build_bad_corpus(root)
    report = import_photos(lib, root, workers=2)
    _assert_reported_once(report, bad)
    assert report.added == 4  # good.jpg, really-a-jpeg.png, café.jpg, nested.webp
    with lib.session() as s:
        paths = s.scalars(select(PhotoFile.display_path).where(PhotoFile.photo_id.is_not(None)))
        assert any(p.endswith("caf\\xe9.jpg") for p in paths)
    # A re-import does no work for unchanged files and still tells about the bad ones.
    again = import_photos(lib, root, workers=2)
    assert again.added == 0 and again.unchanged == again.files
    _assert_reported_once(again, bad)


def test_duplicates_changes_and_unchanged_files(lib, tmp_path):
    root = tmp_path / "photos"
    write(root / "a.jpg", jpeg_bytes(scenery(1)))
    write(root / "copy-of-a.jpg", (root / "a.jpg").read_bytes())
    write(root / "a-recompressed.jpg", jpeg_bytes(scenery(1), quality=60))
    write(root / "b.jpg", jpeg_bytes(scenery(2)))
    report = import_photos(lib, root)
    assert (report.added, report.duplicates, report.near_duplicates) == (3, 1, 1)
    with lib.session() as s:
        pair = {
            Path(f.display_path).name: f.photo
            for f in s.scalars(select(PhotoFile).where(PhotoFile.display_path.contains("/a")))
        }
        a, recompressed = pair["a.jpg"], pair["a-recompressed.jpg"]
        # Whichever of the two was recorded first is the one the other links to.
        assert {a.near_duplicate_of, recompressed.near_duplicate_of} - {None} in (
            {a.id},
            {recompressed.id},
        )
    # Change b's content: it is analysed again and its old photo is dropped.
    write(root / "b.jpg", jpeg_bytes(scenery(9)))
    report = import_photos(lib, root)
    assert (report.added, report.unchanged) == (1, 3)
    with lib.session() as s:
        assert s.scalar(select(func.count()).select_from(Photo)) == 3


KILL_SCRIPT = """
import sys
from likeness.importing import import_photos
from likeness.store import Library
import_photos(Library.open(sys.argv[1]), sys.argv[2], workers=1)
"""


def test_kill_9_mid_import_then_resume_without_duplicates_or_losses(tmp_path):
    root = tmp_path / "photos"
    base = astronaut()
    n = 24
    for i in range(n):
        variant = ImageEnhance.Brightness(base).enhance(0.7 + i * 0.03)
        write(root / f"p{i:02d}.jpg", jpeg_bytes(variant.resize((420 + i * 4, 420 + i * 4))))
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(home), str(root)], start_new_session=True
    )
    catalog = home / "catalog.sqlite"
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            committed = (
                sqlite3.connect(catalog).execute("SELECT count(*) FROM photos").fetchone()[0]
            )
        except sqlite3.Error:
            committed = 0
        if committed >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the importer and its worker processes
    proc.wait()
    assert 4 <= committed < n

    from likeness.store import Library

    with Library.open(home) as lib:
        report = import_photos(lib, root, workers=2)
        assert report.unchanged >= committed
        with lib.session() as s:
            assert s.scalar(select(func.count()).select_from(Photo)) == n
            assert s.scalar(select(func.count()).select_from(PhotoFile)) == n
            hashes = s.scalars(select(Photo.content_hash)).all()
            assert len(set(hashes)) == n
            faces = s.scalars(select(Face)).all()
            assert len({f.photo_id for f in faces}) == n  # every photo kept its face, once
            assert len(faces) == n
            assert all(f.grouped for f in faces)
            assert len({f.person_id for f in faces}) == 1 and faces[0].person_id is not None


AFTER_TRAINING = """
import sys
from pathlib import Path

import torch

from likeness.testing.photos import astronaut, jpeg_bytes, write
from likeness.importing import import_photos
from likeness.store import Library


def main():
    layer = torch.nn.Conv2d(3, 64, 3)
    layer(torch.randn(8, 3, 128, 128)).sum().backward()  # what training leaves behind
    root = Path(sys.argv[1])
    write(root / "photos" / "a.jpg", jpeg_bytes(astronaut()))
    with Library.open(root / "home") as lib:
        report = import_photos(lib, root / "photos", workers=1)
    print("faces", report.faces)


if __name__ == "__main__":
    main()
"""


@pytest.mark.slow  # 6 s; `make test-all`
def test_import_after_torch_ran_in_the_same_process_does_not_hang(tmp_path):
    """A worker forked from a process that has run PyTorch hung in its first torch call
    (training then importing in one Python session); such a caller's workers start from a
    fork server instead."""
    script = tmp_path / "after_training.py"
    script.write_text(AFTER_TRAINING)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "faces 1" in done.stdout
