"""Video clips: stamped as images are (watermark, fingerprint, Content Credentials, the local
manifest store), and traced back after the re-encoding every video site applies.

- **Watermark**: every frame carries the clip's one 32-bit id (``watermark.embed``), at the
  coarser scale H.264 keeps (``watermark.clip_scale``). A copy is read from all the frames
  it has together (``watermark.read_frames`` sums the frames' votes), so two seconds of a
  clip that was re-encoded, scaled or trimmed hold enough.
- **Fingerprint**: each frame's PDQ hash is kept in the catalog (``ClipFrameHash``). A copy's
  frames are hashed and each votes for the stored clip that has a frame within the match
  distance; frames need not line up, so a trimmed copy or one at another frame rate is found.
  The middle frame's hash and corners are also stored as an image's are, so a still taken
  from the clip (a screenshot) is found by ``find_provenance`` like any image.
- **Content Credentials**: the same manifest as an image's (created, trainedAlgorithmicMedia,
  training and mining not allowed, grants and adapters by id, no names, no thumbnails),
  embedded in the MP4 (C2PA's BMFF binding) or the animated WebP by the official SDK.
"""

from __future__ import annotations

import hashlib
import io
import json
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sqlalchemy import select

from likeness import clock
from likeness.provenance import fingerprint, keypoints, watermark
from likeness.provenance.credentials import (
    CredentialsReport,
    GenerationRecord,
    ProvenanceError,
    manifest_definition,
    sign_image_and_manifest,
    verify_credentials,
)
from likeness.provenance.tables import ClipFrameHash, ProvenanceRecord
from likeness.store import Library

#: The clip formats likeness writes: (file suffix, MIME type).
CLIP_FORMATS = {"mp4": (".mp4", "video/mp4"), "webp": (".webp", "image/webp")}
#: The files a clip's copy may come as, by suffix: the MIME type its credentials are read
#: with (None: a container C2PA does not bind to, read for its frames only).
CLIP_SUFFIXES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".gif": "image/gif",
    ".webm": None,
    ".mkv": None,
}
#: H.264's constant-rate factor for written clips: visually lossless, so the watermark and
#: fingerprint start from the frames that were judged.
WRITE_CRF = 17
#: A copy's frames read for its watermark and fingerprint: the first this many, and no more
#: pixels in all than ``READ_PIXELS`` (384 MB of frames: a 1080p copy's first 61 frames,
#: two seconds at 30 fps), so a crafted file of many huge frames cannot exhaust memory.
READ_FRAMES = 240
READ_PIXELS = 128 * 10**6
#: Frames of a copy hashed for its fingerprint (spread evenly over those read).
HASHED_FRAMES = 48
#: Frames of a copy that must each match a frame of one stored clip (fewer when the copy
#: has fewer), and the share of its hashed frames they must be.
MIN_FRAME_VOTES = 3
MIN_FRAME_SHARE = 0.25
#: The most pixels one frame may have (as for an image: ``stamp.MAX_PIXELS``).
MAX_FRAME_PIXELS = 64 * 10**6


@dataclass(frozen=True)
class StampedClip:
    data: bytes  # the encoded, watermarked and signed file
    mime: str
    watermark_id: int
    sha256: str


def encode_clip(frames: np.ndarray, fps: int, fmt: str, crf: int = WRITE_CRF) -> bytes:
    """(frames, height, width, 3) uint8 as an MP4 (H.264, yuv420p, at ``crf``) or an
    animated WebP."""
    if fmt == "webp":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        buf = io.BytesIO()
        images[0].save(
            buf,
            "WEBP",
            save_all=True,
            append_images=images[1:],
            duration=round(1000 / fps),
            loop=0,
            quality=95,
        )
        return buf.getvalue()
    import av

    height, width = frames.shape[1:3]
    if width % 2 or height % 2:
        raise ProvenanceError(f"an H.264 clip needs even sides, not {width}x{height}")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return buf.getvalue()


