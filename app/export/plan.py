"""What goes into the export archive, decided before its first byte: each file's path
inside its part's folder, how it is stored, and what became of each connector's part."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _

from app.connectors.base import ArchiveEntry, ConnectorError, Skipped
from app.connectors.formats import file_format, format_name
from app.export.zipping import DEFLATE_LEVEL


def failure_reason(exc: BaseException) -> str:
    """What a person can be told about an error: connector messages, system errors."""
    if isinstance(exc, ConnectorError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _("unexpected error (%(kind)s)", kind=type(exc).__name__)


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
