"""The streamed ZIP: the only module that imports zipstream.

The archive is written while it is downloaded: no temporary file, no background job.
Every file is hashed (SHA-256) on its way out; manifest.json, written last, lists them.
When every size is known before the first byte (files on disk, data built in memory), the
exact length of the archive is computed so the browser can show a progress bar; the
trailer files are then given a fixed room and padded with blanks.

A connector that fails ends its part cleanly: the file being written is closed (shorter,
or padded with zeros to its announced size, as GNU tar does with a file that shrank), the
failure is recorded, and the next part starts.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import Any

import zipstream.ng
from flask_babel import gettext as _
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream, ZipStreamInfo

from app.connectors.base import ArchiveEntry, ConnectorError, Skipped
from app.connectors.formats import file_format, format_name

log = logging.getLogger(__name__)

try:
    from isal.isal_zlib import crc32 as _isal_crc32

    # zipstream-ng takes crc32 from zipfile (zlib). ISA-L's gives the same values about
    # 3 times faster (bench/export.py); deflate stays zlib's, so deflated_size() matches.
    zipstream.ng.crc32 = _isal_crc32
except ImportError:  # no wheel for this platform: zlib's CRC-32 stays
    pass

DEFLATE_LEVEL = 6
ZIP64_LIMIT = (1 << 31) - 1  # as zipfile/zipstream: above this, ZIP64 records are used
FILECOUNT_LIMIT = (1 << 16) - 1
ZIP64_ESTIMATE_FACTOR = 1.05  # zipstream's margin when deciding ZIP64 from the size
TRAILER_ROOM = 4096  # extra room of manifest.json/ERRORS.txt for problems met while writing
COALESCE = 256 * 1024  # small pieces (headers, small files) are sent together
# Chunks at least this large are hashed (SHA-256) on a helper thread while the request's
# thread computes the CRC and sends: both release the GIL, so two cores share the work.
HASH_BESIDE = 256 * 1024
# The helper may lag this many bytes behind (across files: a file's checksum is only
# needed for manifest.json, at the end), so neither thread waits for the other at every
# chunk: on a busy machine each such wait costs a wake-up of the other thread. The chunks
# waiting for it stay in memory.
HASH_LAG_BYTES = 2 * 1024 * 1024
ZEROS = bytes(1024 * 1024)
MIN_DOS = datetime(1980, 1, 1)
MAX_DOS = datetime(2107, 12, 31, 23, 59, 58)


def failure_reason(exc: BaseException) -> str:
    """What a person can be told about an error: connector messages, system errors."""
    if isinstance(exc, ConnectorError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _("unexpected error (%(kind)s)", kind=type(exc).__name__)


# Plan ------------------------------------------------------------------------------------


@dataclass(slots=True)
class PlannedFile:
    path: str
    chunks: Iterable[bytes]
    size: int | None
    mtime: datetime | None
    format: str
    service: str
    description: str = ""
    compress: bool = False
    data: bytes | None = None  # content built in memory
    stored_size: int | None = None  # bytes of file data in the archive, when known


@dataclass(slots=True)
class Problem:
    path: str
    reason: str


@dataclass
class Part:
    """One connector's share of the archive and, once written, what became of it."""

    service: str
    name: str
    folder: str = ""  # every file of the part goes under it: "panel/", "services/cloud/"
    planned: list[PlannedFile] | None = None  # listed before the first byte
    stream: Iterator[ArchiveEntry | Skipped] | None = None  # listed while writing
    error: str | None = None
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    @property
    def status(self) -> str:
        if self.error and not self.files and not self.planned:
            return "failed"
        if self.error or self.problems:
            return "partial"
        return "ok"


@dataclass(slots=True)
class FileRecord:
    path: str
    size: int
    sha256: str
    format: str
    service: str


@dataclass
class Report:
    """What the archive holds so far; the trailer renders it."""

    parts: list[Part]
    files: list[FileRecord] = field(default_factory=list)


