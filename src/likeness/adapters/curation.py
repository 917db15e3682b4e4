"""Pick a person's training set from their photo group, automatically.

What makes a good LoRA training set of a face, as DreamBooth and kohya users learn by hand: the
face large and sharp, frontal to three-quarter, the person clearly the main subject, no
near-duplicates (bursts, edits, re-saves of one photo), and variety of pose, time and setting,
10 to 30 photos. Each chosen face is cropped square around the head with context, at the base
model's resolution, and captioned with the person's trigger token plus what can be measured
of the photo (framing, which way the face turns, black and white, dim light). There is no
captioning model: the captions say only what these measurements support.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import or_, select

from likeness.errors import InvalidError
from likeness.faces.tables import Face
from likeness.library.photos import read_photos
from likeness.library.tables import Photo
from likeness.people.contact_sheet import save_private_image
from likeness.people.records import get_person
from likeness.store import Library
from likeness.store.keys import write_private

#: Crop side as a multiple of the face box: head, hair and some shoulders.
CONTEXT = 2.6
#: Near-duplicate photos: 64-bit pHash within this many bits (as the importer links them).
PHASH_BITS = 6


class TrainingSetError(InvalidError):
    """No usable training set: too few photos pass the checks (the message says why)."""


@dataclass(frozen=True)
class CurationRules:
    min_photos: int = 10
    max_photos: int = 30
    #: Face box side in photo pixels; smaller faces upscale into blur.
    min_face_px: int = 80
    #: ``faces.quality`` sharpness (Laplacian variance of the aligned chip, 0..1).
    min_sharpness: float = 0.05
    #: ``faces.quality`` frontalness: 1 frontal, about 0.35 at three-quarter, 0 in profile.
    min_frontalness: float = 0.3
    #: The person's face must be this many times larger (area) than any other face.
    main_face_ratio: float = 2.0


@dataclass
class Example:
    face_id: int
    photo_id: int
    box: tuple[int, int, int, int]
    crop_box: tuple[int, int, int, int]
    caption: str
    sha256: str  # of the crop's pixels, recorded in the adapter's metadata
    upscaled: bool
    image: Image.Image = field(repr=False)

    def as_json(self) -> dict:
        return {
            "face_id": self.face_id,
            "photo_id": self.photo_id,
            "box": list(self.box),
            "crop_box": list(self.crop_box),
            "caption": self.caption,
            "sha256": self.sha256,
            "upscaled": self.upscaled,
        }


@dataclass
class TrainingSet:
    person_id: int
    person_uid: str
    trigger: str
    resolution: int
    examples: list[Example]
    candidates: int
    rejected: Counter

    def as_json(self) -> dict:
        return {
            "person": self.person_id,
            "trigger": self.trigger,
            "resolution": self.resolution,
            "candidates": self.candidates,
            "chosen": len(self.examples),
            "rejected": dict(self.rejected),
            "examples": [e.as_json() for e in self.examples],
        }

    def data_hash(self) -> str:
        """One hash over the chosen crops and captions: what the adapter was trained on."""
        return hashlib.sha256(
            json.dumps([[e.sha256, e.caption] for e in self.examples]).encode()
        ).hexdigest()


def trigger_token(person_uid: str) -> str:
    """A rare made-up word that stands for the person in captions and prompts (as DreamBooth's
    "sks"), unique per person and stable: ``lk`` and four consonants from the uid's hash."""
    letters = "bcdfgjkmpqvwxz"
    digest = hashlib.sha256(person_uid.encode()).digest()
    return "lk" + "".join(letters[b % len(letters)] for b in digest[:4])


def _yaw(landmarks: list) -> float:
    """Signed turn from the 5 landmarks: nose position along the eye axis, -0.5..0.5."""
    pts = np.asarray(landmarks, dtype=np.float64)
    eye_a, eye_b, nose = pts[0:2].mean(axis=0), pts[2:4].mean(axis=0), pts[4]
    axis = eye_b - eye_a
    length2 = float(axis @ axis)
    return 0.0 if length2 < 1e-9 else float((nose - eye_a) @ axis / length2) - 0.5


