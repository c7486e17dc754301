"""The `files` connector: a person's folder (e.g. /srv/nextcloud/data/{uid}/files).

Only the person's own root counts (principle 7): the folders of the template below its
fixed part (`/srv/nextcloud/data/`) must be real folders, not links, so that a link
`alice -> bob` can never make alice's export or deletion reach bob's files.
Export walks the folder without following links out of it, keeps names and modification
times, keeps empty folders as folder entries, skips devices, sockets and pipes, and reads
every file through descriptors opened component by component with O_NOFOLLOW, so a link
swapped in during the download is not followed either. Delete removes the folder.

Import (moving house) writes the archive's file tree under the person's root, through
the same descriptors: each folder is opened (or made) with O_NOFOLLOW below the one
before, so a link planted in the root never leads a write outside it; names with `..`,
absolute paths and empty parts are refused. A file already there with the same SHA-256
is skipped; a different file at that path is never overwritten: the imported one is kept
beside it as "name (imported).ext" (both stay, the report says so). Each file is written
to a temporary name, checked against its SHA-256, given its modification time, then
linked into place without replacing anything.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from flask_babel import gettext as _

from app.connectors.base import (
    N_,
    ArchiveEntry,
    ConnectorError,
    DataItem,
    DeletionPlan,
    PlannedItem,
    Skipped,
    StepResult,
    safe_uid,
)
from app.connectors.formats import format_name
from app.connectors.importing import (
    IMPORTED,
    REFUSED,
    SKIPPED,
    ImportItem,
    ImportPart,
    ImportProgress,
    Malformed,
    PartKind,
)
from app.directory import Person

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _display_name(name: str) -> str:
    """File names are bytes on Linux: keep valid UTF-8, repair the rest visibly."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def open_beneath(root: str, parts: list[str]) -> int:
    """A descriptor of root/parts, refusing any symbolic link on the way."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def read_beneath(root: str, parts: list[str], size: int, mtime_ns: int) -> Iterator[bytes]:
    """The first `size` bytes of a regular file under root; raises if it changed meanwhile."""
    fd = open_beneath(root, parts)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConnectorError(_("it is no longer a regular file"))
        remaining = size
        while remaining > 0:
            chunk = os.read(fd, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
        after = os.fstat(fd)
        if remaining or after.st_size != size or after.st_mtime_ns != mtime_ns:
            raise ConnectorError(_("it changed while it was being exported"))
    finally:
        os.close(fd)


class FilesConnector:
    """Files under a path template; `{uid}` is replaced by the person's login."""

    plannable = True
    imports: frozenset[PartKind] = frozenset({"files"})

    def __init__(
        self,
        slug: str,
        *,
        name: str,
        path: str,
        base_dir: Path,
        location: str | None = None,
        retention: str | None = None,
    ) -> None:
        if "{uid}" not in path:
            raise ValueError("the path must contain {uid}, or every person would share a folder")
        self.slug = slug
        self.name = name
        self.template = path
        self.base_dir = base_dir
        self.location = location
        self.retention = retention

    @classmethod
    def from_options(cls, service: Any, options: dict[str, Any], base_dir: Path) -> FilesConnector:
        path = options.get("path")
        if not isinstance(path, str) or not path:
            raise ValueError('path is missing: give the folder, e.g. path = "/srv/files/{uid}"')
        return cls(
            service.slug,
            name=service.name,
            path=path,
            base_dir=base_dir,
            location=service.data_location,
            retention=service.retention,
        )

    def root_for(self, person: Person) -> Path:
        path = Path(self.template.replace("{uid}", safe_uid(person.uid)))
        return path if path.is_absolute() else self.base_dir / path

    def own_root(self, person: Person) -> Path:
        """The person's root, refused when a folder below the template's fixed part is a link."""
        root = self.root_for(person)
        fixed = Path(self.template.split("{uid}", 1)[0] or ".")
        top = fixed if fixed.is_absolute() else self.base_dir / fixed
        if not str(self.template.split("{uid}", 1)[0]).endswith(("/", os.sep)):
            top = top.parent  # "{uid}" is inside a name, e.g. /srv/home-{uid}
        relative = root.relative_to(top)
        here = top
        for part in relative.parts:
            here = here / part
            if os.path.islink(here):
                raise ConnectorError(
                    _(
                        "%(path)s is a link: the panel only reads and deletes the person's "
                        "own folder",
                        path=str(here),
                    )
                )
        return root

    def inventory(self, person: Person) -> list[DataItem]:
        return [
            DataItem(
                service=self.slug,
                kind=_("Files you keep in %(service)s, with their folders", service=self.name),
                # Never the path template: connector options are for staff only.
                location=str(self.location or _("the servers of %(service)s", service=self.name)),
                retention=str(self.retention or _("Until you delete them or your account")),
                exported=True,
            )
        ]

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        root = self.own_root(person)
        try:
            real_root = os.path.realpath(root, strict=True)
        except FileNotFoundError:
            return  # nothing stored yet
        except OSError as exc:
            raise ConnectorError(
                _("the folder cannot be opened: %(error)s", error=exc.strerror)
            ) from exc
        if not os.path.isdir(real_root):
            raise ConnectorError(_("the configured path is not a folder"))
        yield from self._walk(real_root, [])

    def _walk(self, real_root: str, parts: list[str]) -> Iterator[ArchiveEntry | Skipped]:
        folder = os.path.join(real_root, *parts)
        shown = "/".join([f"services/{self.slug}", *(_display_name(p) for p in parts)])
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            yield Skipped(shown + "/", _("folder could not be read: %(error)s", error=exc.strerror))
            return
        if parts and not entries:  # an empty folder stays in the archive as a folder entry
            mtime = datetime.fromtimestamp(os.stat(folder, follow_symlinks=False).st_mtime, UTC)
            yield ArchiveEntry(path=shown + "/", chunks=[b""], size=0, mtime=mtime)
            return
        for entry in entries:
            here = [*parts, entry.name]
            path = "/".join(_display_name(p) for p in here)
            shown_path = f"services/{self.slug}/{path}"
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                yield Skipped(shown_path, _("could not be read: %(error)s", error=exc.strerror))
                continue
            if stat.S_ISLNK(st.st_mode):
                yield from self._link(real_root, here, path)
            elif stat.S_ISDIR(st.st_mode):
                yield from self._walk(real_root, here)
            elif stat.S_ISREG(st.st_mode):
                yield self._entry(real_root, here, path, st)
            else:
                yield Skipped(
                    shown_path, _("special file (device, socket or pipe), not a document")
                )

    def _link(
        self, real_root: str, parts: list[str], path: str
    ) -> Iterator[ArchiveEntry | Skipped]:
        target = os.path.realpath(os.path.join(real_root, *parts))
        if os.path.commonpath([real_root, target]) != real_root:
            yield Skipped(
                f"services/{self.slug}/{path}", _("link pointing outside the folder, not followed")
            )
            return
        try:
            st = os.stat(target, follow_symlinks=False)
        except OSError:
            yield Skipped(f"services/{self.slug}/{path}", _("broken link"))
            return
        if not stat.S_ISREG(st.st_mode):
            yield Skipped(
                f"services/{self.slug}/{path}",
                _("link to a folder or a special file, not followed"),
            )
            return
        # A link to a file of the same folder: export a copy of the file under the link name.
        target_parts = os.path.relpath(target, real_root).split(os.sep)
        yield self._entry(real_root, target_parts, path, st)

    def _entry(
        self, real_root: str, parts: list[str], path: str, st: os.stat_result
    ) -> ArchiveEntry:
        return ArchiveEntry(
            path=f"services/{self.slug}/{path}",
            chunks=read_beneath(real_root, parts, st.st_size, st.st_mtime_ns),
            size=st.st_size,
            mtime=datetime.fromtimestamp(st.st_mtime, UTC),
            format=format_name("data", path),
        )

    def plan(self, person: Person) -> DeletionPlan:
        """The person's folder with its files and bytes, counted now (nothing changes)."""
        root = self.own_root(person)
        files = size = 0
        for entry in self.export(person):
            if isinstance(entry, ArchiveEntry) and not entry.path.endswith("/"):
                files += 1
                size += entry.size or 0
        items = (PlannedItem(root.name, files, size),) if os.path.lexists(root) else ()
        return DeletionPlan(self.slug, delete=items)

    def delete(self, person: Person) -> StepResult:
        try:
            root = self.own_root(person)
        except ConnectorError as exc:
            return StepResult(ok=False, detail=str(exc))
        if not os.path.lexists(root):
            return StepResult(ok=True, detail="no folder: nothing to delete")
        if os.path.islink(root):
            return StepResult(ok=False, detail=f"{root} is a link: delete its target by hand")
        try:
            shutil.rmtree(root)
        except OSError as exc:
            return StepResult(ok=False, detail=f"{root} could not be removed: {exc.strerror}")
        return StepResult(ok=True, detail=f"{root} removed")

    # Import (moving house) ------------------------------------------------------------------

    def available_bytes(self, person: Person) -> int | None:
        """Free room on the disk that holds her folder (the nearest folder that exists)."""
        here = self.own_root(person)
        while not here.exists() and here != here.parent:
            here = here.parent
        try:
            found = os.statvfs(here)
        except OSError:
            return None
        return found.f_bavail * found.f_frsize

    def import_(self, person: Person, part: ImportPart, progress: ImportProgress) -> None:
        root = self.own_root(person)
        if not os.path.lexists(root):
            os.makedirs(root, mode=0o750, exist_ok=True)
        try:
            root_fd = os.open(root, _DIR_FLAGS)
        except OSError as exc:
            raise ConnectorError(
                _("the folder cannot be opened: %(error)s", error=exc.strerror)
            ) from exc
        try:
            for item in part.items:
                if isinstance(item, Malformed):
                    progress.done(item, REFUSED, item.reason)
                    continue
                outcome, reason = _import_file(root_fd, item)
                progress.done(item, outcome, reason)
        finally:
            os.close(root_fd)


