"""A tar stream re-packed under `services/<slug>/`: shared by the `command` and `http`
connectors, whose services hand over a person's data as a tar archive.

The archive is read as it arrives (`tarfile` in stream mode), one member at a time; a
member whose name would leave the service's folder, a link or a special file is reported
as Skipped, never written.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from flask_babel import gettext as _

from app.connectors.base import ArchiveEntry, ConnectorError, Skipped
from app.connectors.formats import format_name

Failure = Callable[[BaseException], ConnectorError]


def member_path(name: str) -> str | None:
    """A tar member name as a relative archive path, or None if it tries to escape."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def tar_entries(
    archive: tarfile.TarFile, slug: str, failure: Failure, chunk: int
) -> Iterator[ArchiveEntry | Skipped]:
    """Each regular file of the stream; `failure` turns a broken read into the caller's
    ConnectorError (reading the member list itself raises tarfile's own errors)."""
    for member in archive:
        path = member_path(member.name)
        if path is None:
            yield Skipped(
                f"services/{slug}/{member.name}", _("name leaving the service folder, skipped")
            )
            continue
        if member.isdir():
            continue
        if not member.isfile():
            yield Skipped(f"services/{slug}/{path}", _("link or special file, skipped"))
            continue
        yield ArchiveEntry(
            path=f"services/{slug}/{path}",
            chunks=_member_chunks(archive, member, failure, chunk),
            size=member.size,
            mtime=datetime.fromtimestamp(member.mtime, UTC),
            format=format_name("data", path),
        )


def _member_chunks(
    archive: tarfile.TarFile, member: tarfile.TarInfo, failure: Failure, chunk: int
) -> Iterator[bytes]:
    reader = archive.extractfile(member)
    if reader is None:
        return
    try:
        while data := reader.read(chunk):
            yield data
    except (tarfile.TarError, OSError) as exc:
        raise failure(exc) from exc
