"""Libraries built from ../shared/data/faces-dev photos, linked (never copied)."""

from __future__ import annotations

from pathlib import Path

from likeness.store import Library


def faces_dev_library(faces_dev: Path, root: Path, people: list[str], groups=()) -> tuple:
    """Import the named people's single photos and the named group photos (symlinked into a
    folder under ``root``); returns (library, {name: person id})."""
    from likeness.faces.listing import list_faces
    from likeness.importing import import_photos

    photos = root / "photos"
    for name in people:
        (photos / name).mkdir(parents=True, exist_ok=True)
        for src in sorted((faces_dev / "people" / name).iterdir()):
            (photos / name / src.name).symlink_to(src)
    for group in groups:
        (photos / "groups").mkdir(parents=True, exist_ok=True)
        (photos / "groups" / group).symlink_to(faces_dev / "groups" / group)
    lib = Library.open(root / "home")
    import_photos(lib, photos, workers=1)
    ids = {}
    for f in list_faces(lib):
        for name in people:
            if f"/{name}/1." in f["photo"]:
                ids[name] = f["person"]
    return lib, ids
