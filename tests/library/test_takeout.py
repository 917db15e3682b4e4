"""Takeout sidecar pairing on a synthetic export that has every naming quirk Google produces."""

import json
import tarfile
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from likeness.importing import import_photos
from likeness.library.tables import Album, Photo, PhotoAlbum, PhotoFile, PhotoLabel
from likeness.library.takeout import (
    TakeoutMetadata,
    match_sidecars,
    parse_sidecar,
    sidecar_key,
    strip_edited,
)
from likeness.testing.photos import jpeg_bytes, scenery, write

LONG = "Screenshot_20200101-101112_Some Messaging Apps.jpg"  # 50 characters
assert len(LONG) == 50


def _pair(media: list[str], sidecars: list[str], titles: dict[str, str] | None = None):
    titles = titles or {}
    return match_sidecars(media, {s: TakeoutMetadata(title=titles.get(s)) for s in sidecars})


@pytest.mark.parametrize(
    ("media", "sidecar"),
    [
        ("IMG_0001.jpg", "IMG_0001.jpg.json"),
        ("IMG_0002.jpg", "IMG_0002.jpg.supplemental-metadata.json"),
        (LONG, LONG[:46] + ".json"),  # classic 46-character cut
        (
            "PXL_20230615_101112345.PORTRAIT.jpg",
            "PXL_20230615_101112345.PORTRAIT.jpg.supplemen.json",
        ),
        ("PXL_20230615_101112346.NIGHT.jpg", "PXL_20230615_101112346.NIGHT.jpg.s.json"),
        ("PXL_20230615_101112347_LONGNAME.jpg", "PXL_20230615_101112347_LONGNAME.jpg..json"),
        ("IMG_0005.jpg", "IMG_0005.json"),  # extension dropped
        ("IMG_0003-edited.jpg", "IMG_0003.jpg.json"),
        ("IMG_0004-bearbeitet.jpg", "IMG_0004.jpg.json"),
        ("IMG_0006-modifié.jpg", "IMG_0006.jpg.supplemental-metadata.json"),
    ],
)
def test_single_pairing_rules(media, sidecar):
    assert _pair([media], [sidecar, "other.jpg.json"]) == {media: sidecar}


def test_duplicate_counters_move_to_the_end():
    media = ["image.jpg", "image(1).jpg", "photo.jpg", "photo(2).jpg"]
    sidecars = [
        "image.jpg.json",
        "image.jpg(1).json",
        "photo.jpg.supplemental-metadata.json",
        "photo.jpg.supplemental-metadata(2).json",
    ]
    assert _pair(media, sidecars) == dict(zip(media, sidecars, strict=True))


def test_original_and_edited_share_one_sidecar():
    assert _pair(["IMG_9.jpg", "IMG_9-edited.jpg"], ["IMG_9.jpg.json"]) == {
        "IMG_9.jpg": "IMG_9.jpg.json",
        "IMG_9-edited.jpg": "IMG_9.jpg.json",
    }


def test_short_prefix_is_not_taken_for_a_cut_name():
    # IMG_1.jpg.json is complete (not cut), so it must not pair with IMG_12.jpg.
    assert _pair(["IMG_12.jpg"], ["IMG_1.jpg.json"]) == {}


def test_title_is_the_last_resort():
    media = "Screenshot_2020-01-01-12-00-00-000_com.example.app.jpg"[:47] + ".jpg"
    sidecar = "weird-name.json"
    title = "Screenshot_2020-01-01-12-00-00-000_com.example.app.jpg"
    assert _pair([media], [sidecar], {sidecar: title}) == {media: sidecar}


def test_sidecar_key_and_strip_edited():
    assert sidecar_key("a.jpg.supplemental-metadata(3).json").counter == "(3)"
    assert sidecar_key("a.jpg.supplemental-metadata(3).json").stem == "a.jpg"
    assert sidecar_key("notes.txt") is None
    assert strip_edited("x-EDITED.jpg") == "x.jpg"
    assert strip_edited("x.jpg") == "x.jpg"


def _sidecar(title, ts, *, geo=None, geo_exif=None, people=()):
    doc = {
        "title": title,
        "photoTakenTime": {"timestamp": str(ts), "formatted": "..."},
        "geoData": dict(zip(("latitude", "longitude"), geo or (0.0, 0.0), strict=True)),
        "geoDataExif": dict(zip(("latitude", "longitude"), geo_exif or (0.0, 0.0), strict=True)),
    }
    if people:
        doc["people"] = [{"name": n} for n in people]
    return json.dumps(doc).encode()


def test_parse_sidecar_prefers_exif_geo_then_google_geo():
    meta = parse_sidecar(_sidecar("a.jpg", 1600000000, geo=(1.5, 2.5), geo_exif=(3.5, 4.5)))
    assert meta.gps == (3.5, 4.5)
    meta = parse_sidecar(_sidecar("a.jpg", 1600000000, geo=(1.5, 2.5), people=["Bo", "Al"]))
    assert meta.gps == (1.5, 2.5)
    assert meta.people == ["Al", "Bo"]
    assert meta.taken_at == datetime(2020, 9, 13, 12, 26, 40)
    with pytest.raises(ValueError, match="malformed sidecar JSON"):
        parse_sidecar(b"{not json")