# Import ----------------------------------------------------------------------------------------

UNSAFE_PATH = N_("a path that leaves the folder (“..”, absolute or empty parts): not written")
LINK_IN_THE_WAY = N_("a link or a file stands where a folder of this path should be: not written")
NOT_A_FILE = N_("a folder or a link already has this name: not written")
CHECKSUM_MISMATCH = N_("the file's content does not match its checksum in the archive")
WRITE_FAILED = N_("the file could not be written on the server")
KEPT_BOTH = N_("another file already had this name: both are kept, this one as “… (imported)”")
IMPORT_MESSAGES = (
    UNSAFE_PATH,
    LINK_IN_THE_WAY,
    NOT_A_FILE,
    CHECKSUM_MISMATCH,
    WRITE_FAILED,
    KEPT_BOTH,
)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def safe_parts(path: str) -> list[str] | None:
    """The parts of an archive path, or None when one of them could leave the folder."""
    if not path or path.startswith("/") or "\\" in path or "\0" in path:
        return None
    parts = path.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return parts


def _folder_beneath(root_fd: int, parts: list[str]) -> int:
    """A descriptor of root/parts, made where missing, never through a link."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            try:
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                # Made meanwhile: opened below all the same, refused if it is a link.
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o750, dir_fd=fd)
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
        return fd
    except BaseException:
        os.close(fd)
        raise


def _digest_of(folder_fd: int, name: str) -> str | None:
    """SHA-256 of a regular file of the folder; None when it is something else."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def _imported_name(name: str) -> str:
    """`photo.jpg` -> `photo (imported).jpg`."""
    stem, dot, extension = name.rpartition(".")
    if not stem or not dot:
        return f"{name} (imported)"
    return f"{stem} (imported).{extension}"


