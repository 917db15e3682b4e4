"""Import stays inside the chosen folder and never imports the library's own files."""

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from likeness.importing import import_photos
from likeness.library.sources import SourceError, scan
from likeness.library.tables import PhotoFile
from likeness.testing.photos import jpeg_bytes, scenery, write


def _imported_names(lib) -> list[str]:
    with lib.session() as s:
        paths = s.scalars(select(PhotoFile.display_path).where(PhotoFile.photo_id.is_not(None)))
        return sorted(Path(p).name for p in paths)


def test_a_folder_symlink_out_of_the_root_is_reported_and_not_followed(lib, tmp_path):
    root, outside = tmp_path / "photos", tmp_path / "elsewhere"
    write(root / "a.jpg", jpeg_bytes(scenery(1)))
    write(outside / "private.jpg", jpeg_bytes(scenery(2)))
    os.symlink(outside, root / "to-elsewhere")
    report = import_photos(lib, root, workers=1)
    assert (report.files, report.added) == (1, 1)
    assert _imported_names(lib) == ["a.jpg"]
    [problem] = report.problems
    assert Path(problem.display_path).name == "to-elsewhere"
    assert "outside the imported folder" in problem.reason and "not followed" in problem.reason


@pytest.mark.skipif(not os.path.isdir("/proc/self/root"), reason="needs Linux /proc")
def test_proc_self_is_not_walked_out_to_the_whole_disk(tmp_path):
    # /proc/self holds symlinks to / (root), the working folder (cwd) and more: none followed.
    found = scan(Path("/proc/self"))
    assert not any(item.display_path.startswith("/proc/self/root/") for item in found.items)
    reported = {Path(p.display_path).name for p in found.problems}
    assert {"root", "cwd"} <= reported


def test_a_folder_symlink_inside_the_root_is_walked_once(lib, tmp_path):
    root = tmp_path / "photos"
    write(root / "album" / "a.jpg", jpeg_bytes(scenery(1)))
    write(root / "album" / "deeper" / "b.jpg", jpeg_bytes(scenery(2)))
    os.symlink(root / "album", root / "shortcut")  # to a folder imported where it is
    os.symlink("../album/deeper", root / "album" / "deeper-again")  # relative, same
    report = import_photos(lib, root, workers=1)
    assert (report.files, report.added, report.duplicates) == (2, 2, 0)
    assert report.problems == []
    assert _imported_names(lib) == ["a.jpg", "b.jpg"]


def test_a_folder_symlink_to_its_own_ancestor_is_a_loop_reported_once(lib, tmp_path):
    root = tmp_path / "photos"
    write(root / "sub" / "a.jpg", jpeg_bytes(scenery(1)))
    os.symlink(root, root / "sub" / "up")
    os.symlink(".", root / "sub" / "here")
    report = import_photos(lib, root, workers=1)
    assert report.added == 1
    assert sorted(Path(p.display_path).name for p in report.problems) == ["here", "up"]
    assert all("symlink loop" in p.reason for p in report.problems)


def test_a_file_symlink_is_followed_wherever_it_points(lib, tmp_path):
    root, outside = tmp_path / "photos", tmp_path / "elsewhere"
    write(root / "a.jpg", jpeg_bytes(scenery(1)))
    write(outside / "b.jpg", jpeg_bytes(scenery(2)))
    os.symlink(outside / "b.jpg", root / "linked.jpg")
    report = import_photos(lib, root, workers=1)
    assert (report.added, report.problems) == (2, [])
    assert _imported_names(lib) == ["a.jpg", "linked.jpg"]


def test_the_library_home_inside_the_imported_folder_is_skipped(lib, tmp_path):
    # conftest's library lives at tmp_path/home: import tmp_path, which holds it.
    assert lib.home == tmp_path / "home"
    write(lib.home / "outputs" / "generated.jpg", jpeg_bytes(scenery(7)))
    write(lib.vault / "sheet.jpg", jpeg_bytes(scenery(8)))
    write(tmp_path / "photos" / "a.jpg", jpeg_bytes(scenery(1)))
    # Links into the home, to a folder and to a file, are not followed either.
    os.symlink(lib.home / "outputs", tmp_path / "photos" / "outputs-link")
    os.symlink(lib.home / "outputs" / "generated.jpg", tmp_path / "photos" / "gen.jpg")
    report = import_photos(lib, tmp_path, workers=1)
    assert (report.files, report.added, report.problems) == (1, 1, [])
    assert _imported_names(lib) == ["a.jpg"]


def test_the_library_home_reached_through_a_symlinked_root_is_skipped(tmp_path):
    from likeness.store import Library

    real = tmp_path / "real"
    write(real / "a.jpg", jpeg_bytes(scenery(1)))
    os.symlink(real, tmp_path / "alias")
    with Library.open(tmp_path / "alias" / "likeness-home") as lib:
        write(lib.home / "outputs" / "generated.jpg", jpeg_bytes(scenery(7)))
        report = import_photos(lib, real, workers=1)
        assert (report.files, report.added) == (1, 1)


@pytest.mark.parametrize("inside", ["", "outputs"])
def test_importing_the_library_home_or_a_folder_inside_it_is_refused(lib, inside):
    write(lib.home / "outputs" / "generated.jpg", jpeg_bytes(scenery(7)))
    with pytest.raises(SourceError, match="library's own home"):
        import_photos(lib, lib.home / inside, workers=1)


def test_a_takeout_folder_goes_through_the_same_walker(lib, tmp_path):
    export, outside = tmp_path / "Takeout", tmp_path / "elsewhere"
    write(export / "Google Photos" / "Photos from 2020" / "a.jpg", jpeg_bytes(scenery(1)))
    write(outside / "private.jpg", jpeg_bytes(scenery(2)))
    os.symlink(outside, export / "Google Photos" / "to-elsewhere")
    os.symlink(export / "Google Photos", export / "Google Photos" / "Photos from 2020" / "up")
    report = import_photos(lib, tmp_path / "Takeout", workers=1)
    assert report.kind == "takeout"
    assert (report.files, report.added) == (1, 1)
    reasons = {Path(p.display_path).name: p.reason for p in report.problems}
    assert set(reasons) == {"to-elsewhere", "up"}
    assert "outside the imported folder" in reasons["to-elsewhere"]
    assert "symlink loop" in reasons["up"]
