"""Find the photos under a path: a plain folder, or a Google Photos Takeout export.

A Takeout export is recognised automatically: ``.zip``/``.tgz``/``.tar.gz`` archives (all parts
of a multi-part export together, since a photo's sidecar may sit in another part), or a folder
holding a ``Google Photos`` directory or the archives. Everything else is a plain folder, walked
recursively.

The walk stays inside the folder the user chose. A symlink to a folder is never followed: one
that leads out of the chosen folder is reported (import its target itself to include it), one
that leads to a folder containing it is reported as a loop, and one to another folder inside is
skipped, that folder being walked where it is (so nothing is read twice). A symlink to a file is
followed wherever it points: a photo linked into the folder was put there on purpose. The
library's own home (its generated images, its vault) is never imported: it is skipped inside the
chosen folder, links into it are skipped, and choosing it or a folder inside it is refused.

Each photo becomes a :class:`SourceItem` with a stable ``location`` key (raw path bytes, or the
archive path and member name) so that a re-import recognises files it has already seen.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from likeness.errors import InvalidError, NotFoundError
from likeness.library.decode import IMAGE_EXTENSIONS
from likeness.library.takeout import (
    TakeoutMetadata,
    album_title,
    is_photo_sidecar,
    match_sidecars,
    parse_sidecar,
)

ARCHIVE_SUFFIXES = (".zip", ".tgz", ".tar.gz", ".tar")
_YEAR_FOLDER = re.compile(r"^(Photos from \d{4}|Fotos von \d{4}|Photos de \d{4}|Fotos de \d{4})$")
#: Sidecars and album files are read into memory; a real one is a few KB.
MAX_JSON_BYTES = 4 * 1024 * 1024


def display(raw: bytes) -> str:
    """A printable form of raw path bytes (names need not be valid UTF-8)."""
    return raw.decode("utf-8", errors="backslashreplace")


@dataclass
class Problem:
    display_path: str
    reason: str
    location: bytes | None = None


@dataclass
class SourceItem:
    location: bytes
    display_path: str
    size: int
    mtime_ns: int
    source: str  # "folder" | "takeout"
    path: bytes | None = None  # a file on disk
    archive: str | None = None  # or a member of this archive
    member: str | None = None
    metadata: TakeoutMetadata | None = None
    albums: tuple[str, ...] = ()

    @classmethod
    def from_location(
        cls, location: bytes, display_path: str, size: int, mtime_ns: int, source: str
    ) -> SourceItem:
        """Rebuild an item from its catalog record (the inverse of how ``location`` is made:
        raw path bytes, or archive path + NUL + member name)."""
        if b"\0" in location:
            archive, member = location.split(b"\0", 1)
            return cls(
                location,
                display_path,
                size,
                mtime_ns,
                source,
                archive=os.fsdecode(archive),
                member=member.decode("utf-8", "surrogateescape"),
            )
        return cls(location, display_path, size, mtime_ns, source, path=location)


@dataclass
class Scan:
    kind: str  # "folder" | "takeout"
    items: list[SourceItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _is_image_name(name: str | bytes) -> bool:
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    lower = name.lower()
    return any(lower.endswith(ext) for ext in IMAGE_EXTENSIONS)


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_parts(archive: Path) -> list[Path]:
    """All parts of a multi-part Takeout export (``takeout-…-001.zip``, ``-002.zip``…)."""
    m = re.match(r"^(?P<prefix>.+-)\d{3}(?P<ext>\.zip|\.tgz|\.tar\.gz)$", archive.name, re.I)
    if not m:
        return [archive]
    # Parts share the export's prefix; accept any archive type (a re-download may differ).
    pattern = re.compile(re.escape(m.group("prefix")) + r"\d{3}(\.zip|\.tgz|\.tar\.gz)", re.I)
    return sorted(p for p in archive.parent.iterdir() if pattern.fullmatch(p.name))


class SourceError(InvalidError):
    """The path to import is missing or is neither a folder nor a Takeout archive."""


class SourceNotFoundError(NotFoundError, SourceError):
    """The path to import does not exist."""


def scan(path: Path, *, skip: Sequence[Path] = ()) -> Scan:
    """List the photos under ``path``, detecting a Takeout export automatically.

    ``skip``: folders never to import from (the library's home); choosing one of them, or a
    path inside one, raises :class:`SourceError`.
    """
    path = Path(path)
    if not path.exists():
        raise SourceNotFoundError(f"{path}: no such file or folder")
    bounds = _Bounds.of(path, skip)
    if (home := bounds.skipped(bounds.root)) is not None:
        raise SourceError(
            f"{path}: inside the library's own home ({display(home)}); its files are the"
            " library's own (generated images, contact sheets) and are not imported"
        )
    if path.is_file():
        if _is_archive(path.name):
            return _scan_takeout_archives(archive_parts(path))
        raise SourceError(f"{path}: not a folder or a Takeout archive (.zip, .tgz, .tar.gz)")
    entries = list(path.iterdir())
    archives = sorted(p for p in entries if p.is_file() and _is_archive(p.name))
    if archives and all(p.name.lower().startswith("takeout") for p in archives):
        result = _scan_takeout_archives(archives)
        loose = _scan_takeout_folder(path, bounds)  # loose exported folders too
        result.items.extend(loose.items)
        result.problems.extend(p for p in loose.problems if p.reason in (_OUTSIDE, _LOOP))
        return result
    if _find_google_photos_dir(path) is not None:
        return _scan_takeout_folder(path, bounds)
    return _scan_folder(path, bounds)


def _find_google_photos_dir(root: Path) -> Path | None:
    for candidate in (root, root / "Takeout"):
        gp = candidate / "Google Photos"
        if gp.is_dir():
            return gp
    if root.name == "Google Photos":
        return root
    return None


# -- plain folders --------------------------------------------------------------------------


def _inside(path: bytes, folder: bytes) -> bool:
    """Whether real path ``path`` is ``folder`` or under it (both from ``os.path.realpath``)."""
    return path == folder or path.startswith(folder.rstrip(b"/") + b"/")


@dataclass(frozen=True)
class _Bounds:
    """Where a walk may go: inside ``root`` (a real path), never into a ``skip`` folder."""

    root: bytes
    skip: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, chosen: Path, skip: Sequence[Path] = ()) -> _Bounds:
        real = [os.path.realpath(os.fsencode(Path(p).absolute())) for p in skip]
        return cls(os.path.realpath(os.fsencode(Path(chosen).absolute())), tuple(real))

    def skipped(self, real: bytes) -> bytes | None:
        """The skipped folder that real path ``real`` is in, if any."""
        return next((home for home in self.skip if _inside(real, home)), None)


def _walk(
    root: bytes, problems: list[Problem], bounds: _Bounds | None = None
) -> Iterator[tuple[bytes, os.stat_result]]:
    """Files under ``root`` (raw bytes paths), staying inside ``bounds`` (default: ``root``).

    Symlinks to folders are not followed (see the module's docstring); symlinks to files are.
    """
    if bounds is None:
        bounds = _Bounds(os.path.realpath(root))
    real_root = os.path.realpath(root)
    if not _inside(real_root, bounds.root):  # a Takeout's "Google Photos" linked from elsewhere
        problems.append(Problem(display(root), _OUTSIDE))
        return
    skip_keys = set()
    for home in bounds.skip:
        try:
            st = os.stat(home)
        except OSError:
            continue
        skip_keys.add((st.st_dev, st.st_ino))
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            problems.append(Problem(display(folder), f"cannot open folder: {exc.strerror}"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in skip_keys:
            continue  # the library's home: its files are its own
        if key in seen_dirs:  # a bind mount can loop without a symlink
            problems.append(Problem(display(folder), "folder loop: folder already visited"))
            continue
        seen_dirs.add(key)
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            problems.append(Problem(display(folder), f"cannot list folder: {exc.strerror}"))
            continue
        subdirs = []
        for name in names:
            full = os.path.join(folder, name)
            try:
                st = os.lstat(full)
            except OSError as exc:
                problems.append(Problem(display(full), f"cannot stat: {exc.strerror}", full))
                continue
            if stat.S_ISLNK(st.st_mode):
                try:
                    st = os.stat(full)
                except OSError:
                    if _is_image_name(name):
                        problems.append(Problem(display(full), "broken symlink", full))
                    continue
                target = os.path.realpath(full)
                if bounds.skipped(target) is not None:
                    continue  # a link into the library's home
                if stat.S_ISDIR(st.st_mode):
                    if _inside(os.path.realpath(folder), target):
                        problems.append(Problem(display(full), _LOOP))
                    elif not _inside(target, bounds.root):
                        problems.append(Problem(display(full), _OUTSIDE))
                    # else: a folder inside, walked where it is
                    continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(full)
            elif stat.S_ISREG(st.st_mode):
                yield full, st
        stack.extend(reversed(subdirs))


_OUTSIDE = (
    "symlink to a folder outside the imported folder: not followed (import that folder itself"
    " to include it)"
)
_LOOP = "symlink loop: links to a folder that contains it, not followed"


def _scan_folder(root: Path, bounds: _Bounds) -> Scan:
    result = Scan("folder")
    for full, st in _walk(os.fsencode(root.absolute()), result.problems, bounds):
        if _is_image_name(full):
            result.items.append(
                SourceItem(full, display(full), st.st_size, st.st_mtime_ns, "folder", path=full)
            )
    return result


# -- Takeout ----------------------------------------------------------------------------------


@dataclass
class _Entry:
    """A file of a Takeout export, on disk or in an archive, by its path inside the export."""

    relpath: PurePosixPath
    size: int
    mtime_ns: int
    item: SourceItem | None = None  # for media
    read_json: object = None  # for JSON: a callable returning bytes


def _assemble_takeout(entries: list[_Entry], result: Scan) -> None:
    """Pair media with sidecars folder by folder and attach album titles."""
    by_dir: dict[PurePosixPath, list[_Entry]] = defaultdict(list)
    for e in entries:
        by_dir[e.relpath.parent].append(e)
    # Albums are folders; the same photo in a year folder and an album is one photo (by content
    # hash) that belongs to that album.
    for folder, folder_entries in by_dir.items():
        sidecars: dict[str, TakeoutMetadata] = {}
        title: str | None = None
        for e in folder_entries:
            if e.item is not None or e.read_json is None:
                continue
            try:
                raw = e.read_json()
                import json

                doc = json.loads(raw.decode("utf-8-sig"))
            except Exception as exc:
                result.problems.append(
                    Problem(str(e.relpath), f"malformed sidecar JSON: {exc}", None)
                )
                continue
            if is_photo_sidecar(doc):
                try:
                    sidecars[e.relpath.name] = parse_sidecar(raw)
                except ValueError as exc:
                    result.problems.append(Problem(str(e.relpath), str(exc)))
            elif (t := album_title(doc)) is not None:
                title = t
        if (
            title is None
            and folder.name not in ("Google Photos", "Takeout", "")
            and not _YEAR_FOLDER.match(folder.name)
        ):
            title = folder.name  # an album without a readable metadata.json
        media = [e for e in folder_entries if e.item is not None]
        pairs = match_sidecars([e.relpath.name for e in media], sidecars)
        for e in media:
            assert e.item is not None
            sidecar = pairs.get(e.relpath.name)
            e.item.metadata = sidecars.get(sidecar) if sidecar else None
            e.item.albums = (title,) if title else ()
            result.items.append(e.item)


def _scan_takeout_folder(root: Path, bounds: _Bounds) -> Scan:
    result = Scan("takeout")
    base = _find_google_photos_dir(root) or root
    entries = []
    for full, st in _walk(os.fsencode(base.absolute()), result.problems, bounds):
        rel = PurePosixPath(os.fsdecode(os.path.relpath(full, os.fsencode(base.absolute()))))
        name = rel.name
        if _is_image_name(name):
            item = SourceItem(full, display(full), st.st_size, st.st_mtime_ns, "takeout", path=full)
            entries.append(_Entry(rel, st.st_size, st.st_mtime_ns, item=item))
        elif name.lower().endswith(".json") and st.st_size <= MAX_JSON_BYTES:
            entries.append(_Entry(rel, st.st_size, st.st_mtime_ns, read_json=_file_reader(full)))
    _assemble_takeout(entries, result)
    return result


def _file_reader(path: bytes):
    def read() -> bytes:
        with open(path, "rb") as f:
            return f.read()

    return read


def _inside_google_photos(name: str) -> PurePosixPath | None:
    parts = PurePosixPath(name).parts
    if "Google Photos" in parts:
        return PurePosixPath(*parts[parts.index("Google Photos") + 1 :])
    return None


def _scan_takeout_archives(archives: list[Path]) -> Scan:
    result = Scan("takeout")
    entries: list[_Entry] = []
    for archive in archives:
        archive = archive.absolute()
        try:
            if archive.name.lower().endswith(".zip"):
                entries.extend(_zip_entries(archive))
            else:
                entries.extend(_tar_entries(archive))
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
            result.problems.append(Problem(str(archive), f"unreadable archive: {exc}"))
    _assemble_takeout(entries, result)
    return result


def _archive_item(archive: Path, member: str, size: int, mtime_ns: int) -> SourceItem:
    location = os.fsencode(archive) + b"\0" + member.encode("utf-8", "surrogateescape")
    return SourceItem(
        location,
        f"{archive}:{member}",
        size,
        mtime_ns,
        "takeout",
        archive=str(archive),
        member=member,
    )


def _zip_entries(archive: Path) -> Iterator[_Entry]:
    import time

    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            rel = _inside_google_photos(info.filename)
            if rel is None:
                continue
            mtime_ns = int(time.mktime((*info.date_time, 0, 0, -1)) * 1e9)
            if _is_image_name(rel.name):
                item = _archive_item(archive, info.filename, info.file_size, mtime_ns)
                yield _Entry(rel, info.file_size, mtime_ns, item=item)
            elif rel.name.lower().endswith(".json") and info.file_size <= MAX_JSON_BYTES:
                yield _Entry(
                    rel,
                    info.file_size,
                    mtime_ns,
                    read_json=lambda a=archive, n=info.filename: _read_zip(a, n),
                )


def _read_zip(archive: Path, member: str) -> bytes:
    with zipfile.ZipFile(archive) as zf:
        return zf.read(member)


def _tar_entries(archive: Path) -> Iterator[_Entry]:
    # A compressed tar has no random access: read the small JSON files in this one pass.
    with tarfile.open(archive) as tf:
        for info in tf:
            if not info.isfile():
                continue
            rel = _inside_google_photos(info.name)
            if rel is None:
                continue
            mtime_ns = int(info.mtime * 1e9)
            if _is_image_name(rel.name):
                item = _archive_item(archive, info.name, info.size, mtime_ns)
                yield _Entry(rel, info.size, mtime_ns, item=item)
            elif rel.name.lower().endswith(".json") and info.size <= MAX_JSON_BYTES:
                f = tf.extractfile(info)
                data = f.read() if f is not None else b""
                yield _Entry(rel, info.size, mtime_ns, read_json=lambda d=data: d)


def read_items(items: list[SourceItem]) -> Iterator[tuple[SourceItem, bytes | OSError]]:
    """Each item's bytes (or the OSError that stopped reading it), in an order that is cheap.

    Files and zip members are read one by one (a zip has random access; it is kept open); the
    members of a compressed tar are read in a single pass over the archive.
    """
    by_archive: dict[str, list[SourceItem]] = defaultdict(list)
    for item in items:
        if item.path is not None:
            try:
                with open(item.path, "rb") as f:
                    yield item, f.read()
            except OSError as exc:
                yield item, exc
        else:
            assert item.archive is not None
            by_archive[item.archive].append(item)
    for archive, members in by_archive.items():
        try:
            if archive.lower().endswith(".zip"):
                with zipfile.ZipFile(archive) as zf:
                    for item in members:
                        try:
                            yield item, zf.read(item.member)
                        except (OSError, zipfile.BadZipFile, KeyError) as exc:
                            yield item, OSError(f"cannot read archive member: {exc}")
            else:
                wanted = {item.member: item for item in members}
                with tarfile.open(archive) as tf:
                    for info in tf:
                        item = wanted.pop(info.name, None)
                        if item is None:
                            continue
                        f = tf.extractfile(info)
                        yield item, (f.read() if f else OSError("not a regular file"))
                for item in wanted.values():
                    yield item, OSError("archive member vanished")
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
            for item in members:
                yield item, OSError(f"unreadable archive: {exc}")