def build_export(root: Path) -> dict[str, int]:
    """A Takeout folder; returns {media relative path: expected photoTakenTime}."""
    gp = root / "Takeout" / "Google Photos"
    year = gp / "Photos from 2020"
    album = gp / "Trip to Rome"
    expected: dict[str, int] = {}

    def photo(folder: Path, name: str, seed: int, sidecar: str | None, ts: int, **kw):
        write(folder / name, jpeg_bytes(scenery(seed)))
        if sidecar:
            write(folder / sidecar, _sidecar(name, ts, **kw))
        expected[str((folder / name).relative_to(root))] = ts

    photo(year, "IMG_0001.jpg", 1, "IMG_0001.jpg.json", 1577880000, people=["Alice"])
    photo(year, "IMG_0002.jpg", 2, "IMG_0002.jpg.supplemental-metadata.json", 1577890000)
    photo(year, LONG, 3, LONG[:46] + ".json", 1577900000)
    photo(year, "image.jpg", 4, "image.jpg.json", 1577910000)
    photo(year, "image(1).jpg", 5, "image.jpg(1).json", 1577920000)
    photo(year, "IMG_0003.jpg", 6, "IMG_0003.jpg.json", 1577930000, geo=(41.9, 12.5))
    write(year / "IMG_0003-edited.jpg", jpeg_bytes(scenery(7)))
    expected[str((year / "IMG_0003-edited.jpg").relative_to(root))] = 1577930000
    photo(year, "IMG_0004.jpg", 8, "IMG_0004.jpg.json", 0)
    (year / "IMG_0004.jpg.json").write_text("{ this is not json")  # malformed sidecar
    expected[str((year / "IMG_0004.jpg").relative_to(root))] = -1  # no time from sidecar
    # The same photo in the year folder and an album: one photo, in the album.
    write(album / "metadata.json", json.dumps({"title": "Trip to Rome"}).encode())
    write(album / "IMG_0001.jpg", (year / "IMG_0001.jpg").read_bytes())
    write(album / "IMG_0001.jpg.json", _sidecar("IMG_0001.jpg", 1577880000, people=["Alice"]))
    return expected


def _check_catalog(lib, expected_times: set[datetime]):
    with lib.session() as s:
        photos = s.scalars(select(Photo)).all()
        assert len(photos) == 8
        times = {p.taken_at for p in photos if p.taken_at_source == "takeout"}
        assert times == expected_times
        rome = s.scalar(select(Album).where(Album.title == "Trip to Rome"))
        in_album = s.scalars(
            select(PhotoAlbum.photo_id).where(PhotoAlbum.album_id == rome.id)
        ).all()
        assert len(in_album) == 1
        assert s.scalars(select(PhotoLabel.name)).all() == ["Alice"]
        assert s.scalars(select(PhotoLabel.photo_id)).all() == in_album
        gps = [p for p in photos if p.gps_lat is not None]
        # IMG_0003.jpg and its edited copy share one sidecar, so both carry its location.
        assert [(p.gps_lat, p.gps_lon) for p in gps] == [(41.9, 12.5)] * 2
        assert s.scalar(select(PhotoFile).where(PhotoFile.problem.is_not(None))) is None


def _times(expected: dict[str, int]) -> set[datetime]:
    from datetime import UTC

    return {datetime.fromtimestamp(t, UTC).replace(tzinfo=None) for t in expected.values() if t > 0}


def test_import_takeout_folder(lib, tmp_path):
    expected = build_export(tmp_path / "export")
    report = import_photos(lib, tmp_path / "export", workers=1)
    assert report.kind == "takeout"
    assert report.files == 9 and report.added == 8 and report.duplicates == 1
    assert [p.reason for p in report.problems] == [
        "malformed sidecar JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 3 (char 2)"
    ]
    _check_catalog(lib, _times(expected))


def test_import_multipart_archives_with_sidecars_in_another_part(lib, tmp_path):
    expected = build_export(tmp_path / "export")
    files = sorted(p for p in (tmp_path / "export").rglob("*") if p.is_file())
    out = tmp_path / "downloads"
    out.mkdir()
    # Part 1 (zip) gets the images, part 2 (tgz) the JSON files: pairing must span parts.
    with zipfile.ZipFile(out / "takeout-20260101T000000Z-001.zip", "w") as zf:
        for f in files:
            if f.suffix != ".json":
                zf.write(f, f.relative_to(tmp_path / "export").as_posix())
    with tarfile.open(out / "takeout-20260101T000000Z-002.tgz", "w:gz") as tf:
        for f in files:
            if f.suffix == ".json":
                tf.add(f, f.relative_to(tmp_path / "export").as_posix())
    report = import_photos(lib, out / "takeout-20260101T000000Z-001.zip", workers=1)
    assert report.kind == "takeout" and report.added == 8
    _check_catalog(lib, _times(expected))
    again = import_photos(lib, out, workers=1)
    assert again.added == 0 and again.unchanged == again.files == 9
