"""Checking an export ZIP on disk before anything of it is written anywhere.

The archive is hostile until checked: names (zip-slip, absolute paths, duplicates),
symbolic links, encryption, the total size and the expansion ratio (zip bombs) are checked
from the central directory, before a byte is expanded; then manifest.json (its format
version) and every member's SHA-256, read as a stream, never whole. A refusal is an
`ArchiveRefused` whose message (English, marked with N_) the pages translate.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import struct
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from app.connectors.base import N_

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
CHUNK = 1024 * 1024
MANIFEST_MAX_BYTES = 256 * 1024 * 1024  # a million files' lines fit in far less


class ArchiveRefused(Exception):
    """The archive cannot be imported; `message` (English) and `args_` for the person."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values


class ChecksumMismatch(ArchiveRefused):
    """A member's bytes differ from the SHA-256 the manifest gives."""


@dataclass(frozen=True)
class Limits:
    max_archive_bytes: int
    max_expanded_bytes: int
    max_ratio: int
    max_members: int = 1_000_000


@dataclass(frozen=True)
class Member:
    """One file of the archive, as the central directory and the manifest describe it."""

    name: str
    size: int
    sha256: str
    mtime: datetime | None


@dataclass
class CheckedArchive:
    path: Path
    manifest: dict[str, Any]
    members: dict[str, Member] = field(default_factory=dict)  # files, in archive order
    folders: list[str] = field(default_factory=list)  # empty folder entries ("a/b/")

    @property
    def expanded_bytes(self) -> int:
        return sum(m.size for m in self.members.values())

    def service_connector(self, slug: str) -> str | None:
        """The connector type the old panel used for a service, when the manifest says."""
        for service in self.manifest.get("services") or []:
            if isinstance(service, dict) and service.get("service") == slug:
                kind = service.get("connector")
                return kind if isinstance(kind, str) else None
        return None


def refused_name(name: str) -> str | None:
    """Why a member's name cannot be extracted safely (an N_ message), or None."""
    if not name or "\x00" in name or any(unicodedata.category(c) == "Cc" for c in name):
        return N_("The archive holds a file with an unreadable name.")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return N_("The archive holds a file with an absolute path (%(name)s).")
    if ".." in name.replace("\\", "/").split("/"):
        return N_("The archive holds a file whose name leads out of its folder (%(name)s).")
    if "\\" in name:
        return N_("The archive holds a file with a backslash in its name (%(name)s).")
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _utc_mtime(info: zipfile.ZipInfo) -> datetime | None:
    """The exact time from Info-ZIP's 'UT' extra field (the export writes it), else None."""
    extra = info.extra
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[pos : pos + 4])
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            (stamp,) = struct.unpack("<l", body[1:5])
            return datetime.fromtimestamp(stamp, UTC)
        pos += 4 + length
    return None


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ArchiveRefused(N_("This file is not a ZIP archive, or it is damaged.")) from None


def check_archive(path: Path, limits: Limits) -> CheckedArchive:
    """Names, links, sizes and the manifest; raises ArchiveRefused. Checksums: verify()."""
    size = path.stat().st_size
    if size > limits.max_archive_bytes:
        raise ArchiveRefused(
            N_("The archive is larger than this panel accepts (%(limit)s bytes)."),
            limit=limits.max_archive_bytes,
        )
    with open_zip(path) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveRefused(N_("The archive holds more files than this panel accepts."))
        seen: set[str] = set()
        total = 0
        for info in infos:
            name = info.orig_filename
            reason = refused_name(name)
            if reason is not None:
                raise ArchiveRefused(reason, name=name[:200])
            if _is_symlink(info):
                raise ArchiveRefused(
                    N_("The archive holds a symbolic link (%(name)s): links are not imported."),
                    name=name[:200],
                )
            if info.flag_bits & 0x1:
                raise ArchiveRefused(
                    N_("The archive is encrypted: export it again without a password.")
                )
            folded = unicodedata.normalize("NFC", name).casefold()
            if folded in seen:
                raise ArchiveRefused(
                    N_("The archive holds the same name twice (%(name)s)."), name=name[:200]
                )
            seen.add(folded)
            total += info.file_size
            if total > limits.max_expanded_bytes:
                raise ArchiveRefused(
                    N_("Expanded, the archive would be larger than this panel accepts "
                       "(%(limit)s bytes)."),
                    limit=limits.max_expanded_bytes,
                )  # fmt: skip
            if info.file_size > max(info.compress_size, 1) * limits.max_ratio:
                raise ArchiveRefused(
                    N_("The archive holds a file that expands far too much (%(name)s): it "
                       "looks like a zip bomb."),
                    name=name[:200],
                )  # fmt: skip
        manifest = _read_manifest(archive)
        return _match_manifest(path, archive, manifest)


