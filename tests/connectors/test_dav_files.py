"""WebDAV files on Apache httpd mod_dav (Basic and Digest, DAV on /files only) and wsgidav.

Names are kept as they are (`.gitignore` stays `.gitignore`), empty folders become ZIP
folder entries, bob's files are checked byte by byte after alice's deletion, and `flask
doctor`'s check says plainly when `url` is not itself a DAV collection.
"""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import missing_tool
from connectors.conftest import build, person

import connector_servers as servers
from app.connectors import dav
from app.connectors.base import ArchiveEntry, ConnectorError, Skipped
from app.connectors.dav import DavConnector
from app.export.archive import ExportArchive
from app.export.plan import Part
from app.export.services import ExportContext, render_trailer

STAMP = 1_700_000_000
ALICE = {
    ".gitignore": b"*.pyc\n",
    ".config/app.ini": b"[x]\n",
    "Photos/été 2024.jpg": os.urandom(70_000),
    "notes.txt": b"hello\n",
}
BOB = {"keep.txt": b"bob's\n", "Projet/plan.md": b"# plan\n"}


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "dav.secret"
    path.write_text(servers.ADMIN_PASSWORD + "\n")
    return path


def files_connector(server: servers.Process, password_file: Path, **kw: Any) -> DavConnector:
    options = {"url": server.url + "/", "admin_user": servers.ADMIN_USER,
               "password_file": str(password_file), "caldav": False, "carddav": False,
               "files": True, "files_path": "files/{login}/", **kw}  # fmt: skip
    connector: DavConnector = build(dav, "cloud", options)
    return connector


def seed(server: servers.Process, uid: str, files: dict[str, bytes], empty: tuple[str, ...] = ()):
    root = server.home / "files" / uid
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (STAMP, STAMP))
    for folder in empty:
        (root / folder).mkdir(parents=True, exist_ok=True)
    servers.apache_writable(server.home)


def on_disk(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def zip_of(entries: list[ArchiveEntry | Skipped]) -> zipfile.ZipFile:
    """The entries written by the panel's own streamed ZIP, read back."""
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2024, 3, 1, tzinfo=UTC)
    ctx = ExportContext("Hoster", SimpleNamespace(uid="alice"), now, paris, SimpleNamespace())  # type: ignore[arg-type]
    part = Part("cloud", "Cloud", folder="services/cloud/", stream=iter(entries))
    archive = ExportArchive(
        head=[], parts=[part], render_trailer=lambda rep, room: render_trailer(ctx, rep, room),
        timezone=paris, announce_length=False, now=now,
    )  # fmt: skip
    opened = zipfile.ZipFile(io.BytesIO(b"".join(archive)))
    assert opened.testzip() is None
    return opened


def test_apache_export_keeps_dotfiles_and_empty_folders(
    apache: servers.Process, password_file: Path
) -> None:
    seed(apache, "alice", ALICE, empty=("Vide", "Archives/2023/vide aussi"))
    seed(apache, "bob", BOB)
    entries = list(files_connector(apache, password_file).export(person()))
    assert not [e for e in entries if isinstance(e, Skipped)]
    archive = zip_of(entries)
    names = set(archive.namelist())
    prefix = "services/cloud/files/"
    assert {n for n in names if n.startswith(prefix)} == {
        prefix + ".gitignore",
        prefix + ".config/app.ini",
        prefix + "Photos/été 2024.jpg",
        prefix + "notes.txt",
        prefix + "Vide/",
        prefix + "Archives/2023/vide aussi/",
    }
    assert archive.getinfo(prefix + "Vide/").is_dir()
    for relative, content in ALICE.items():
        assert archive.read(prefix + relative) == content
    assert archive.getinfo(prefix + "notes.txt").date_time[:3] == (2023, 11, 14)


def test_apache_deletion_removes_her_files_only(
    apache: servers.Process, password_file: Path
) -> None:
    seed(apache, "alice", ALICE, empty=("Vide",))
    seed(apache, "bob", BOB)
    before = on_disk(apache.home / "files" / "bob")
    cloud = files_connector(apache, password_file)
    plan = cloud.plan(person())
    assert [(i.name, i.count, i.size) for i in plan.delete] == [
        ("alice", 4, sum(len(c) for c in ALICE.values()))
    ]
    result = cloud.delete(person())
    assert result.ok, result.detail
    assert result.detail == f"5 files and folders deleted at the top of {apache.url}/files/alice/."
    assert list((apache.home / "files" / "alice").iterdir()) == []
    assert on_disk(apache.home / "files" / "bob") == before
    assert cloud.delete(person()).ok


