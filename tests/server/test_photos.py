"""Browsing the library: people searched, sorted and paged; photos by date, a person's
photos, one photo with its faces, thumbnails kept on disk. A real library (SQLite, imported
photos, dlib faces) through the real server."""

from __future__ import annotations

import os
import stat
from datetime import datetime

import pytest
from PIL import Image
from sqlalchemy import select, update

from likeness.library.tables import Photo
from likeness.library.thumbnails import SIZES, photo_thumbnail, thumbnail_path
from likeness.people.manage import PeopleError, PeopleSort, find_people, name_person
from likeness.people.photos import list_photos, photo_detail
from likeness.testing.server import signed_in


def _date_photos(lib) -> list[int]:
    """Give the library's photos known dates, one a month from January 2020 in id order,
    the last one undated; their ids in that order."""
    with lib.session() as s:
        ids = list(s.scalars(select(Photo.id).order_by(Photo.id)))
        for i, photo_id in enumerate(ids[:-1]):
            s.execute(
                update(Photo).where(Photo.id == photo_id).values(taken_at=datetime(2020, 1 + i, 1))
            )
        s.execute(update(Photo).where(Photo.id == ids[-1]).values(taken_at=None))
    return ids


def test_people_are_searched_sorted_and_paged(world):
    _, lib, alice, grace = world
    by_photos = find_people(lib)
    assert by_photos.total == 2 and {p.id for p in by_photos.people} == {alice, grace}
    counts = [p.photo_count for p in by_photos.people]
    assert counts == sorted(counts, reverse=True)
    assert set(by_photos.best_face) == {alice, grace}
    # A search is any part of a name, in any case.
    found = find_people(lib, search="hOPP")
    assert [p.id for p in found.people] == [grace] and found.total == 1
    assert find_people(lib, search="nobody by this name").total == 0
    # By name: A to Z; unnamed people after every named one.
    name_person(lib, grace, "Ada")
    assert [p.id for p in find_people(lib, sort=PeopleSort.NAME).people] == [grace, alice]
    # Pages: one person each, the total stays the whole listing's.
    first = find_people(lib, sort="name", limit=1)
    second = find_people(lib, sort="name", offset=1, limit=1)
    assert [p.id for p in first.people + second.people] == [grace, alice]
    assert first.total == second.total == 2
    assert find_people(lib, offset=2, limit=1).people == []
    with pytest.raises(PeopleError):
        find_people(lib, limit=0)
    with pytest.raises(ValueError):
        find_people(lib, sort="shoe size")


def test_recently_seen_sorts_by_the_latest_photo_taken(world):
    _, lib, alice, grace = world
    ids = _date_photos(lib)
    page = find_people(lib, sort=PeopleSort.RECENT)
    latest = {
        p: max(e.taken_at for e in list_photos(lib, p, limit=100).photos if e.taken_at)
        for p in (alice, grace)
    }
    assert page.last_seen == latest
    assert [p.id for p in page.people] == sorted(latest, key=latest.get, reverse=True)
    assert len(ids) > 2


def test_photos_are_listed_newest_first_and_undated_last(world):
    _, lib, _, grace = world
    ids = _date_photos(lib)
    page = list_photos(lib, limit=len(ids))
    assert page.total == len(ids)
    dated = [p for p in page.photos if p.taken_at]
    assert [p.taken_at for p in dated] == sorted((p.taken_at for p in dated), reverse=True)
    assert page.photos[-1].id == ids[-1] and page.photos[-1].taken_at is None
    # Two pages make the whole listing, with nothing twice.
    half = len(ids) // 2
    first, rest = list_photos(lib, limit=half), list_photos(lib, offset=half, limit=len(ids))
    assert [p.id for p in first.photos + rest.photos] == [p.id for p in page.photos]
    # A person's photos carry only their faces.
    mine = list_photos(lib, grace, limit=100)
    assert mine.total >= 1 and mine.total < len(ids)
    assert all(f.person == grace for p in mine.photos for f in p.faces)
    assert all(p.faces for p in mine.photos)
    detail = photo_detail(lib, mine.photos[0].id)
    assert any(f.person == grace and f.name == "Grace Hopper" for f in detail.faces)
    assert detail.path and detail.width > 0


