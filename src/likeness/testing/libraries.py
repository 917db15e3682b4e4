"""Prepared libraries: photos imported once per test module, copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

from likeness.store import Library
from likeness.testing.photos import astronaut, jpeg_bytes, write


def astronaut_library(root: Path) -> tuple[Path, int]:
    """A library home with one person (six photos of the astronaut); returns (home, id)."""
    from likeness.importing import import_photos
    from likeness.people.manage import list_people

    photos = root / "photos"
    for i, image in enumerate(astronaut_variants()):
        write(photos / f"astronaut-{i}.jpg", jpeg_bytes(image))
    with Library.open(root / "home") as lib:
        import_photos(lib, photos, workers=1)
        [person] = list_people(lib)
    return root / "home", person.id


def two_people_photos(folder: Path) -> Path:
    """Six photos of the astronaut and four of Grace Hopper in ``folder`` (returned)."""
    for i, image in enumerate(astronaut_variants()):
        write(folder / f"astronaut-{i}.jpg", jpeg_bytes(image))
    for i, image in enumerate(hopper_variants()):
        write(folder / f"hopper-{i}.jpg", jpeg_bytes(image))
    return folder


def two_people_library(root: Path) -> tuple[Path, int, int]:
    """A library home with the astronaut (named Alice, marked as the owner) and Grace Hopper
    (named Grace Hopper); returns (home, alice id, grace id)."""
    from likeness.faces.listing import list_faces
    from likeness.importing import import_photos
    from likeness.people.manage import name_person, set_owner

    photos = two_people_photos(root / "photos")
    with Library.open(root / "home") as lib:
        import_photos(lib, photos, workers=1)
        person_of = {Path(f["photo"]).name: f["person"] for f in list_faces(lib)}
        alice, grace = person_of["astronaut-0.jpg"], person_of["hopper-0.jpg"]
        name_person(lib, alice, "Alice")
        set_owner(lib, alice)
        name_person(lib, grace, "Grace Hopper")
    return root / "home", alice, grace


def trained_two_people_library(root: Path) -> tuple[Path, int, int]:
    """``two_people_library`` with a tiny-sd15 adapter for each person (trained under an
    attested training grant, the only grant left: generation needs a grant of its own)."""
    from likeness.adapters.curation import CurationRules
    from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
    from likeness.consent.grants import Scope, Trust, issue_grant

    home, alice, grace = two_people_library(root)
    with Library.open(home) as lib:
        for person in (alice, grace):
            issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
            decision = authorize_training(lib, person, "tiny-sd15")
            train_adapter(
                lib,
                decision,
                person,
                "tiny-sd15",
                TrainingParams(steps=40, learning_rate=2e-3, seed=person),
                rules=CurationRules(min_photos=2),
            )
    return home, alice, grace


def copy_home(home: Path, target: Path) -> Library:
    """An independent copy of a prepared library home, opened. A home whose catalog is in
    PostgreSQL gets a copy of that database too (the home records which: ``catalog.url``)."""
    from likeness.store.home import CATALOG_URL_FILE

    shutil.copytree(home, target)
    recorded = target / CATALOG_URL_FILE
    if recorded.exists():
        from likeness.testing.postgres import copy_database

        recorded.write_text(copy_database(recorded.read_text().strip()) + "\n")
    return Library.open(target)


def astronaut_variants():
    """Eight photos of the astronaut that are not near duplicates of each other (different
    framings, a mirror image, a tilt): enough for a small training set and held-out crops."""
    from PIL import Image, ImageOps

    base = astronaut()
    framings = [(0, 0, 512, 512), (60, 0, 380, 320), (100, 10, 340, 250), (20, 0, 420, 400)]
    out = []
    for box in framings:
        crop = base.crop(box).resize((400, 400))
        out.append(crop)
        out.append(ImageOps.mirror(crop).rotate(8, resample=Image.Resampling.BICUBIC))
    return out


def verified_grant(lib: Library, person: int, scopes, workdir: Path):
    """A verified grant through the real path: a live enrolment of the astronaut from an
    honest clip rendered to follow a fresh challenge (as the enrolment tests do)."""
    from likeness.consent.enrolment import enrol_from_video, start_enrolment
    from likeness.consent.grants import Trust, issue_grant
    from likeness.testing import clips

    pixels, face = clips.prepared(astronaut())
    session = start_enrolment(lib, person)
    video = clips.write_video(
        clips.honest_frames(pixels, face.landmarks, session), workdir / "enrolment.mp4"
    )
    result = enrol_from_video(lib, person, session.id, video)
    if not result.passed:
        raise RuntimeError(f"the rendered enrolment clip failed: {result.reason}")
    return issue_grant(lib, person, scopes, Trust.VERIFIED, enrolment_id=result.id)


def hopper_variants():
    """Four photos of Grace Hopper (matplotlib's sample) that are not near duplicates."""
    from matplotlib import cbook
    from PIL import Image, ImageOps

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        base = Image.open(f).convert("RGB")
    out = []
    for box in [(0, 0, 512, 600), (60, 20, 460, 420)]:
        crop = base.crop(box).resize((400, 400 * (box[3] - box[1]) // (box[2] - box[0])))
        out.append(crop)
        out.append(ImageOps.mirror(crop).rotate(-7, resample=Image.Resampling.BICUBIC))
    return out


def grow_library(
    lib: Library, people: int, faces_per_person: int, folder: Path, seed: int = 0
) -> None:
    """Grow ``lib`` (photos already imported) into a large library shaped like a user's:
    ``people`` people with ``faces_per_person`` faces on average (some many more: a few
    people are on most photos, most on a few), a face each on photos dated over ten years.

    Every new photo is one of the imported photos under another name (a symlink in
    ``folder``, so thumbnails are read from a real file) with its own content hash, and each
    new face copies a face found on it, box, landmarks and embedding (jittered), as an
    import would have stored it. Rows are written in bulk: thousands a second, where
    importing that many photos would take an hour. For the page timings of
    ``benchmarks/web_pages.py`` and the large-library tests, not a model of faces."""
    import hashlib
    import itertools
    import random
    from datetime import datetime, timedelta

    import numpy as np
    from sqlalchemy import insert, select

    from likeness import clock
    from likeness.faces.tables import Face
    from likeness.library.tables import Photo, PhotoFile
    from likeness.people.tables import Person

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with lib.session() as s:
        seeds = [
            (photo, file, [f for f in s.scalars(select(Face).where(Face.photo_id == photo.id))])
            for photo, file in s.execute(
                select(Photo, PhotoFile).join(PhotoFile, PhotoFile.photo_id == Photo.id)
            )
        ]
        seeds = [x for x in seeds if x[2]]
        if not seeds:
            raise ValueError("grow_library needs a library with imported faces")
        next_photo = (s.scalar(select(Photo.id).order_by(Photo.id.desc())) or 0) + 1
        next_face = (s.scalar(select(Face.id).order_by(Face.id.desc())) or 0) + 1
        now = clock.now()
        person_ids = []
        for i in range(people):
            person = Person(name=f"Person {i:04d}" if i % 3 else None, created_at=now)
            s.add(person)
            s.flush()
            person_ids.append(person.id)
        # Zipf-like weights: a few people on many photos, most on a few.
        weights = list(itertools.accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(people)))
        total_faces = people * faces_per_person
        photos, files, faces = [], [], []
        start = datetime(2015, 1, 1)
        for n in range(total_faces):
            photo, file, found = rng.choice(seeds)
            face = rng.choice(found)
            photo_id, face_id = next_photo + n, next_face + n
            link = folder / f"{photo_id:07d}{Path(file.display_path).suffix}"
            if not link.exists():
                link.symlink_to(Path(file.display_path).resolve())
            digest = hashlib.sha256(f"{photo.content_hash}/{photo_id}".encode()).hexdigest()
            photos.append(
                {
                    "id": photo_id,
                    "content_hash": digest,
                    "width": photo.width,
                    "height": photo.height,
                    "format": photo.format,
                    "taken_at": start + timedelta(minutes=rng.randrange(10 * 365 * 24 * 60)),
                    "taken_at_source": "exif",
                    "face_backend": photo.face_backend,
                    "indexed_at": now,
                }
            )
            stat = link.stat()
            files.append(
                {
                    "location": bytes(link),
                    "display_path": str(link),
                    "size": stat.st_size,
                    "mtime_ns": stat.st_mtime_ns,
                    "source": "folder",
                    "photo_id": photo_id,
                    "seen_at": now,
                }
            )
            embedding = np.frombuffer(face.embedding, dtype="<f4")
            jitter = np.random.default_rng(face_id).normal(0, 0.01, embedding.shape)
            faces.append(
                {
                    "id": face_id,
                    "photo_id": photo_id,
                    "x0": face.x0,
                    "y0": face.y0,
                    "x1": face.x1,
                    "y1": face.y1,
                    "landmarks": face.landmarks,
                    "embedding": (embedding + jitter).astype("<f4").tobytes(),
                    "detector_score": face.detector_score,
                    "quality": face.quality * rng.uniform(0.8, 1.0),
                    "sharpness": face.sharpness,
                    "frontalness": face.frontalness,
                    "person_id": rng.choices(person_ids, cum_weights=weights)[0],
                    "locked": False,
                    "grouped": True,
                }
            )
        s.execute(insert(Photo), photos)
        s.execute(insert(PhotoFile), files)
        s.execute(insert(Face), faces)