def _read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError:
        raise ArchiveRefused(
            N_("The archive has no manifest.json: it is not an export of a CHATONS panel.")
        ) from None
    if info.file_size > MANIFEST_MAX_BYTES:
        raise ArchiveRefused(N_("The archive's manifest.json is too large."))
    try:
        with archive.open(info) as stream:
            manifest = json.loads(stream.read(MANIFEST_MAX_BYTES + 1))
    except (ValueError, zipfile.BadZipFile, OSError):
        raise ArchiveRefused(N_("The archive's manifest.json cannot be read.")) from None
    if not isinstance(manifest, dict):
        raise ArchiveRefused(N_("The archive's manifest.json cannot be read."))
    version = manifest.get("manifest_version")
    if version is None:
        raise ArchiveRefused(
            N_("The archive's manifest.json does not say its format version: it is not an "
               "export of a CHATONS panel.")
        )  # fmt: skip
    if version != FORMAT_VERSION:
        raise ArchiveRefused(
            N_("The archive is in format version %(version)s; this panel reads version "
               "%(known)s. Update the panel, or export again from the old one."),
            version=str(version)[:20],
            known=FORMAT_VERSION,
        )  # fmt: skip
    if not isinstance(manifest.get("files"), list):
        raise ArchiveRefused(N_("The archive's manifest.json has no list of files."))
    return manifest


def _match_manifest(
    path: Path, archive: zipfile.ZipFile, manifest: dict[str, Any]
) -> CheckedArchive:
    listed: dict[str, tuple[int, str]] = {}
    for entry in manifest["files"]:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
            and len(entry["sha256"]) == 64
        ):
            raise ArchiveRefused(
                N_("The archive's manifest.json lists a file without its checksum.")
            )
        listed[entry["path"]] = (entry["size"], entry["sha256"].lower())
    checked = CheckedArchive(path=path, manifest=manifest)
    for info in archive.infolist():
        name = info.orig_filename
        if name == MANIFEST:
            continue
        if name.endswith("/"):
            checked.folders.append(name)
            continue
        found = listed.pop(name, None)
        if found is None:
            raise ArchiveRefused(
                N_("The archive holds a file its manifest does not list (%(name)s)."),
                name=name[:200],
            )
        if found[0] != info.file_size:
            raise ArchiveRefused(
                N_("A file of the archive does not have the size its manifest gives (%(name)s)."),
                name=name[:200],
            )
        checked.members[name] = Member(name, info.file_size, found[1], _utc_mtime(info))
    if listed:
        missing = next(iter(listed))
        raise ArchiveRefused(
            N_("The archive is incomplete: %(name)s, listed in its manifest, is missing."),
            name=missing[:200],
        )
    return checked


class _Hashing(io.RawIOBase):
    """A member's raw bytes, hashed on the way; at their end the SHA-256 must match."""

    def __init__(self, raw: IO[bytes], member: Member) -> None:
        super().__init__()
        self._raw = raw
        self._member = member
        self._digest = hashlib.sha256()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        if not data:
            if not self._checked:
                self._check()
            return 0
        self._digest.update(data)
        buffer[: len(data)] = data
        return len(data)

    def _check(self) -> None:
        self._checked = True
        if self._digest.hexdigest() != self._member.sha256:
            raise ChecksumMismatch(
                N_("A file of the archive does not match its checksum (%(name)s): the archive "
                   "is damaged or was changed."),
                name=self._member.name[:200],
            )  # fmt: skip

    def close(self) -> None:
        self._raw.close()
        super().close()


# What readers and connectors get: a buffered binary stream (read, readline, iteration),
# whose end raises ChecksumMismatch when the bytes are not those the manifest lists.
VerifiedStream = io.BufferedReader


def open_member(archive: zipfile.ZipFile, member: Member) -> VerifiedStream:
    return io.BufferedReader(_Hashing(archive.open(member.name), member), CHUNK)


def verify(
    checked: CheckedArchive,
    names: list[str] | None = None,
    *,
    consume: Callable[[str, VerifiedStream], None] | None = None,
) -> None:
    """Read every member (or `names`) once and compare its SHA-256 with the manifest.

    `consume(name, stream)` may read the member first (to count its items); what it leaves
    is read here, so the whole member is always hashed.
    """
    with open_zip(checked.path) as archive:
        for name in names if names is not None else list(checked.members):
            member = checked.members[name]
            try:
                with open_member(archive, member) as stream:
                    if consume is not None:
                        consume(name, stream)
                    while stream.read(CHUNK):
                        pass
            except (zipfile.BadZipFile, EOFError, OSError, RuntimeError):
                raise ArchiveRefused(
                    N_("A file of the archive cannot be read (%(name)s): the archive is damaged."),
                    name=name[:200],
                ) from None