def safe_path(folder: str, path: str) -> str | None:
    """The path as a plain relative name under `folder`, or None if it climbs out of it.

    No extractor may be led outside its target (`../`, absolute names), and no connector
    may write into another's folder or over README/manifest.
    """
    parts = path.replace("\\", "/").split("/")
    if ".." in parts or "\x00" in path:
        return None
    clean = "/".join(p for p in parts if p not in ("", "."))
    if not clean:
        return None
    if path.endswith("/"):  # a folder entry (an empty folder a connector keeps)
        clean += "/"
    return clean if clean.startswith(folder) else folder + clean


def planned_file(entry: ArchiveEntry, service: str) -> PlannedFile:
    data: bytes | None = None
    size = entry.size
    if isinstance(entry.chunks, bytes | bytearray):
        data = bytes(entry.chunks)
    elif isinstance(entry.chunks, list | tuple) and all(
        isinstance(c, bytes | bytearray) for c in entry.chunks
    ):
        data = b"".join(entry.chunks)
    if data is not None:
        size = len(data)
    compress = entry.compress if entry.compress is not None else file_format(entry.path).text_like
    return PlannedFile(
        path=entry.path,
        chunks=[data] if data is not None else entry.chunks,
        size=size,
        mtime=entry.mtime,
        format=format_name(entry.format, entry.path),
        service=service,
        description=entry.description,
        compress=compress,
        data=data,
    )


def deflated_size(data: bytes) -> int:
    """Exactly what zipstream writes for these bytes (same zlib settings, one call)."""
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    return len(compressor.compress(data)) + len(compressor.flush())


def settle_compression(file: PlannedFile, *, sized: bool) -> None:
    """Deflate text-like data; store the rest, and store what cannot be measured first."""
    if file.data is not None:
        if file.compress:
            packed = deflated_size(file.data)
            if packed < len(file.data):
                file.stored_size = packed
                return
            file.compress = False
        file.stored_size = len(file.data)
        return
    if sized:
        file.compress = False  # its deflated size cannot be known before reading it
    file.stored_size = None if file.compress else file.size


# Lengths (mirror of what zipstream writes, checked by the tests) ---------------------------


def _name_length(path: str) -> int:
    try:
        return len(path.encode("ascii"))
    except UnicodeEncodeError:
        return len(path.encode("utf-8"))


def _uses_zip64(size: int | None) -> bool:
    return size is None or size * ZIP64_ESTIMATE_FACTOR > ZIP64_LIMIT


@dataclass
class _Layout:
    """Running byte count of an archive being planned."""

    offset: int = 0
    central: int = 0
    count: int = 0

    def add(self, path: str, size: int, stored: int, extra: int) -> None:
        name = _name_length(path)
        if path.endswith("/"):  # a folder: its header only, no data nor data descriptor
            self.central += 46 + name + extra + (12 if self.offset > ZIP64_LIMIT else 0)
            self.offset += 30 + name + extra
            self.count += 1
            return
        zip64 = _uses_zip64(size)
        fields = 0
        if max(size, stored) > ZIP64_LIMIT:
            fields += 2
        if self.offset > ZIP64_LIMIT:
            fields += 1
        self.offset += 30 + name + extra + (20 if zip64 else 0) + stored + (24 if zip64 else 16)
        self.central += 46 + name + extra + (4 + 8 * fields if fields else 0)
        self.count += 1

    def total(self) -> int:
        end = 22
        if self.count >= FILECOUNT_LIMIT or self.offset > ZIP64_LIMIT or self.central > ZIP64_LIMIT:
            end += 56 + 20
        return self.offset + self.central + end


# Writing ---------------------------------------------------------------------------------


def _extended_time(mtime: datetime) -> bytes:
    """Info-ZIP 'UT' extra field: the exact modification time in UTC (DOS time is local)."""
    stamp = int(mtime.timestamp())
    if not 0 <= stamp < 2**31:
        return b""
    return struct.pack("<HHBl", 0x5455, 5, 1, stamp)


