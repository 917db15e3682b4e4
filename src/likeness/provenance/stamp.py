"""Stamp an output: watermark, fingerprint, sign, and keep the manifest in the local store.

``stamp_image`` is the last step before an image touches disk; ``find_provenance`` is how a
copy that lost its embedded manifest is traced back to it.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from likeness import clock
from likeness.provenance import fingerprint, keypoints, watermark
from likeness.provenance.credentials import (
    CredentialsReport,
    GenerationRecord,
    ProvenanceError,
    manifest_definition,
    mime_type,
    sign_image_and_manifest,
)
from likeness.provenance.tables import OutputKeypoints, PdqChunk, ProvenanceRecord

if TYPE_CHECKING:
    from likeness.provenance.clips import ClipMatch
from likeness.store import Library

#: The most pixels a file may have for its watermark, fingerprint and corners to be looked
#: for (an 8K screenshot is 33 million; outputs are a few).
MAX_PIXELS = 64 * 10**6
WATERMARK_ALG = "org.likeness.watermark.qim-dct.1"
FINGERPRINT_ALG = "org.likeness.fingerprint.pdq"
FORMATS = {
    "png": ("PNG", "image/png"),
    "jpeg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
}
#: Pillow's decoder for each kind of file that can carry Content Credentials here.
FORMATS_BY_MIME = {mime: pil_format for pil_format, mime in FORMATS.values()}


def encoder_options(pil_format: str, quality: int = 95) -> dict[str, int]:
    """How an output is encoded in ``pil_format``: JPEG and WebP at ``quality``; PNG at zlib
    level 4 (ComfyUI's choice: at 1 MP 2.5x faster than Pillow's default 6, for a file 1%
    larger)."""
    return {"quality": quality} if pil_format in ("JPEG", "WEBP") else {"compress_level": 4}


@dataclass(frozen=True)
class StampedImage:
    data: bytes  # the encoded, watermarked and signed file
    mime: str
    watermark_id: int
    pdq: bytes
    sha256: str


def fresh_watermark_id(lib: Library) -> int:
    """A watermark id no stored output has."""
    with lib.session() as s:
        while True:
            candidate = secrets.randbits(32)
            if s.get(ProvenanceRecord, candidate) is None:
                return candidate


def stamp_image(
    lib: Library,
    pixels: np.ndarray,
    fmt: str,
    record: GenerationRecord,
    quality: int = 95,
    safety_seq: int | None = None,
) -> StampedImage:
    """Watermark ``pixels`` with a fresh id, fingerprint them, encode as ``fmt`` (png, jpeg,
    webp), sign the Content Credentials (which name both keys as soft bindings) and store
    the manifest locally, beside the audit entry of the safety verdict that released them
    (``safety_seq``). Returns the file's bytes; the caller writes them."""
    from PIL import Image

    if fmt not in FORMATS:
        raise ProvenanceError(f"unknown output format {fmt!r}; choose png, jpeg or webp")
    pil_format, mime = FORMATS[fmt]
    mark_id = fresh_watermark_id(lib)
    marked = watermark.embed(pixels, mark_id)
    pdq, _ = fingerprint.pdq(marked)
    buf = io.BytesIO()
    options = encoder_options(pil_format, quality)
    Image.fromarray(marked).save(buf, pil_format, **options)
    record = replace(
        record,
        soft_bindings=(
            (WATERMARK_ALG, f"{mark_id:08x}"),
            (FINGERPRINT_ALG, pdq.hex()),
        ),
    )
    signed, manifest_store = sign_image_and_manifest(lib, buf.getvalue(), mime, record)
    digest = hashlib.sha256(signed).hexdigest()
    with lib.session() as s:
        s.add(
            ProvenanceRecord(
                watermark_id=mark_id,
                pdq=pdq,
                sha256=digest,
                mime=mime,
                width=int(pixels.shape[1]),
                height=int(pixels.shape[0]),
                manifest=json.dumps(manifest_definition(record)),
                manifest_store=manifest_store,
                created_at=clock.now(),
                safety_seq=safety_seq,
            )
        )
        index_fingerprint(s, mark_id, pdq)
        s.add(keypoint_row(mark_id, keypoints.describe_output(marked)))
    return StampedImage(signed, mime, mark_id, pdq, digest)


