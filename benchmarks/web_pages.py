"""Server time of every web page on a large library, against the same pages on a small one.

The issue's target: every page under 300 ms of server time with thousands of faces and
hundreds of people, and a People page that stays usable (a page of people at a time). A
library is imported from faces-dev photos (or, without them, the test suite's two-people
photos), then grown with ``likeness.testing.libraries.grow_library`` to ``--people`` people
and ``--people x --faces-per-person`` faces, each on its own photo dated over ten years. Each
page is asked for ``--repeat`` times through the app in process (FastAPI's test client: the
route, the queries and the template, no network), after one warm-up request; the median,
the 95th percentile and the largest are printed in milliseconds, beside the same page on
the small library before it was grown (the baseline, measured in the same run).

    .venv/bin/python benchmarks/web_pages.py [--people 400] [--faces-per-person 12]
        [--repeat 15] [--two-people]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import FACES_DEV


def _import(root: Path, two_people: bool):
    """A library with imported photos: faces-dev's, or the tests' two people."""
    from likeness.importing import import_photos
    from likeness.store import Library
    from likeness.testing.libraries import two_people_photos

    if two_people or not (FACES_DEV / "labels.csv").exists():
        folder, source = two_people_photos(root / "photos"), "the two-people test photos"
    else:
        folder, source = FACES_DEV, f"faces-dev ({FACES_DEV})"
    lib = Library.open(root / "home")
    started = time.perf_counter()
    import_photos(lib, folder, workers=2)
    print(f"imported {source} in {time.perf_counter() - started:.0f} s")
    return lib


def _pages(lib) -> dict[str, str]:
    from likeness.people.manage import find_people
    from likeness.people.photos import list_photos

    top = find_people(lib, limit=1).people[0].id
    return {
        "people": "/people",
        "people by name, page 3": "/people?sort=name&page=3",
        "people recently seen": "/people?sort=recent",
        "people search": "/people?search=person+01",
        "person (most photos)": f"/people/{top}",
        "photos": "/photos",
        "photos, page 20": "/photos?page=20",
        "photo": f"/photos/{list_photos(lib, limit=1).photos[0].id}",
        "unassigned faces": "/faces/unassigned",
        "create": "/create",
        "consent": "/consent",
        "jobs": "/jobs",
        "api people page": "/api/people?limit=48",
    }


def _time(lib, pages: dict[str, str], repeat: int) -> dict[str, list[float]]:
    from fastapi.testclient import TestClient

    from likeness.server import create_app
    from likeness.server.owner import set_owner_passphrase
    from likeness.testing.server import LOCAL, PASSPHRASE, signed_in

    set_owner_passphrase(lib, PASSPHRASE)
    out: dict[str, list[float]] = {}
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        signed_in(client)
        for name, path in pages.items():
            assert client.get(path).status_code == 200, path  # warm-up
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, path
            out[name] = times
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--faces-per-person", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--two-people", action="store_true", help="grow the tests' photos")
    args = parser.parse_args()
    from sqlalchemy import func, select

    from likeness.faces.tables import Face
    from likeness.people.tables import Person
    from likeness.testing.libraries import grow_library

    with tempfile.TemporaryDirectory() as tmp:
        lib = _import(Path(tmp), args.two_people)
        pages = _pages(lib)
        small = _time(lib, pages, args.repeat)
        started = time.perf_counter()
        grow_library(lib, args.people, args.faces_per_person, Path(tmp) / "grown")
        with lib.session() as s:
            faces = s.scalar(select(func.count(Face.id)))
            people = s.scalar(select(func.count(Person.id)))
        print(
            f"grown to {people} people and {faces} faces in "
            f"{time.perf_counter() - started:.1f} s; {args.repeat} requests a page"
        )
        large = _time(lib, _pages(lib), args.repeat)
        lib.close()
    print(
        f"{'page':<26}{'small median':>13}{'large median':>13}{'p95':>8}{'max':>8}"
        f"{'large/small':>12}   target 300 ms"
    )
    worst = 0.0
    for name in pages:
        s_med, times = statistics.median(small[name]), sorted(large[name])
        med, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
        worst = max(worst, p95)
        print(
            f"{name:<26}{s_med:>11.1f}ms{med:>11.1f}ms{p95:>6.0f}ms{times[-1]:>6.0f}ms"
            f"{med / s_med:>11.1f}x   {'met' if p95 < 300 else 'NOT met'}"
        )
    print(f"slowest page at the 95th percentile: {worst:.0f} ms (target: under 300 ms)")


if __name__ == "__main__":
    main()
