"""The streamed ZIP, written while it is downloaded (plan.py says what goes in it,
zipping.py frames it).

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

import ctypes
import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo

from flask_babel import gettext as _

from app.connectors.base import ConnectorError, Skipped
from app.connectors.formats import file_format, format_name
from app.export.plan import (
    FileRecord,
    Part,
    PlannedFile,
    Problem,
    Report,
    failure_reason,
    planned_file,
    safe_path,
    settle_compression,
)
from app.export.reading import ReadAhead, ReadJob
from app.export.zipping import Layout, ZipWriter, extended_time

log = logging.getLogger(__name__)

try:  # glibc only (Linux); elsewhere memory is left as the allocator keeps it
    _malloc_trim: Callable[[int], int] | None = ctypes.CDLL(None).malloc_trim
except (OSError, AttributeError):
    _malloc_trim = None

TRAILER_ROOM = 4096  # extra room of manifest.json/ERRORS.txt for problems met while writing
COALESCE = 256 * 1024  # small pieces (headers, small files) are sent together
ZEROS = bytes(1024 * 1024)
MIN_DOS = datetime(1980, 1, 1)
MAX_DOS = datetime(2107, 12, 31, 23, 59, 58)

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
        self._zip = ZipWriter()
        # Files from connectors are read and hashed on a helper thread (reading.py); their
        # records get their checksum once the reader is done with them.
        self._reader = ReadAhead()
        self._unhashed: list[tuple[FileRecord, ReadJob]] = []
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
        layout = Layout()
        planned = Report(parts=self.parts)
        for file in self._all_planned():
            assert file.size is not None and file.stored_size is not None
            extra = len(extended_time(self._mtime(file.mtime)))
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
            layout.add(path, room[path], room[path], len(extended_time(self.now)))
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
            # The reader first: it may be reading from a connector's session.
            self._reader.close()
            for part in self.parts:
                if part.stream is not None and hasattr(part.stream, "close"):
                    part.stream.close()
            _give_back_memory()
        if self.content_length is not None and self._zip.position != self.content_length:
            log.error(
                "export length %s differs from the announced %s",
                self._zip.position,
                self.content_length,
            )

    def _write_part(self, part: Part) -> Iterator[bytes]:
        planned = part.planned or []
        # Every file listed beforehand goes to the reader now: it reads ahead across files.
        jobs = [self._read_job(file) for file in planned]
        for file, job in zip(planned, jobs, strict=True):
            yield from self._write(file, part, job)
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

    def _read_job(self, file: PlannedFile) -> ReadJob | None:
        """Files from connectors go to the reader; data built in memory is hashed here."""
        if file.data is not None or file.path.endswith("/"):
            return None
        return self._reader.submit(file.chunks, file.size)

    def _write(
        self, file: PlannedFile, part: Part | None, job: ReadJob | None = None
    ) -> Iterator[bytes]:
        mtime = self._mtime(file.mtime)
        local = mtime.astimezone(self.timezone).replace(tzinfo=None)
        local = min(max(local, MIN_DOS), MAX_DOS)
        if file.path.endswith("/"):  # an empty folder: an entry of its own, not a file
            yield from self._zip.entry(
                file.path, (), size=0, date_time=local.timetuple()[:6],
                extra=extended_time(mtime), compress=False,
            )  # fmt: skip
            return
        record = FileRecord(file.path, 0, "", file.format, file.service)
        sized = self.content_length is not None
        yield from self._zip.entry(
            file.path,
            self._measured(file, record, part, job, pad=sized),
            size=file.size,
            date_time=local.timetuple()[:6],
            extra=extended_time(mtime),
            compress=file.compress,
        )
        self.report.files.append(record)
        if part is not None:
            part.files += 1
            part.bytes += record.size

    def _measured(
        self, file: PlannedFile, record: FileRecord, part: Part | None, job: ReadJob | None,
        *, pad: bool,
    ) -> Iterator[bytes]:  # fmt: skip
        """The file's bytes, hashed on the way; exactly `size` bytes when a size was given.

        A file from a connector is read and hashed on the reader's thread (`job`, submitted
        when it is not yet); data built in memory is hashed here.
        """
        if job is None and file.data is None:
            job = self._reader.submit(file.chunks, file.size)
        digest = hashlib.sha256() if job is None else None
        written = 0
        expected = file.size
        problem: str | None = None
        try:
            if job is not None:
                for chunk in self._reader.chunks(job):
                    written += len(chunk)
                    yield chunk
                if job.grew:
                    problem = _("it grew while it was being exported; the copy stops at its size")
            else:
                assert digest is not None
                for chunk in file.chunks:
                    if expected is not None and written + len(chunk) > expected:
                        chunk = chunk[: expected - written]
                        problem = _(
                            "it grew while it was being exported; the copy stops at its size"
                        )
                    digest.update(chunk)
                    written += len(chunk)
                    yield chunk
                    if problem:
                        break
        except Exception as exc:
            if not isinstance(exc, ConnectorError | OSError):
                log.exception("reading %s failed", file.path)
            problem = failure_reason(exc)
        if expected is not None and written < expected:
            missing = expected - written
            problem = problem or _("it shrank while it was being exported")
            if pad:
                problem += "; " + _("its last %(num)s bytes are zeros in this copy", num=missing)
                if job is not None:  # the zeros are hashed here, after the reader's part
                    self._reader.wait_hashed(job)
                    digest = job.digest
            while pad and missing:
                zeros = ZEROS[: min(missing, len(ZEROS))]
                assert digest is not None
                digest.update(zeros)
                written += len(zeros)
                missing -= len(zeros)
                yield zeros
        record.size = written
        if digest is not None:
            record.sha256 = digest.hexdigest()
        elif job is not None:
            self._unhashed.append((record, job))
        if problem and part is not None:
            part.problems.append(Problem(file.path, problem))

    def _hashed(self) -> None:
        """Every checksum, before manifest.json lists them."""
        for record, job in self._unhashed:
            self._reader.wait_hashed(job)
            record.sha256 = job.digest.hexdigest()
        self._unhashed.clear()

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


def _give_back_memory() -> None:
    """Return the chunks' freed memory to the system (glibc keeps it in each thread's arena
    otherwise): the worker's resident size goes back down after an export, and the next
    one starts from there (issue 22: the peak of the mail export)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _pad(content: bytes, room: int) -> bytes:
    """Blank padding up to `room` bytes (JSON and text readers ignore trailing blanks)."""
    if len(content) > room:
        log.error("export trailer of %s bytes cut to its room of %s", len(content), room)
        return content[:room]
    body = content.rstrip(b"\n")
    if room - len(body) < 2:
        return content + b" " * (room - len(content))
    return body + b"\n" + b" " * (room - len(body) - 2) + b"\n"