def stamp_clip(
    lib: Library,
    frames: np.ndarray,
    fps: int,
    fmt: str,
    record: GenerationRecord,
    safety_seq: int | None = None,
) -> StampedClip:
    """Watermark every frame with a fresh id, fingerprint each, encode as ``fmt`` (mp4,
    webp), sign the Content Credentials and store the manifest and the frames' hashes
    locally, beside the audit entry of the safety verdict that released the clip."""
    from likeness.provenance.stamp import (
        FINGERPRINT_ALG,
        WATERMARK_ALG,
        fresh_watermark_id,
        index_fingerprint,
        keypoint_row,
    )

    if fmt not in CLIP_FORMATS:
        raise ProvenanceError(f"unknown clip format {fmt!r}; choose mp4 or webp")
    _, mime = CLIP_FORMATS[fmt]
    mark_id = fresh_watermark_id(lib)
    scale = watermark.clip_scale(frames.shape[2], frames.shape[1])
    marked = np.stack(
        [watermark.embed(f, mark_id, scale, watermark.MIN_FRAME_BLOCKS) for f in frames]
    )
    hashes = [fingerprint.pdq(f)[0] for f in marked]
    middle = len(marked) // 2
    record = replace(
        record,
        soft_bindings=(
            (WATERMARK_ALG, f"{mark_id:08x}"),
            (FINGERPRINT_ALG, hashes[middle].hex()),
        ),
    )
    signed, manifest_store = sign_image_and_manifest(
        lib, encode_clip(marked, fps, fmt), mime, record
    )
    digest = hashlib.sha256(signed).hexdigest()
    with lib.session() as s:
        s.add(
            ProvenanceRecord(
                watermark_id=mark_id,
                pdq=hashes[middle],
                sha256=digest,
                mime=mime,
                width=int(frames.shape[2]),
                height=int(frames.shape[1]),
                manifest=json.dumps(manifest_definition(record)),
                manifest_store=manifest_store,
                created_at=clock.now(),
                safety_seq=safety_seq,
            )
        )
        index_fingerprint(s, mark_id, hashes[middle])
        s.add(keypoint_row(mark_id, keypoints.describe_output(marked[middle])))
        s.add_all(ClipFrameHash(watermark_id=mark_id, frame=i, pdq=h) for i, h in enumerate(hashes))
    return StampedClip(signed, mime, mark_id, digest)


# -- finding a copy ----------------------------------------------------------------------


def is_clip(path: Path) -> bool:
    """Whether ``path`` is a video file or an animated image (a WebP or GIF of frames)."""
    suffix = path.suffix.lower()
    if suffix in CLIP_SUFFIXES:
        return True
    if suffix != ".webp":
        return False
    from PIL import Image

    try:
        with Image.open(path, formats=["WEBP"]) as im:
            return getattr(im, "n_frames", 1) > 1
    except Exception:  # not decodable as WebP: the image path reports why
        return False


def read_clip_frames(path: Path, limit: int = READ_FRAMES) -> list[np.ndarray]:
    """The first frames of a video file (PyAV) or an animated image (Pillow), as RGB uint8:
    at most ``limit``, and no more pixels in all than ``READ_PIXELS`` (each frame counted as
    decoded: a stream may change its size midway); ``ProvenanceError`` for what cannot be
    decoded or has a frame over ``MAX_FRAME_PIXELS``."""
    frames: list[np.ndarray] = []
    budget = READ_PIXELS

    def keep(frame: np.ndarray) -> bool:
        """Keep a decoded frame; False once no more are wanted."""
        nonlocal budget
        height, width = frame.shape[:2]
        if width * height > MAX_FRAME_PIXELS:
            raise ProvenanceError(f"{path}: frames too large to look at ({width}x{height})")
        if frames and width * height > budget:
            return False
        budget -= width * height
        frames.append(frame)
        return len(frames) < limit

    try:
        if path.suffix.lower() in (".gif", ".webp"):
            from PIL import Image, ImageSequence

            with Image.open(path, formats=["GIF", "WEBP"]) as im:
                if im.width * im.height > MAX_FRAME_PIXELS:  # before any is decoded
                    raise ProvenanceError(
                        f"{path}: frames too large to look at ({im.width}x{im.height})"
                    )
                for image in ImageSequence.Iterator(im):
                    if not keep(np.asarray(image.convert("RGB"))):
                        break
        else:
            import av

            with av.open(str(path)) as container:
                for frame in container.decode(container.streams.video[0]):
                    if frame.width * frame.height > MAX_FRAME_PIXELS:  # before converting
                        raise ProvenanceError(
                            f"{path}: frames too large to look at ({frame.width}x{frame.height})"
                        )
                    if not keep(frame.to_ndarray(format="rgb24")):
                        break
    except ProvenanceError:
        raise
    except Exception as exc:  # PyAV's and Pillow's decoders raise many kinds on bad data
        raise ProvenanceError(f"{path}: cannot decode the clip: {exc}") from None
    if not frames:
        raise ProvenanceError(f"{path}: no frames in this file")
    return frames