def test_a_thumbnail_is_made_once_kept_private_and_sized(world):
    _, lib, *_ = world
    photo_id = list_photos(lib, limit=1).photos[0].id
    data = photo_thumbnail(lib, photo_id, SIZES[0])
    with lib.session() as s:
        photo = s.get(Photo, photo_id)
        content_hash, size = photo.content_hash, (photo.width, photo.height)
    kept = thumbnail_path(lib, content_hash, SIZES[0])
    assert kept.read_bytes() == data
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(kept.parent).st_mode) == 0o700
    image = Image.open(kept)
    assert max(image.size) == min(SIZES[0], max(size))
    # The second request reads the kept file (changed here, so the read is seen).
    kept.write_bytes(b"kept")
    assert photo_thumbnail(lib, photo_id, SIZES[0]) == b"kept"
    with pytest.raises(ValueError, match="320 or 1600"):
        photo_thumbnail(lib, photo_id, 100)


def test_the_photo_routes(world):
    client, _, _, grace = world
    assert client.get("/api/photos").status_code == 401
    signed_in(client)
    page = client.get("/api/photos", params={"limit": 2}).json()
    assert len(page["photos"]) == 2 and page["total"] >= 2 and page["offset"] == 0
    theirs = client.get("/api/photos", params={"person": grace}).json()
    assert theirs["photos"] and all(
        f["person"] == grace for p in theirs["photos"] for f in p["faces"]
    )
    photo = theirs["photos"][0]["id"]
    assert client.get(f"/api/photos/{photo}").json()["id"] == photo
    image = client.get(f"/api/photos/{photo}/thumbnail", params={"size": 1600})
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.headers["cache-control"].startswith("private")
    # Bad input: a clear status, never a server error.
    assert client.get(f"/api/photos/{photo}/thumbnail", params={"size": 99}).status_code == 422
    assert client.get("/api/photos/999999").status_code == 404
    assert client.get("/api/photos/999999/thumbnail").status_code == 404
    assert client.get("/api/photos", params={"person": 999999}).status_code == 404
    assert client.get("/api/photos", params={"limit": 0}).status_code == 422
    listed = client.get("/api/people", params={"search": "grace", "sort": "name"})
    assert [p["id"] for p in listed.json()] == [grace]
    assert listed.headers["x-total-count"] == "1"


def test_a_new_person_from_faces_that_cannot_move_leaves_no_empty_person(world):
    from likeness.faces.listing import list_faces
    from likeness.people.manage import list_people
    from likeness.server.sessions import CSRF_HEADER

    client, lib, alice, grace = world
    headers = signed_in(client)
    before = {p.id for p in list_people(lib, include_hidden=True)}
    # Two faces of one photo cannot be one person; a face that is not there cannot move.
    photo_faces: dict[int, list[int]] = {}
    for f in list_faces(lib):
        photo_faces.setdefault(f["photo_id"], []).append(f["id"])
    pair = next((ids for ids in photo_faces.values() if len(ids) > 1), None)
    for face_ids in [[999999]] + ([pair] if pair else []):
        response = client.post(
            "/api/faces/new-person",
            json={"face_ids": face_ids, "name": "Nobody"},
            headers={CSRF_HEADER: headers[CSRF_HEADER]},
        )
        assert response.status_code == 400, response.text
    assert {p.id for p in list_people(lib, include_hidden=True)} == before
    made = client.post(
        "/api/faces/new-person",
        json={"face_ids": [list_faces(lib, grace)[0]["id"]], "name": " Amazing Grace "},
        headers={CSRF_HEADER: headers[CSRF_HEADER]},
    )
    assert made.status_code == 201
    assert {p.id: p.name for p in list_people(lib)}[made.json()["person"]] == "Amazing Grace"
    assert alice in before
