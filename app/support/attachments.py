"""Ticket attachments: type detection from content, capped upload streams, storage on disk.

Limits hold while the upload streams: the request is refused up front when its declared
length exceeds what N files of the maximum size can take, each file part stops being
stored once it passes the per-file limit, and bytes are counted again while a file is
written to its final place.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from werkzeug.datastructures import FileStorage
from werkzeug.formparser import FormDataParser

CHUNK = 64 * 1024
SNIFF_BYTES = 8192

# Content type -> (extensions a download name may keep, extension added otherwise).
KNOWN_TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "image/png": ((".png",), ".png"),
    "image/jpeg": ((".jpg", ".jpeg"), ".jpg"),
    "image/gif": ((".gif",), ".gif"),
    "image/webp": ((".webp",), ".webp"),
    "application/pdf": ((".pdf",), ".pdf"),
    "text/plain": ((".txt", ".log", ".text", ".csv", ".md"), ".txt"),
    "application/vnd.oasis.opendocument.text": ((".odt",), ".odt"),
    "application/vnd.oasis.opendocument.spreadsheet": ((".ods",), ".ods"),
    "application/vnd.oasis.opendocument.presentation": ((".odp",), ".odp"),
}
DEFAULT_ALLOWED = tuple(KNOWN_TYPES)
# Text that a browser would treat as markup is not "plain text", whatever its name says.
MARKUP = re.compile(rb"^\s*<(?:!doctype|html|head|body|script|svg|\?xml|iframe|object)", re.I)


def sniff_type(head: bytes) -> str | None:
    """The content type the first bytes prove, or None when it is none we know."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        # OpenDocument: the first member is an uncompressed file "mimetype" holding the type.
        if head[30:38] == b"mimetype":
            kind = head[38:120].split(b"PK", 1)[0].decode("ascii", "replace")
            if kind in KNOWN_TYPES:
                return kind
        return None
    if _is_plain_text(head):
        return "text/plain"
    return None


def _is_plain_text(head: bytes) -> bool:
    if not head or b"\x00" in head or MARKUP.match(head):
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is fine; anything else is not.
        if exc.start < len(head) - 3 or len(head) < SNIFF_BYTES:
            return False
        text = head[: exc.start].decode("utf-8")
    return all(ch in "\t\n\r\f" or unicodedata.category(ch) != "Cc" for ch in text)


def download_name(filename: str, content_type: str) -> str:
    """The sender's name, with the extension of the detected type when it had another one."""
    keep, add = KNOWN_TYPES.get(content_type, ((), ""))
    lowered = filename.lower()
    if not keep or lowered.endswith(keep):
        return filename
    return filename + add


def clean_filename(raw: str | None) -> str:
    """The last path part of what the browser sent, without control characters, <= 200 chars."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    name = unicodedata.normalize("NFC", name)
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot and len(ext) < 10 else name[:200]
    return name or "attachment"


# Streaming limits ------------------------------------------------------------------------


class CappedFile(tempfile.SpooledTemporaryFile):
    """Where one uploaded file part is received: stops storing past `limit` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(max_size=512 * 1024, mode="w+b")
        self.limit = limit
        self.received = 0
        self.over_limit = False

    def write(self, data: Any) -> int:
        self.received += len(data)
        if self.received > self.limit:
            self.over_limit = True
            if self.tell():  # drop what was kept: it will never be stored
                self.truncate(0)
                self.seek(0)
            return len(data)
        return int(super().write(data))


def capped_parser(limit_per_file: int) -> type[FormDataParser]:
    """A form parser class whose file parts go to CappedFile (set on one request)."""

    class CappedFormDataParser(FormDataParser):
        def __init__(self, stream_factory: Any = None, *args: Any, **kwargs: Any) -> None:
            def factory(
                total_content_length: int | None,
                content_type: str | None,
                filename: str | None = None,
                content_length: int | None = None,
            ) -> IO[bytes]:
                return CappedFile(limit_per_file)

            super().__init__(factory, *args, **kwargs)

    return CappedFormDataParser


@dataclass
class Upload:
    """One file the sender attached, as the service sees it (no Flask objects)."""

    filename: str
    stream: IO[bytes]
    over_limit: bool = False
    received: int = 0

    @classmethod
    def from_storage(cls, storage: FileStorage) -> Upload:
        stream: Any = storage.stream
        over = bool(getattr(stream, "over_limit", False))
        received = getattr(stream, "received", None)
        if received is None:
            stream.seek(0, os.SEEK_END)
            received = stream.tell()
            stream.seek(0)
        return cls(
            filename=clean_filename(storage.filename),
            stream=stream,
            over_limit=over,
            received=int(received),
        )

    def head(self) -> bytes:
        self.stream.seek(0)
        data = self.stream.read(SNIFF_BYTES)
        self.stream.seek(0)
        return data


def uploads_from(files: list[FileStorage]) -> list[Upload]:
    """Uploads from a multiple-file field, skipping the empty part an unused input sends."""
    return [
        Upload.from_storage(f)
        for f in files
        if isinstance(f, FileStorage) and (f.filename or "").strip()
    ]


# Storage ---------------------------------------------------------------------------------


class TooLarge(Exception):
    """A file grew past the limit while it was being written."""


@dataclass
class AttachmentStore:
    """Files under one folder with random names; remembers what it wrote for cleanup."""

    root: Path
    written: list[Path] = field(default_factory=list)

    def path(self, storage_name: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{32}", storage_name):
            raise ValueError("not a storage name")
        return self.root / storage_name[:2] / storage_name

    def save(self, stream: IO[bytes], limit: int) -> tuple[str, int]:
        """Copy a stream to a new random name, counting bytes; returns (name, size)."""
        name = secrets.token_hex(16)
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        partial = target.with_suffix(".part")
        size = 0
        stream.seek(0)
        try:
            with partial.open("xb") as out:
                os.chmod(partial, 0o640)
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge
                    out.write(chunk)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self.written.append(target)
        return name, size

    def open(self, storage_name: str) -> IO[bytes]:
        return self.path(storage_name).open("rb")

    def chunks(self, storage_name: str) -> Iterator[bytes]:
        with self.open(storage_name) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def remove(self, storage_names: list[str]) -> None:
        for name in storage_names:
            try:
                self.path(name).unlink(missing_ok=True)
            except ValueError:
                continue

    def stored_files(self) -> Iterator[tuple[str, Path]]:
        """(storage name, path) of every file in the folder, unfinished ".part" ones too."""
        if not self.root.exists():
            return
        for path in self.root.glob("??/*"):
            if path.is_file():
                yield path.name.removesuffix(".part"), path

    def discard_written(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()

    @contextmanager
    def transaction(self) -> Iterator[AttachmentStore]:
        """Files written inside are removed again if the block fails (e.g. the commit)."""
        self.written.clear()
        try:
            yield self
        except BaseException:
            self.discard_written()
            raise
        self.written.clear()
