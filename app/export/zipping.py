"""ZIP framing: the only module that imports zipstream, and the exact length of what it
writes (so the archive's length can be announced before its first byte)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import zipstream.ng
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream, ZipStreamInfo

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


# Lengths (mirror of what zipstream writes, checked by the tests) ---------------------------


def name_length(path: str) -> int:
    try:
        return len(path.encode("ascii"))
    except UnicodeEncodeError:
        return len(path.encode("utf-8"))


def uses_zip64(size: int | None) -> bool:
    return size is None or size * ZIP64_ESTIMATE_FACTOR > ZIP64_LIMIT


@dataclass
class Layout:
    """Running byte count of an archive being planned."""

    offset: int = 0
    central: int = 0
    count: int = 0

    def add(self, path: str, size: int, stored: int, extra: int) -> None:
        name = name_length(path)
        if path.endswith("/"):  # a folder: its header only, no data nor data descriptor
            self.central += 46 + name + extra + (12 if self.offset > ZIP64_LIMIT else 0)
            self.offset += 30 + name + extra
            self.count += 1
            return
        zip64 = uses_zip64(size)
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


# ZIP entries -------------------------------------------------------------------------------


def extended_time(mtime: datetime) -> bytes:
    """Info-ZIP 'UT' extra field: the exact modification time in UTC (DOS time is local)."""
    stamp = int(mtime.timestamp())
    if not 0 <= stamp < 2**31:
        return b""
    return struct.pack("<HHBl", 0x5455, 5, 1, stamp)


class ZipWriter(ZipStream):
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