def test_doctor_says_url_is_not_a_dav_collection_and_that_the_files_path_is(
    apache: servers.Process, password_file: Path
) -> None:
    # DAV on /files only: url (/) answers 405 to PROPFIND, which is fine for files.
    described = files_connector(apache, password_file).check()
    assert f"{apache.url}/ is not itself a DAV collection (HTTP 405)" in described
    assert f"under {apache.url}/files/, which is one" in described
    # Calendars asked of a url that is not DAV: a problem, with the fix.
    with pytest.raises(ConnectorError) as caught:
        files_connector(apache, password_file, caldav=True).check()
    assert f"{apache.url}/ is not a DAV collection (HTTP 405 to PROPFIND)" in str(caught.value)
    assert 'files_path = "files/{login}/"' in str(caught.value)
    # A files_path outside the DAV folder: named.
    with pytest.raises(ConnectorError, match="/site/ is not a DAV collection"):
        files_connector(apache, password_file, files_path="site/{login}/").check()


def test_wsgidav_export_keeps_dotfiles_and_empty_folders(
    wsgidav: servers.Process, password_file: Path
) -> None:
    root = wsgidav.home / "files" / "frank"
    (root / "Vide").mkdir(parents=True)
    (root / ".gitignore").write_bytes(b"x\n")
    names = {
        e.path
        for e in files_connector(wsgidav, password_file).export(person("frank"))
        if isinstance(e, ArchiveEntry)
    }
    assert names == {"services/cloud/files/.gitignore", "services/cloud/files/Vide/"}


def test_a_login_the_server_writes_otherwise_in_its_answers_still_finds_every_file(
    apache: servers.Process, password_file: Path
) -> None:
    """The panel asks for /files/alice%40example.org/; Apache answers with its own spelling."""
    seed(apache, "alice@example.org", {"Dossier été/a b.txt": b"ab", ".env": b"X=1\n"})
    cloud = files_connector(apache, password_file, login="{email}")
    names = {e.path for e in cloud.export(person()) if isinstance(e, ArchiveEntry)}
    assert names == {"services/cloud/files/Dossier été/a b.txt", "services/cloud/files/.env"}
    result = cloud.delete(person())
    assert result.ok, result.detail
    assert list((apache.home / "files" / "alice@example.org").iterdir()) == []


def test_a_refused_deletion_names_the_folder_and_the_servers_answer_and_can_be_retried(
    apache: servers.Process, password_file: Path
) -> None:
    seed(apache, "alice", {"locked/f.txt": b"x", "free.txt": b"y"})
    locked = apache.home / "files" / "alice" / "locked"
    locked.chmod(0o555)  # httpd may not remove what is inside
    cloud = files_connector(apache, password_file)
    result = cloud.delete(person())
    assert not result.ok
    assert result.detail.splitlines()[0] == (
        f"the server refused to delete 'locked' ({apache.url}/files/alice/locked/): "
        "HTTP 207 Multi-Status: /files/alice/locked 403 Forbidden; "
        "/files/alice/locked/f.txt 403 Forbidden"
    )
    assert not (apache.home / "files" / "alice" / "free.txt").exists()  # the rest went
    locked.chmod(0o777)
    again = cloud.delete(person())
    assert again.ok, again.detail
    assert list((apache.home / "files" / "alice").iterdir()) == []


@pytest.fixture
def wsgidav_digest() -> Any:
    if not servers.wsgidav_available():
        missing_tool("wsgidav is not installed: pip install -e '.[test]'")
    server = servers.start_wsgidav("digest")
    yield server
    server.cleanup()


def test_wsgidav_with_digest_only_is_signed_in_to_from_its_challenge(
    wsgidav_digest: servers.Process, password_file: Path
) -> None:
    root = wsgidav_digest.home / "files" / "alice"
    (root / "Vide").mkdir(parents=True)
    (root / ".gitignore").write_bytes(b"x\n")
    cloud = files_connector(wsgidav_digest, password_file)
    names = {e.path for e in cloud.export(person()) if isinstance(e, ArchiveEntry)}
    assert names == {"services/cloud/files/.gitignore", "services/cloud/files/Vide/"}
    assert cloud.session.scheme == "digest"
    assert cloud.delete(person()).ok
    assert list(root.iterdir()) == []
