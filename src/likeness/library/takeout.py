"""Google Photos Takeout: pair each photo with its JSON sidecar and read what Google kept there.

Takeout stores capture time, location, albums and people names in JSON sidecars beside the
photos, under names that follow (undocumented) rules this module encodes:

- ``IMG.jpg`` -> ``IMG.jpg.json``; since 2024 ``IMG.jpg.supplemental-metadata.json``.
- Sidecar names are cut to fit a length limit: the classic form keeps the first 46 characters of
  the photo's name (``<46 chars>.json``, 51 in all); the supplemental form cuts the suffix instead
  (``IMG.jpg.supplemental-metad.json``, ``IMG.jpg.suppl.json``, ``IMG.jpg..json``), and cuts the
  photo's name too once the suffix is gone.
- Duplicate names get a counter that moves: ``image(1).jpg`` <-> ``image.jpg(1).json`` (or
  ``image.jpg.supplemental-metadata(1).json``).
- Edited copies (``IMG-edited.jpg`` and its translations) share the original's sidecar.
- Some exports drop the extension: ``IMG.json`` for ``IMG.jpg``.
- When names do not settle it, the sidecar's ``title`` field holds the original file name.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: Suffixes Google Photos gives edited copies, by export language.
EDITED_SUFFIXES = (
    "-edited",
    "-effects",
    "-smile",
    "-mix",
    "-collage",
    "-animation",
    "-bearbeitet",  # de
    "-modifié",  # fr
    "-editado",
    "-ha editado",  # es, pt
    "-modificato",  # it
    "-bewerkt",  # nl
    "-edytowane",  # pl
    "-redigeret",  # da
    "-redigerad",  # sv
    "-muokattu",  # fi
    "-editat",  # ca, ro
    "-upravené",  # sk
    "-編集済み",  # ja
    "-편집됨",  # ko
    "-已修改",  # zh
    "-измененный",  # ru
)
SUPPLEMENTAL = "supplemental-metadata"
#: The classic sidecar keeps this many characters of the photo's file name.
CLASSIC_NAME_LIMIT = 46
#: A sidecar file name this long (or longer) may have been cut to fit.
SIDECAR_NAME_LIMIT = 51
_COUNTER = re.compile(r"^(?P<stem>.*)\((?P<n>\d+)\)$")
_MEDIA_COUNTER = re.compile(r"^(?P<base>.*)\((?P<n>\d+)\)(?P<ext>\.[^.]*)$")


@dataclass
class TakeoutMetadata:
    """What a sidecar says about one photo."""

    title: str | None = None
    taken_at: datetime | None = None
    gps: tuple[float, float] | None = None
    people: list[str] = field(default_factory=list)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def parse_sidecar(data: bytes) -> TakeoutMetadata:
    """Parse a photo sidecar; raises ValueError with a reason when it is malformed."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed sidecar JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("malformed sidecar JSON: top level is not an object")
    meta = TakeoutMetadata(title=doc.get("title") if isinstance(doc.get("title"), str) else None)
    taken = doc.get("photoTakenTime")
    if isinstance(taken, dict):
        try:
            meta.taken_at = datetime.fromtimestamp(int(taken["timestamp"]), UTC).replace(
                tzinfo=None
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            meta.taken_at = None
    for key in ("geoDataExif", "geoData"):  # the photo's own EXIF first, Google's guess second
        geo = doc.get(key)
        if isinstance(geo, dict):
            try:
                lat, lon = float(geo.get("latitude", 0)), float(geo.get("longitude", 0))
            except (TypeError, ValueError):
                continue
            if (lat, lon) != (0.0, 0.0) and -90 <= lat <= 90 and -180 <= lon <= 180:
                meta.gps = (lat, lon)
                break
    people = doc.get("people")
    if isinstance(people, list):
        names = [p.get("name") for p in people if isinstance(p, dict)]
        meta.people = sorted({_nfc(n.strip()) for n in names if isinstance(n, str) and n.strip()})
    return meta


def is_photo_sidecar(doc: object) -> bool:
    return isinstance(doc, dict) and ("photoTakenTime" in doc or "creationTime" in doc)


def album_title(doc: object) -> str | None:
    """The title of an album metadata file (``metadata.json`` and its translations)."""
    if isinstance(doc, dict) and not is_photo_sidecar(doc):
        title = doc.get("title")
        if isinstance(title, str) and title.strip():
            return _nfc(title.strip())
    return None


def strip_edited(name: str) -> str:
    """``IMG-edited.jpg`` -> ``IMG.jpg``; names without an edited suffix come back unchanged."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    for suffix in EDITED_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            return f"{stem}.{ext}" if dot else stem
    return name


@dataclass(frozen=True)
class SidecarKey:
    """A sidecar file name taken apart: the (possibly cut) photo name it refers to and counter."""

    stem: str
    counter: str  # "" or "(N)"
    truncated: bool  # the stem may be a cut-off prefix of the photo name


def sidecar_key(json_name: str) -> SidecarKey | None:
    """Take a sidecar's file name apart, or None when it is not a ``.json`` name."""
    if not json_name.lower().endswith(".json"):
        return None
    stem = json_name[:-5]
    counter = ""
    m = _COUNTER.match(stem)
    if m:
        stem, counter = m.group("stem"), f"({m.group('n')})"
    at_limit = len(json_name) >= SIDECAR_NAME_LIMIT - 4
    # Remove ".supplemental-metadata" or any cut-off prefix of it (".suppl", ".s", ".").
    head, dot, tail = stem.rpartition(".")
    if dot and tail and SUPPLEMENTAL.startswith(tail.lower()):
        return SidecarKey(head, counter, at_limit or tail.lower() != SUPPLEMENTAL)
    if dot and not tail:  # "IMG.jpg..json": suffix cut down to its dot
        return SidecarKey(head, counter, True)
    return SidecarKey(stem, counter, at_limit or len(stem) >= CLASSIC_NAME_LIMIT)


def media_key(media_name: str) -> tuple[str, str]:
    """The name a sidecar would refer to, and the counter: ``image(1).jpg`` -> (image.jpg, (1))."""
    name = strip_edited(_nfc(media_name))
    m = _MEDIA_COUNTER.match(name)
    if m:
        return m.group("base") + m.group("ext"), f"({m.group('n')})"
    return name, ""


def match_sidecars(media_names: list[str], sidecars: dict[str, TakeoutMetadata]) -> dict[str, str]:
    """Pair photos with sidecars within one folder: returns {media name: sidecar name}.

    ``sidecars`` maps each photo-sidecar file name of the folder to its parsed contents (the
    ``title`` is the last resort when names are ambiguous or cut beyond recognition).
    """
    keys = {name: key for name in sidecars if (key := sidecar_key(_nfc(name))) is not None}
    result: dict[str, str] = {}
    for media in media_names:
        target, counter = media_key(media)
        target_l = target.lower()
        no_ext = target_l.rpartition(".")[0] or target_l
        best: tuple[int, str] | None = None
        for name, key in keys.items():
            if key.counter != counter:
                continue
            stem = key.stem.lower()
            if stem == target_l:
                score = 3
            elif stem == no_ext:
                score = 2
            elif key.truncated and len(stem) >= 8 and target_l.startswith(stem):
                score = 1
            else:
                continue
            if best is None or (score, len(stem)) > (best[0], len(keys[best[1]].stem)):
                best = (score, name)
        if best is None:
            # Fall back to the title Google recorded (the photo name may itself have been cut).
            for name, meta in sidecars.items():
                key = keys.get(name)
                title = _nfc(meta.title or "").lower()
                if (
                    key is not None
                    and key.counter == counter
                    and title
                    and (
                        title == target_l
                        or title.startswith(target_l.rpartition(".")[0] or target_l)
                    )
                ):
                    best = (0, name)
                    break
        if best is not None:
            result[media] = best[1]
    return result