class _ZipWriter(ZipStream):
    """zipstream-ng with a modification time per streamed entry.

    zipstream-ng 1.9 dates data added from an iterable with the current time (upstream
    issue pR0Ps/zipstream-ng#27); this writes one entry with a given date, through the
    same ZipStreamInfo machinery and position tracking that add()/finalize() use.
    """

    def entry(
        self,
        arcname: str,
        chunks: Iterable[bytes],
        *,
        size: int | None,
        date_time: tuple[int, int, int, int, int, int],
        extra: bytes,
        compress: bool,
    ) -> Iterator[bytes]:
        info = ZipStreamInfo(arcname, date_time)
        info.external_attr = 0o644 << 16
        info.extra = extra
        info.compress_type = ZIP_DEFLATED if compress else ZIP_STORED
        info._compresslevel = DEFLATE_LEVEL if compress else None
        if info.is_dir():  # a name ending with '/': a folder entry, as zipstream's add() makes
            info.external_attr = 0o40755 << 16 | 0x10  # drwxr-xr-x, MS-DOS directory bit
            info.compress_type, info._compresslevel = ZIP_STORED, None
            with self._gen_lock:
                info.header_offset = self._pos
                for piece in info._file_data(None):
                    yield self._track(piece)
                self._filelist.append(info)
            return
        if size is not None:
            info.file_size = size
        with self._gen_lock:
            info.header_offset = self._pos
            for piece in info._file_data(iter(chunks), force_zip64=size is None):
                yield self._track(piece)
            self._filelist.append(info)

    @property
    def position(self) -> int:
        return int(self._pos)


TrailerRenderer = Callable[[Report, "dict[str, int] | None"], list[tuple[str, bytes]]]