@dataclass
class _Candidate:
    face: Face
    photo: Photo
    yaw: float


def _hamming(a: int | None, b: int | None) -> int:
    if a is None or b is None:
        return 64
    return bin((a ^ b) & (2**64 - 1)).count("1")


def _novelty(c: _Candidate, chosen: list[_Candidate]) -> float:
    """0..1: how unlike the already chosen faces this one is in pose, time and setting."""
    if not chosen:
        return 1.0
    best = 1.0
    for o in chosen:
        pose = min(1.0, abs(c.yaw - o.yaw) / 0.3)
        if c.photo.taken_at and o.photo.taken_at:
            days = abs((c.photo.taken_at - o.photo.taken_at).total_seconds()) / 86400
            time = min(1.0, math.log1p(days) / math.log1p(365))
        else:
            time = 0.5
        setting = min(1.0, _hamming(c.photo.phash, o.photo.phash) / 32)
        best = min(best, (pose + time + setting) / 3)
    return best


def _crop_box(face: Face, width: int, height: int) -> tuple[int, int, int, int]:
    fw, fh = face.x1 - face.x0, face.y1 - face.y0
    side = int(min(max(fw, fh) * CONTEXT, width, height))
    cx = (face.x0 + face.x1) / 2
    cy = (face.y0 + face.y1) / 2 + 0.15 * fh  # a little room for the shoulders
    x0 = int(min(max(0, cx - side / 2), width - side))
    y0 = int(min(max(0, cy - side / 2), height - side))
    return x0, y0, x0 + side, y0 + side


def _caption(trigger: str, c: _Candidate, crop: np.ndarray, face_fraction: float) -> str:
    parts = [f"a photo of {trigger} person"]
    parts.append("close-up portrait" if face_fraction > 0.45 else "head and shoulders")
    if abs(c.yaw) > 0.12:
        # The nose towards the image's left eye means the face turns to the image's left.
        parts.append("face turned to the left" if c.yaw < 0 else "face turned to the right")
    rgb = crop.astype(np.float32)
    if np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean() < 3.0:
        parts.append("black and white photo")
    if rgb.mean() < 60:
        parts.append("dim light")
    return ", ".join(parts)