def index_fingerprint(s: Session, mark_id: int, pdq: bytes) -> None:
    """Put a stored output's fingerprint in the chunk index (after its record)."""
    s.flush()  # the record first: its chunks refer to it
    s.add_all(
        PdqChunk(chunk=i, value=value, watermark_id=mark_id)
        for i, value in enumerate(fingerprint.chunks(pdq))
    )


def keypoint_row(mark_id: int, corners: keypoints.Keypoints) -> OutputKeypoints:
    """A stored output's corners as kept in the catalog (after its record)."""
    points, descriptors = corners.to_bytes()
    width, height = corners.size
    return OutputKeypoints(
        watermark_id=mark_id, width=width, height=height, points=points, descriptors=descriptors
    )


@dataclass
class ProvenanceReport:
    """What ``provenance verify`` found in a file."""

    file: str
    credentials: CredentialsReport
    #: The stored manifest the file's watermark points to (its watermark id), if any.
    watermark_id: int | None = None
    watermark_confidence: float | None = None
    #: The stored manifest the file's fingerprint is closest to within the match distance.
    fingerprint_match: int | None = None
    fingerprint_distance: int | None = None
    #: How the file was turned or flipped from the output it matched (``fingerprint.COPY_WAS``).
    fingerprint_copy: str | None = None
    #: When the fingerprint found nothing (a crop, a small turn, a frame around the picture):
    #: the stored output whose corners the file's match, how many agree, what was done.
    keypoints_match: int | None = None
    keypoints_inliers: int | None = None
    keypoints_copy: str | None = None
    stored_manifest: dict | None = None
    #: For a clip: how many of its frames were read, and of those hashed, how many matched
    #: a frame of the stored clip the fingerprint found.
    frames: int | None = None
    frames_hashed: int | None = None
    frames_matched: int | None = None

    def note_clip_match(self, match: ClipMatch | None) -> None:
        """Record the stored clip the file's frames (or a still's one frame) found."""
        if match is not None:
            self.fingerprint_match, self.fingerprint_distance = match.mark, match.distance
            self.frames_hashed, self.frames_matched = match.hashed, match.matched

    @property
    def keys(self) -> list[int]:
        """The stored outputs the file's watermark, fingerprint and corners found, in that
        order (each key that found none left out)."""
        found = (self.watermark_id, self.fingerprint_match, self.keypoints_match)
        return [key for key in found if key is not None]

    @property
    def found(self) -> bool:
        return self.credentials.state != "none" or bool(self.keys)

    @property
    def stored_key(self) -> int | None:
        """The watermark id of the stored manifest the file points to: its watermark's, or
        else its fingerprint's, or else its corners'."""
        return self.keys[0] if self.keys else None

    @property
    def keys_agree(self) -> bool | None:
        """Whether the keys that found a stored output found the same one (None: fewer than
        two found one)."""
        return None if len(self.keys) < 2 else len(set(self.keys)) == 1

    def as_json(self) -> dict:
        return {
            "file": self.file,
            "found": self.found,
            "credentials": self.credentials.as_json(),
            "watermark": None
            if self.watermark_id is None
            else {"id": f"{self.watermark_id:08x}", "confidence": self.watermark_confidence},
            "fingerprint": None
            if self.fingerprint_match is None
            else {
                "id": f"{self.fingerprint_match:08x}",
                "distance": self.fingerprint_distance,
                "copy": self.fingerprint_copy,
            }
            | (
                {}
                if self.frames_matched is None
                else {"frames_hashed": self.frames_hashed, "frames_matched": self.frames_matched}
            ),
            "keypoints": None
            if self.keypoints_match is None
            else {
                "id": f"{self.keypoints_match:08x}",
                "inliers": self.keypoints_inliers,
                "copy": self.keypoints_copy,
            },
            "stored_manifest": self.stored_manifest,
            **({} if self.frames is None else {"frames": self.frames}),
        }