def _source(item: ImportItem) -> IO[bytes] | None:
    if item.open is not None:
        return item.open()
    return None


def _import_file(root_fd: int, item: ImportItem) -> tuple[Any, str]:
    path = item.key or item.name
    parts = safe_parts(path)
    if parts is None:
        return REFUSED, UNSAFE_PATH
    folder_parts, name = (parts, None) if path.endswith("/") else (parts[:-1], parts[-1])
    try:
        folder_fd = _folder_beneath(root_fd, folder_parts)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EEXIST):
            return REFUSED, LINK_IN_THE_WAY
        log.warning("import: folder of %s could not be made: %s", path, exc.strerror)
        return REFUSED, WRITE_FAILED
    try:
        if name is None:  # an empty folder of the archive
            return IMPORTED, ""
        reason = ""
        for candidate in (name, _imported_name(name)):
            try:
                st = os.stat(candidate, dir_fd=folder_fd, follow_symlinks=False)
            except FileNotFoundError:
                break
            if not stat.S_ISREG(st.st_mode):
                return REFUSED, NOT_A_FILE
            if item.sha256 and _digest_of(folder_fd, candidate) == item.sha256:
                return SKIPPED, ""
            if candidate != name:
                return REFUSED, NOT_A_FILE  # "… (imported)" is taken by yet another file
            reason = KEPT_BOTH
        else:
            return REFUSED, NOT_A_FILE
        target = name if not reason else _imported_name(name)
        return _write(folder_fd, target, item), reason
    except _Refused as refusal:
        return REFUSED, refusal.reason
    except OSError as exc:
        log.warning("import: %s could not be written: %s", path, exc.strerror)
        return REFUSED, WRITE_FAILED
    finally:
        os.close(folder_fd)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _write(folder_fd: int, target: str, item: ImportItem) -> Any:
    """Write the file under a temporary name, check it, then link it into place."""
    temporary = f".{target[:200]}.import-{secrets.token_hex(6)}"
    fd = os.open(temporary, _WRITE_FLAGS, 0o640, dir_fd=folder_fd)
    placed = False
    try:
        digest = hashlib.sha256()
        source = _source(item)
        try:
            if source is None:
                data = item.data or b""
                digest.update(data)
                _write_all(fd, data)
            else:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    _write_all(fd, chunk)
        finally:
            if source is not None:
                source.close()
        if item.sha256 and digest.hexdigest() != item.sha256.lower():
            raise _Refused(CHECKSUM_MISMATCH)
        os.fsync(fd)
        if item.mtime is not None:
            stamp = int(item.mtime.timestamp() * 1_000_000_000)
            os.utime(fd, ns=(stamp, stamp))
        try:
            os.link(temporary, target, src_dir_fd=folder_fd, dst_dir_fd=folder_fd,
                    follow_symlinks=False)  # fmt: skip
        except FileExistsError:
            raise _Refused(NOT_A_FILE) from None  # a file appeared there meanwhile
        placed = True
        return IMPORTED
    finally:
        os.close(fd)
        try:
            os.unlink(temporary, dir_fd=folder_fd)
        except OSError:
            if placed:
                log.warning("import: temporary file %s left behind", temporary)


def _write_all(fd: int, data: bytes) -> None:
    with memoryview(data) as view:
        while view:
            written = os.write(fd, view)
            view = view[written:]