def curate(
    lib: Library,
    person_id: int,
    resolution: int,
    rules: CurationRules | None = None,
) -> TrainingSet:
    """Choose, crop and caption the person's training set, or raise ``TrainingSetError``
    saying how many photos are usable, how many are needed and why the others were not."""
    rules = rules or CurationRules()
    rejected: Counter = Counter()
    with lib.session() as s:
        person = get_person(s, person_id)
        uid = person.uid
        faces = s.scalars(select(Face).where(Face.person_id == person_id)).all()
        photo_ids = {f.photo_id for f in faces}
        photos = {p.id: p for p in s.scalars(select(Photo).where(Photo.id.in_(photo_ids)))}
        # Everyone else's faces in those photos, unassigned ones (person_id NULL) included.
        others = s.scalars(
            select(Face).where(
                Face.photo_id.in_(photo_ids),
                or_(Face.person_id != person_id, Face.person_id.is_(None)),
            )
        ).all()
    biggest_other: dict[int, int] = {}
    for o in others:
        area = (o.x1 - o.x0) * (o.y1 - o.y0)
        biggest_other[o.photo_id] = max(biggest_other.get(o.photo_id, 0), area)

    candidates: list[_Candidate] = []
    for f in faces:
        side = min(f.x1 - f.x0, f.y1 - f.y0)
        area = (f.x1 - f.x0) * (f.y1 - f.y0)
        if side < rules.min_face_px:
            rejected[f"face smaller than {rules.min_face_px} px"] += 1
        elif f.sharpness < rules.min_sharpness:
            rejected["blurred"] += 1
        elif f.frontalness < rules.min_frontalness:
            rejected["turned away (beyond three-quarter)"] += 1
        elif area < rules.main_face_ratio * biggest_other.get(f.photo_id, 0):
            rejected["not the main face of the photo"] += 1
        else:
            candidates.append(_Candidate(f, photos[f.photo_id], _yaw(json.loads(f.landmarks))))

    # Near duplicates: keep the best face of each set of linked or look-alike photos.
    candidates.sort(key=lambda c: (-c.face.quality, c.face.id))
    distinct: list[_Candidate] = []
    for c in candidates:
        root = c.photo.near_duplicate_of or c.photo.id
        if any(
            (o.photo.near_duplicate_of or o.photo.id) == root
            or _hamming(o.photo.phash, c.photo.phash) <= PHASH_BITS
            for o in distinct
        ):
            rejected["near duplicate of a chosen photo"] += 1
        else:
            distinct.append(c)

    # Variety: greedily take the face that best combines quality and novelty.
    chosen: list[_Candidate] = []
    pool = distinct[:]
    while pool and len(chosen) < rules.max_photos:
        best = max(pool, key=lambda c: c.face.quality * (0.4 + 0.6 * _novelty(c, chosen)))
        pool.remove(best)
        chosen.append(best)
    if pool:
        rejected[f"beyond the {rules.max_photos} most varied"] += len(pool)

    trigger = trigger_token(uid)
    examples: list[Example] = []
    by_photo = {c.photo.id: c for c in chosen}
    for photo_id, pixels in read_photos(lib, by_photo):
        c = by_photo[photo_id]
        if isinstance(pixels, str):
            rejected["photo can no longer be read"] += 1
            continue
        h, w = pixels.shape[:2]
        crop_box = _crop_box(c.face, w, h)
        x0, y0, x1, y1 = crop_box
        crop = np.ascontiguousarray(pixels[y0:y1, x0:x1])
        image = Image.fromarray(crop).resize((resolution, resolution), Image.Resampling.LANCZOS)
        face_fraction = (c.face.x1 - c.face.x0) / max(1, x1 - x0)
        examples.append(
            Example(
                face_id=c.face.id,
                photo_id=photo_id,
                box=(c.face.x0, c.face.y0, c.face.x1, c.face.y1),
                crop_box=crop_box,
                caption=_caption(trigger, c, crop, face_fraction),
                sha256=hashlib.sha256(np.asarray(image).tobytes()).hexdigest(),
                upscaled=(x1 - x0) < resolution,
                image=image,
            )
        )
    examples.sort(key=lambda e: e.face_id)
    if len(examples) < rules.min_photos:
        why = "; ".join(f"{n} {reason}" for reason, n in rejected.most_common()) or "none"
        raise TrainingSetError(
            f"person {person_id} has {len(examples)} usable photo(s) of {len(faces)} face(s); "
            f"training needs at least {rules.min_photos}. Not used: {why}"
        )
    return TrainingSet(person_id, uid, trigger, resolution, examples, len(faces), rejected)


def write_dataset_sheet(training_set: TrainingSet, out: Path, tile: int = 192) -> Path:
    """A contact sheet of the chosen crops, each with its number and face id, and the captions
    listed beside it in a text file (``out`` with ``.txt``); both readable by their owner only
    (0600: faces are biometric data), a folder made for them 0700."""
    n = len(training_set.examples)
    cols = min(6, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    sheet = Image.new("RGB", (cols * tile, rows * tile), (32, 32, 32))
    for i, e in enumerate(training_set.examples):
        img = e.image.resize((tile, tile))
        draw = ImageDraw.Draw(img)
        label = f"{i + 1} #{e.face_id}" + (" (upscaled)" if e.upscaled else "")
        draw.rectangle(draw.textbbox((3, tile - 13), label), fill=(0, 0, 0))
        draw.text((3, tile - 13), label, fill=(255, 255, 0))
        sheet.paste(img, ((i % cols) * tile, (i // cols) * tile))
    save_private_image(sheet, out)
    lines = [f"{i + 1}\tface {e.face_id}\t{e.caption}" for i, e in enumerate(training_set.examples)]
    write_private(out.with_suffix(".txt"), ("\n".join(lines) + "\n").encode())
    return out