class ExportArchive:
    """One export, planned in the request and written while the response is sent."""

    def __init__(
        self,
        *,
        head: list[PlannedFile],
        parts: list[Part],
        render_trailer: TrailerRenderer,
        timezone: tzinfo,
        announce_length: bool,
        now: datetime | None = None,
        final_trailer: str = "manifest.json",
    ) -> None:
        self.head = head
        self.final_trailer = final_trailer
        self.parts = parts
        self.render_trailer = render_trailer
        self.timezone = timezone
        self.now = now or datetime.now(UTC)
        self.report = Report(parts=parts)
        self.content_length: int | None = None
        self._trailer_room: dict[str, int] | None = None
        self._trailer_frozen: dict[str, bytes] = {}
        self._zip = _ZipWriter()
        self._hashing: ThreadPoolExecutor | None = None
        self._hash_queue: deque[tuple[Future[None], int]] = deque()  # helper's work to do
        self._hash_lag = 0  # bytes of that work
        self._names = {file.path for file in head}
        for part in parts:
            if part.planned is not None:
                part.planned = [f for f in part.planned if self._admit(f, part)]
        sized = announce_length and all(
            p.stream is None and all(f.size is not None for f in p.planned or []) for p in parts
        )
        for file in self._all_planned():
            settle_compression(file, sized=sized)
        if sized:
            self._plan_length()

    def _all_planned(self) -> Iterator[PlannedFile]:
        yield from self.head
        for part in self.parts:
            yield from part.planned or []

    # Length ----------------------------------------------------------------------------

    def _mtime(self, mtime: datetime | None) -> datetime:
        return mtime if mtime is not None else self.now

    def _plan_length(self) -> None:
        layout = _Layout()
        planned = Report(parts=self.parts)
        for file in self._all_planned():
            assert file.size is not None and file.stored_size is not None
            extra = len(_extended_time(self._mtime(file.mtime)))
            layout.add(file.path, file.size, file.stored_size, extra)
            if not file.path.endswith("/"):  # folder entries are not files of the manifest
                planned.files.append(
                    FileRecord(file.path, file.size, "0" * 64, file.format, file.service)
                )
        # The manifest gets the room it needs now plus some for problems met while writing;
        # the other trailer files (ERRORS.txt) say what was known before the first byte.
        room: dict[str, int] = {}
        for path, content in self.render_trailer(planned, None):
            if path == self.final_trailer:
                room[path] = len(content) + TRAILER_ROOM
            else:
                room[path] = len(content)
                self._trailer_frozen[path] = content
            planned.files.append(FileRecord(path, room[path], "0" * 64, "", "export"))
            layout.add(path, room[path], room[path], len(_extended_time(self.now)))
        self._trailer_room = room
        self.content_length = layout.total()

    # Writing ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        return self._coalesced(self._pieces())

    @staticmethod
    def _coalesced(pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Headers and small files go out together: fewer writes to the socket."""
        pending: list[bytes] = []
        pending_size = 0
        try:
            for piece in pieces:
                if len(piece) >= COALESCE:
                    if pending:
                        yield b"".join(pending)
                        pending, pending_size = [], 0
                    yield piece
                    continue
                pending.append(piece)
                pending_size += len(piece)
                if pending_size >= COALESCE:
                    yield b"".join(pending)
                    pending, pending_size = [], 0
            if pending:
                yield b"".join(pending)
        finally:
            pieces.close()  # type: ignore[attr-defined]

    def _pieces(self) -> Iterator[bytes]:
        try:
            for file in self.head:
                yield from self._write(file, None)
            for part in self.parts:
                yield from self._write_part(part)
            yield from self._write_trailer()
            yield from self._zip.footer()
        finally:
            for part in self.parts:
                if part.stream is not None and hasattr(part.stream, "close"):
                    part.stream.close()
            if self._hashing is not None:
                self._hashing.shutdown(wait=True)
        if self.content_length is not None and self._zip.position != self.content_length:
            log.error(
                "export length %s differs from the announced %s",
                self._zip.position,
                self.content_length,
            )

    def _write_part(self, part: Part) -> Iterator[bytes]:
        for file in part.planned or []:
            yield from self._write(file, part)
        if part.stream is None:
            return
        try:
            for item in part.stream:
                if isinstance(item, Skipped):
                    part.problems.append(Problem(item.path, item.reason))
                    continue
                file = planned_file(item, part.service)
                if not self._admit(file, part):
                    continue
                settle_compression(file, sized=False)
                yield from self._write(file, part)
        except Exception as exc:  # a connector must not end the whole export
            if not isinstance(exc, ConnectorError):
                log.exception("connector %s failed while exporting", part.service)
            part.error = failure_reason(exc)

    def _admit(self, file: PlannedFile, part: Part) -> bool:
        """Keep the file inside its part's folder, once; report what cannot be."""
        path = safe_path(part.folder, file.path)
        if path is None:
            part.problems.append(Problem(file.path, _("name leaving its folder, left out")))
            return False
        if path in self._names:
            part.problems.append(Problem(path, _("a second file with this name, left out")))
            return False
        self._names.add(path)
        file.path = path
        return True

    def _write(self, file: PlannedFile, part: Part | None) -> Iterator[bytes]:
        mtime = self._mtime(file.mtime)
        local = mtime.astimezone(self.timezone).replace(tzinfo=None)
        local = min(max(local, MIN_DOS), MAX_DOS)
        if file.path.endswith("/"):  # an empty folder: an entry of its own, not a file
            yield from self._zip.entry(
                file.path, (), size=0, date_time=local.timetuple()[:6],
                extra=_extended_time(mtime), compress=False,
            )  # fmt: skip
            return
        record = FileRecord(file.path, 0, "", file.format, file.service)
        sized = self.content_length is not None
        yield from self._zip.entry(
            file.path,
            self._measured(file, record, part, pad=sized),
            size=file.size,
            date_time=local.timetuple()[:6],
            extra=_extended_time(mtime),
            compress=file.compress,
        )
        self.report.files.append(record)
        if part is not None:
            part.files += 1
            part.bytes += record.size

    def _beside(self, work: Callable[[], None], size: int = 0) -> None:
        """Run `work` (hashing `size` bytes) on the hashing thread, after earlier work."""
        if self._hashing is None:
            self._hashing = ThreadPoolExecutor(1, thread_name_prefix="export-sha256")
        while self._hash_queue and self._hash_lag + size > HASH_LAG_BYTES:
            self._wait_hash()
        self._hash_queue.append((self._hashing.submit(work), size))
        self._hash_lag += size

    def _wait_hash(self) -> None:
        future, size = self._hash_queue.popleft()
        future.result()
        self._hash_lag -= size

    def _hashed(self) -> None:
        """Wait until every checksum is known (before manifest.json is written)."""
        while self._hash_queue:
            self._wait_hash()

    def _measured(
        self, file: PlannedFile, record: FileRecord, part: Part | None, *, pad: bool
    ) -> Iterator[bytes]:
        """The file's bytes, hashed on the way; exactly `size` bytes when a size was given.

        Large chunks are hashed on the helper thread; once one of a file's chunks went
        there, the rest of that file's hashing follows it there, in order, and
        `record.sha256` is set there too.
        """
        digest = hashlib.sha256()
        beside = False  # some of this file's hashing was handed to the helper thread
        written = 0
        expected = file.size
        chunks = iter(file.chunks)
        problem: str | None = None
        try:
            for chunk in chunks:
                if expected is not None and written + len(chunk) > expected:
                    chunk = chunk[: expected - written]
                    problem = _("it grew while it was being exported; the copy stops at its size")
                if beside or len(chunk) >= HASH_BESIDE:
                    beside = True
                    self._beside(partial(digest.update, chunk), len(chunk))
                else:
                    digest.update(chunk)
                written += len(chunk)
                yield chunk
                if problem:
                    break
        except Exception as exc:
            if not isinstance(exc, ConnectorError | OSError):
                log.exception("reading %s failed", file.path)
            problem = failure_reason(exc)
        finally:
            close: Any = getattr(chunks, "close", None)
            if close is not None:
                close()
        if expected is not None and written < expected:
            missing = expected - written
            problem = problem or _("it shrank while it was being exported")
            if pad:
                problem += "; " + _("its last %(num)s bytes are zeros in this copy", num=missing)
            while pad and missing:
                zeros = ZEROS[: min(missing, len(ZEROS))]
                if beside:
                    self._beside(partial(digest.update, zeros), len(zeros))
                else:
                    digest.update(zeros)
                written += len(zeros)
                missing -= len(zeros)
                yield zeros
        record.size = written
        if beside:
            self._beside(partial(_set_sha256, record, digest))
        else:
            record.sha256 = digest.hexdigest()
        if problem and part is not None:
            part.problems.append(Problem(file.path, problem))

    def _write_trailer(self) -> Iterator[bytes]:
        """ERRORS.txt (when something failed) then manifest.json, which lists it too.

        When the length was announced, exactly the planned trailer files are written:
        ERRORS.txt as it was planned, manifest.json padded to its room; a problem met after
        the first byte is then in manifest.json only.
        """
        room = self._trailer_room
        if room is not None:
            paths = list(room)
        else:
            paths = [path for path, _content in self.render_trailer(self.report, None)]
        for path in paths:
            self._hashed()  # the manifest lists the checksum of the file written before it
            if path in self._trailer_frozen:
                content = self._trailer_frozen[path]
            else:
                content = dict(self.render_trailer(self.report, room)).get(path, b"")
            if room is not None:
                content = _pad(content, room[path])
            file = PlannedFile(
                path=path,
                chunks=[content],
                size=len(content),
                mtime=self.now,
                format=format_name("data", path),
                service="export",
                data=content,
                compress=room is None and file_format(path).text_like,
            )
            settle_compression(file, sized=room is not None)
            yield from self._write(file, None)


def _set_sha256(record: FileRecord, digest: Any) -> None:
    record.sha256 = digest.hexdigest()


def _pad(content: bytes, room: int) -> bytes:
    """Blank padding up to `room` bytes (JSON and text readers ignore trailing blanks)."""
    if len(content) > room:
        log.error("export trailer of %s bytes cut to its room of %s", len(content), room)
        return content[:room]
    body = content.rstrip(b"\n")
    if room - len(body) < 2:
        return content + b" " * (room - len(content))
    return body + b"\n" + b" " * (room - len(body) - 2) + b"\n"
