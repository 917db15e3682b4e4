"""Import photos into a library: scan, read, de-duplicate, analyse faces, record, group.

This is the pipeline behind ``likeness import``; it wires the rooms together in flow order
(library -> faces -> people) and, like the CLI, is imported by no room.

Crash safety: each photo is recorded in one transaction (photo, its files, faces, albums,
labels), and a file's ``location``/size/mtime is only written together with its outcome. A kill
at any point leaves a consistent catalog; the next run skips what was recorded and redoes the
rest, so nothing is lost or duplicated. Grouping marks faces as grouped in the transaction that
places them, so it resumes too.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from likeness import clock
from likeness.faces.analyze import AnalysisFailure, PhotoAnalysis, analyze_in_worker, start_worker
from likeness.faces.backends import backend_class, backend_spec
from likeness.faces.detection import DetectionSettings
from likeness.faces.tables import Face
from likeness.library.dedupe import NearDuplicateIndex, content_hash
from likeness.library.sources import Problem, SourceItem, read_items, scan
from likeness.library.tables import Album, ImportRun, Photo, PhotoAlbum, PhotoFile, PhotoLabel
from likeness.people.manage import assign_pending
from likeness.people.never import count_withheld, do_not_generate_matcher
from likeness.store import Library, hold_write_lock

ProgressCallback = Callable[[int, int], None]


@dataclass
class ImportReport:
    kind: str
    files: int = 0
    added: int = 0
    unchanged: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    faces: int = 0
    grouped: int = 0
    #: Faces matching a person who asked never to be generated: not kept (``consent.erasure``).
    withheld: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "files": self.files,
            "added": self.added,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "faces": self.faces,
            "grouped": self.grouped,
            "withheld": self.withheld,
            "problems": [{"path": p.display_path, "reason": p.reason} for p in self.problems],
            "seconds": round(self.seconds, 3),
        }


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _worker_context():
    """How the workers start: fork where it is safe, else from a fork server.

    fork starts workers at once and needs no ``__main__`` guard, but a child forked from a
    process that has run PyTorch can hang in its first torch call (locks held by the parent's
    native threads at the fork; seen after training in the same process). So fork is used
    only while this process has not imported torch and runs no other thread (the CLI: its
    progress bar redraws from the callback, without a refresh thread). Otherwise the workers
    fork from a fork server: a fresh interpreter that has imported the analysis modules but run
    nothing, so they start fast and clean (the caller needs the usual ``__main__`` guard).
    """
    methods = get_all_start_methods()
    if "fork" in methods and "torch" not in sys.modules and threading.active_count() == 1:
        return get_context("fork")
    if "forkserver" in methods:
        context = get_context("forkserver")
        context.set_forkserver_preload(["likeness.faces.analyze"])
        return context
    return get_context("spawn")


class _Recorder:
    """Writes outcomes to the catalog, one transaction per photo or problem."""

    def __init__(self, lib: Library, report: ImportReport, backend_name: str) -> None:
        self.lib = lib
        self.report = report
        self.backend_name = backend_name
        with lib.session() as s:
            rows = s.execute(select(Photo.id, Photo.phash).where(Photo.phash.is_not(None))).all()
        self.near = NearDuplicateIndex([r[0] for r in rows], [r[1] for r in rows])

    def _file(self, s: Session, item: SourceItem, photo_id: int | None, problem: str | None):
        # Read then write under the write lock: another import of the same folder (a second
        # server on the catalog) may record the same file at the same time.
        hold_write_lock(s)
        row = s.scalar(select(PhotoFile).where(PhotoFile.location == item.location))
        old_photo = row.photo_id if row is not None else None
        if row is None:
            row = PhotoFile(location=item.location)
            s.add(row)
        row.display_path = item.display_path
        row.size, row.mtime_ns, row.source = item.size, item.mtime_ns, item.source
        row.photo_id, row.problem, row.seen_at = photo_id, problem, clock.now()
        s.flush()
        if old_photo is not None and old_photo != photo_id:
            _drop_if_orphan(s, old_photo)

    def _attach_takeout(self, s: Session, item: SourceItem, photo_id: int) -> None:
        for title in item.albums:
            album = s.scalar(select(Album).where(Album.title == title))
            if album is None:
                album = Album(title=title)
                s.add(album)
                s.flush()
            if s.get(PhotoAlbum, (photo_id, album.id)) is None:
                s.add(PhotoAlbum(photo_id=photo_id, album_id=album.id))
        if item.metadata is not None:
            for name in item.metadata.people:
                if s.get(PhotoLabel, (photo_id, name)) is None:
                    s.add(PhotoLabel(photo_id=photo_id, name=name))

    def problem(self, item: SourceItem, reason: str) -> None:
        with self.lib.session() as s:
            self._file(s, item, None, reason)
        self.report.problems.append(Problem(item.display_path, reason, item.location))

    def link(self, items: list[SourceItem], photo_id: int) -> None:
        with self.lib.session() as s:
            for item in items:
                self._file(s, item, photo_id, None)
                self._attach_takeout(s, item, photo_id)
        self.report.duplicates += len(items)

    def photo(self, items: list[SourceItem], digest: str, result: PhotoAnalysis) -> None:
        meta = next((i.metadata for i in items if i.metadata is not None), None)
        taken_at, taken_source = result.taken_at, "exif" if result.taken_at else None
        gps = result.gps
        if meta is not None:  # Google's record holds the user's corrections: it wins
            if meta.taken_at is not None:
                taken_at, taken_source = meta.taken_at, "takeout"
            gps = meta.gps or gps
        with self.lib.session() as s:
            # The templates as they are now, under the write lock: a person erased while
            # this import runs is withheld from the next photo on.
            hold_write_lock(s)
            # Another import (a second server on the catalog) may have added the same photo
            # since this one looked: it is then a duplicate, linked, not added twice.
            added = s.scalar(select(Photo.id).where(Photo.content_hash == digest))
            if added is not None:
                for item in items:
                    self._file(s, item, added, None)
                    self._attach_takeout(s, item, added)
                self.report.duplicates += len(items)
                return
            never = do_not_generate_matcher(s, self.backend_name)
            near = self.near.find(result.phash)
            photo = Photo(
                content_hash=digest,
                phash=result.phash,
                near_duplicate_of=near,
                width=result.width,
                height=result.height,
                format=result.format,
                taken_at=taken_at,
                taken_at_source=taken_source,
                gps_lat=gps[0] if gps else None,
                gps_lon=gps[1] if gps else None,
                camera_make=result.camera_make,
                camera_model=result.camera_model,
                face_backend=self.backend_name,
                indexed_at=clock.now(),
            )
            s.add(photo)
            s.flush()
            kept = []
            for face in result.faces:
                uid = never.match(face.embedding) if never else None
                if uid is not None:  # kept only to refuse: the face is not recorded
                    count_withheld(s, self.backend_name, [uid])
                    self.report.withheld += 1
                else:
                    kept.append(face)
            for face in kept:
                s.add(
                    Face(
                        photo_id=photo.id,
                        x0=face.box[0],
                        y0=face.box[1],
                        x1=face.box[2],
                        y1=face.box[3],
                        landmarks=json.dumps(
                            [[round(x, 1), round(y, 1)] for x, y in face.landmarks]
                        ),
                        embedding=face.embedding.astype("<f4").tobytes(),
                        detector_score=face.detector_score,
                        quality=face.quality,
                        sharpness=face.sharpness,
                        frontalness=face.frontalness,
                        locked=False,
                        grouped=False,
                    )
                )
            for item in items:
                self._file(s, item, photo.id, None)
                self._attach_takeout(s, item, photo.id)
        self.near.add(photo.id, result.phash)
        self.report.added += 1
        self.report.duplicates += len(items) - 1
        self.report.near_duplicates += near is not None
        self.report.faces += len(kept)


def _drop_if_orphan(s: Session, photo_id: int) -> None:
    """A photo whose last file changed content is gone: drop it and its faces (not people)."""
    if s.scalar(select(PhotoFile.id).where(PhotoFile.photo_id == photo_id).limit(1)) is None:
        s.execute(delete(Face).where(Face.photo_id == photo_id))
        s.execute(delete(PhotoAlbum).where(PhotoAlbum.photo_id == photo_id))
        s.execute(delete(PhotoLabel).where(PhotoLabel.photo_id == photo_id))
        s.execute(delete(Photo).where(Photo.id == photo_id))


def import_photos(
    lib: Library,
    path: Path | str,
    *,
    workers: int | None = None,
    settings: DetectionSettings | None = None,
    progress: ProgressCallback | None = None,
    group: bool = True,
) -> ImportReport:
    """Import a folder or a Google Photos Takeout export (folder or archives) into ``lib``.

    Bad files never stop the import: each is recorded with its reason and listed in
    ``report.problems``. Raises only for a path that does not exist or is not importable (a
    path inside the library's home: its generated images are not photos to learn from; a
    folder that holds the home is imported without it). Symlinks to folders are not followed
    (see ``likeness.library.sources``).
    """
    started = time.perf_counter()
    found = scan(Path(path), skip=[lib.home])
    report = ImportReport(kind=found.kind, files=len(found.items))
    report.problems.extend(found.problems)
    with lib.session() as s:
        run = ImportRun(root=str(Path(path).absolute()), kind=found.kind, started_at=clock.now())
        s.add(run)
        s.flush()
        run_id = run.id
        known = {
            loc: (size, mtime, problem)
            for loc, size, mtime, problem in s.execute(
                select(PhotoFile.location, PhotoFile.size, PhotoFile.mtime_ns, PhotoFile.problem)
            )
        }
    todo: list[SourceItem] = []
    for item in found.items:
        seen = known.get(item.location)
        if seen is not None and seen[0] == item.size and seen[1] == item.mtime_ns:
            report.unchanged += 1
            if seen[2] is not None:  # a known bad file: still a problem, no work redone
                report.problems.append(Problem(item.display_path, seen[2], item.location))
        else:
            todo.append(item)
    total = len(found.items)
    done = report.unchanged
    if progress:
        progress(done, total)

    backend = backend_spec()  # the workers get it explicitly (see backend_spec)
    recorder = _Recorder(lib, report, backend_class(backend).name)
    workers = workers or default_workers()
    waiting: dict[str, list[SourceItem]] = {}  # content hash -> files, while being analysed
    in_flight: dict[Future, str] = {}

    def finish(fut: Future) -> int:
        digest = in_flight.pop(fut)
        items = waiting.pop(digest)
        try:
            result = fut.result()
        except Exception as exc:  # a worker crash must not lose the rest of the import
            result = AnalysisFailure(f"analysis failed: {type(exc).__name__}: {exc}")
        if isinstance(result, AnalysisFailure):
            for item in items:
                recorder.problem(item, result.reason)
        else:
            recorder.photo(items, digest, result)
        return len(items)

    if todo:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_worker_context(),
            initializer=start_worker,
            initargs=(
                settings or DetectionSettings(),
                max(1, default_workers() // workers),
                backend,
            ),
        )
        try:
            for item, data in read_items(todo):
                if isinstance(data, OSError):
                    recorder.problem(item, f"unreadable file: {data.strerror or data}")
                    done += 1
                elif (digest := content_hash(data)) in waiting:
                    waiting[digest].append(item)
                else:
                    with lib.session() as s:
                        existing = s.scalar(select(Photo.id).where(Photo.content_hash == digest))
                    if existing is not None:
                        recorder.link([item], existing)
                        done += 1
                    else:
                        waiting[digest] = [item]
                        in_flight[pool.submit(analyze_in_worker, data)] = digest
                while len(in_flight) >= 2 * workers:
                    finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                    done += sum(finish(f) for f in finished)
                if progress:
                    progress(done, total)
            while in_flight:
                finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                done += sum(finish(f) for f in finished)
                if progress:
                    progress(done, total)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if group:
        report.grouped = assign_pending(lib)
    report.seconds = time.perf_counter() - started
    with lib.session() as s:
        run = s.get(ImportRun, run_id)
        run.finished_at = clock.now()
        run.photos_added, run.faces_added = report.added, report.faces
        run.problems = len(report.problems)
    return report