def find_provenance(lib: Library, path: Path) -> ProvenanceReport:
    """Embedded credentials, and the local manifest that the file's watermark and fingerprint
    point to (found even when re-encoding stripped the embedded manifest), or when the
    fingerprint finds nothing, its corners (a crop, a small turn, a frame around it). A
    video file or animated image is read as a clip (``clips.find_clip_provenance``)."""
    from PIL import Image, UnidentifiedImageError

    from likeness.provenance.clips import find_clip_provenance, is_clip
    from likeness.provenance.credentials import verify_credentials

    path = Path(path)
    if is_clip(path):
        return find_clip_provenance(lib, path)
    mime = mime_type(path)  # a clear error for files that are not PNG, JPEG or WebP
    report = ProvenanceReport(str(path), verify_credentials(lib, path))
    try:
        # Only the decoder of the file's own kind: Pillow would otherwise try every format
        # it knows on bytes that merely begin like a PNG or JPEG.
        with Image.open(path, formats=[FORMATS_BY_MIME[mime]]) as im:
            if im.width * im.height > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{im.width}x{im.height}")
            pixels = np.asarray(im.convert("RGB"))
    except Exception as exc:  # Pillow's plugins raise many kinds on bad data
        if report.credentials.state != "none":
            return report  # undecodable pixels: the credentials' verdict is the answer
        if isinstance(exc, Image.DecompressionBombError):
            # A few KB of PNG can claim gigapixels: refused before any is allocated.
            raise ProvenanceError(
                f"{path}: too many pixels to look for a watermark or fingerprint in "
                f"(over {MAX_PIXELS // 10**6} megapixels)"
            ) from None
        reason = exc if isinstance(exc, (UnidentifiedImageError, OSError)) else "damaged data"
        raise ProvenanceError(f"{path}: cannot decode the image: {reason}") from None
    with lib.session() as s:
        sizes = s.execute(select(ProvenanceRecord.width, ProvenanceRecord.height).distinct())
        read = watermark.read(pixels, [tuple(size) for size in sizes])
        if read is not None and s.get(ProvenanceRecord, read.id) is not None:
            report.watermark_id, report.watermark_confidence = read.id, read.confidence
        # The file as it is, mirrored and turned: a copy flipped before it was posted is found.
        best = nearest_stored(s, fingerprint.pdq_variants(pixels))
        if best is not None:
            report.fingerprint_match, report.fingerprint_distance = best[:2]
            report.fingerprint_copy = fingerprint.COPY_WAS[best[2]]
    if best is None:  # a still taken from a clip: any of its frames' fingerprints
        from likeness.provenance.clips import nearest_clip

        report.note_clip_match(nearest_clip(lib, [pixels]))
    if report.fingerprint_match is None:  # cropped, turned or framed: corners may match
        found = nearest_by_keypoints(lib, pixels)
        if found is not None:
            report.keypoints_match, correspondence = found
            report.keypoints_inliers = correspondence.inliers
            report.keypoints_copy = correspondence.words()
    return attach_stored_manifest(lib, report)


def attach_stored_manifest(lib: Library, report: ProvenanceReport) -> ProvenanceReport:
    """``report`` with the stored manifest its first key found (``stored_key``), if any."""
    key = report.stored_key
    if key is not None:
        with lib.session() as s:
            report.stored_manifest = json.loads(s.get(ProvenanceRecord, key).manifest)
    return report


#: How each image format that can carry Content Credentials here begins, and its suffix.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"))


def image_suffix(data: bytes) -> str | None:
    """``.png``, ``.jpg`` or ``.webp`` by what ``data`` begins with (not by what a sender
    says it is), or None."""
    for magic, suffix in _MAGIC:
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


UPLOAD_PREFIX = "check-"
#: An upload's folder older than this was left by a process that was killed mid-check.
STALE_UPLOAD_S = 3600