class ClipMatch(NamedTuple):
    """The stored clip a copy's frames found by their fingerprints."""

    mark: int  # its watermark id
    matched: int  # the copy's hashed frames that match a frame of it
    hashed: int  # the copy's frames hashed
    distance: int  # the median distance of those that match


def nearest_clip(lib: Library, frames: list[np.ndarray]) -> ClipMatch | None:
    """The stored clip most of the copy's hashed frames find a frame of, within the match
    distance; None when no clip gets enough (``MIN_FRAME_VOTES``, ``MIN_FRAME_SHARE``)."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(HASHED_FRAMES, len(frames))).round())
    queries = [fingerprint.pdq(frames[int(i)])[0] for i in picks]
    with lib.session() as s:
        stored = s.execute(select(ClipFrameHash.watermark_id, ClipFrameHash.pdq)).all()
    if not stored:
        return None
    marks = np.array([mark for mark, _ in stored])
    dist = fingerprint.distances(queries, [bytes(h) for _, h in stored])  # (stored, queries)
    votes: dict[int, list[int]] = {}
    for q in range(len(queries)):
        best = int(np.argmin(dist[:, q]))
        if dist[best, q] <= fingerprint.MATCH_BITS:
            votes.setdefault(int(marks[best]), []).append(int(dist[best, q]))
    if not votes:
        return None
    mark, found = max(votes.items(), key=lambda kv: (len(kv[1]), -statistics.median(kv[1])))
    needed = max(min(MIN_FRAME_VOTES, len(queries)), round(MIN_FRAME_SHARE * len(queries)))
    if len(found) < needed:
        return None
    return ClipMatch(mark, len(found), len(queries), int(statistics.median(found)))


def find_clip_provenance(lib: Library, path: Path):
    """``find_provenance`` for a clip: its embedded credentials, and the stored clip its
    frames' watermark and fingerprint point to (found after the manifest was stripped)."""
    from likeness.provenance.stamp import ProvenanceReport, attach_stored_manifest

    path = Path(path)
    mime = CLIP_SUFFIXES.get(path.suffix.lower(), "image/webp")
    credentials = verify_credentials(lib, path, mime) if mime else CredentialsReport("none")
    report = ProvenanceReport(str(path), credentials)
    try:
        frames = read_clip_frames(path)
    except ProvenanceError:
        if credentials.state != "none":
            return report  # undecodable frames: the credentials' verdict is the answer
        raise
    report.frames = len(frames)
    with lib.session() as s:
        sizes = s.execute(select(ProvenanceRecord.width, ProvenanceRecord.height).distinct())
        sizes = [tuple(size) for size in sizes]
        read = watermark.read_frames(frames, sizes, watermark.clip_scale)
        if read is not None and s.get(ProvenanceRecord, read.id) is not None:
            report.watermark_id, report.watermark_confidence = read.id, read.confidence
    report.note_clip_match(nearest_clip(lib, frames))
    return attach_stored_manifest(lib, report)