def _remove_stale_uploads(lib: Library) -> None:
    import shutil
    import time

    for folder in lib.vault.glob(f"{UPLOAD_PREFIX}*"):
        try:
            if time.time() - folder.stat().st_mtime > STALE_UPLOAD_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # removed meanwhile by another check


def find_provenance_in_bytes(lib: Library, data: bytes, name: str) -> ProvenanceReport:
    """``find_provenance`` of an image received as bytes (an upload), reported under
    ``name``: the bytes go to a private temporary file in the vault, deleted afterwards (and
    one left by a killed process is removed by a later check), and no message names that
    file."""
    import tempfile

    suffix = image_suffix(data)
    if suffix is None:
        raise ProvenanceError(f"{name}: not a PNG, JPEG or WebP image")
    _remove_stale_uploads(lib)
    with tempfile.TemporaryDirectory(dir=lib.vault, prefix=UPLOAD_PREFIX) as folder:
        path = Path(folder) / f"image{suffix}"
        path.write_bytes(data)
        try:
            report = find_provenance(lib, path)
        except ProvenanceError as exc:
            raise ProvenanceError(str(exc).replace(str(path), name)) from None
    report.file = name
    return report


def nearest_stored(s: Session, variants: list[bytes]) -> tuple[int, int, int] | None:
    """The stored output nearest one of the file's hashes within the match distance, through
    the chunk index (``PdqChunk``): only outputs sharing a chunk to within one bit with a
    variant are read, and every output in matching distance shares one."""
    candidates: set[int] = set()
    for i, values in enumerate(fingerprint.chunk_probes(variants)):
        candidates.update(
            s.scalars(
                select(PdqChunk.watermark_id).where(
                    PdqChunk.chunk == i, PdqChunk.value.in_(sorted(values))
                )
            )
        )
    stored = s.execute(
        select(ProvenanceRecord.watermark_id, ProvenanceRecord.pdq).where(
            ProvenanceRecord.watermark_id.in_(sorted(candidates))
        )
    ).all()
    return fingerprint.nearest(variants, [(mark, bytes(pdq)) for mark, pdq in stored])


def nearest_by_keypoints(
    lib: Library, pixels: np.ndarray, min_inliers: int = keypoints.MIN_INLIERS
) -> tuple[int, keypoints.Correspondence] | None:
    """The stored output whose corners the image's match best (as it is or mirrored), if
    at least ``min_inliers`` agree on one transform: candidates from the search index, each
    checked."""
    from likeness.provenance.keypoint_index import keypoint_index

    as_is, mirrored = keypoints.describe_copy(pixels)
    proposed = keypoint_index(lib).candidates(as_is, mirrored)
    if not proposed:
        return None
    with lib.session() as s:
        rows = s.scalars(
            select(OutputKeypoints).where(
                OutputKeypoints.watermark_id.in_({mark for mark, _ in proposed})
            )
        )
        stored = {
            row.watermark_id: keypoints.Keypoints.from_bytes(
                row.points, row.descriptors, (row.width, row.height)
            )
            for row in rows
        }
    best: tuple[int, keypoints.Correspondence] | None = None
    for mark, flipped in proposed:
        if mark not in stored:
            continue  # deleted since it was indexed
        copy = mirrored if flipped else as_is
        found = keypoints.match(copy, stored[mark], flipped, min_inliers)
        if found is not None and (best is None or found.inliers > best[1].inliers):
            best = (mark, found)
    return best


def released_images(lib: Library, safety_seqs: Collection[int]) -> dict[int, dict[str, str]]:
    """The stamped images released by these safety verdicts (audit seqs), by seq: each one's
    watermark id (hex) and signed file's SHA-256, what finds a copy of it again."""
    if not safety_seqs:
        return {}
    with lib.session() as s:
        rows = s.execute(
            select(
                ProvenanceRecord.safety_seq, ProvenanceRecord.watermark_id, ProvenanceRecord.sha256
            ).where(ProvenanceRecord.safety_seq.in_(set(safety_seqs)))
        ).all()
    return {seq: {"watermark": f"{mark:08x}", "file_sha256": sha} for seq, mark, sha in rows}
