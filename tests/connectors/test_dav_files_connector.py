"""The `files` connector keeps to the person's own root; empty folders stay in the ZIP.

(Named with the DAV tests of issue 20: the same rules hold for files on disk as for WebDAV.)
"""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from connectors.conftest import person

from app.connectors.base import ArchiveEntry, ConnectorError, PlannedItem
from app.connectors.files import FilesConnector
from app.export.archive import ExportArchive
from app.export.plan import Part, planned_file
from app.export.services import ExportContext, render_trailer


def files(tmp_path: Path, template: str = "data/{uid}/files") -> FilesConnector:
    return FilesConnector("cloud", name="Cloud", path=template, base_dir=tmp_path)


def make(root: Path, content: dict[str, bytes], empty: tuple[str, ...] = ()) -> None:
    for relative, data in content.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    for folder in empty:
        (root / folder).mkdir(parents=True, exist_ok=True)


def test_a_link_from_her_folder_to_bobs_is_refused_and_bob_keeps_his_files(
    tmp_path: Path,
) -> None:
    make(tmp_path / "data" / "bob" / "files", {"secret.txt": b"bob's"})
    # alice's folder is a link to bob's: her export and deletion must not follow it.
    (tmp_path / "data" / "alice").symlink_to(tmp_path / "data" / "bob")
    cloud = files(tmp_path)
    with pytest.raises(ConnectorError, match="is a link"):
        list(cloud.export(person()))
    with pytest.raises(ConnectorError, match="is a link"):
        cloud.plan(person())
    result = cloud.delete(person())
    assert not result.ok and "is a link" in result.detail
    assert (tmp_path / "data" / "bob" / "files" / "secret.txt").read_bytes() == b"bob's"


def test_plan_counts_her_files_and_bytes(tmp_path: Path) -> None:
    make(tmp_path / "data" / "alice" / "files", {"a.txt": b"12345", "d/.hidden": b"xy"}, ("e",))
    plan = files(tmp_path).plan(person())
    assert plan.delete == (PlannedItem("files", 2, 7),)
    assert files(tmp_path).plan(person("nobody")).delete == ()


def test_empty_folders_and_dotfiles_are_in_an_archive_of_announced_length(tmp_path: Path) -> None:
    make(tmp_path / "data" / "alice" / "files", {".gitignore": b"*.o\n", "a/b.txt": b"b"},
         ("Vide", "a/vide aussi"))  # fmt: skip
    entries = [e for e in files(tmp_path).export(person()) if isinstance(e, ArchiveEntry)]
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2024, 3, 1, tzinfo=UTC)
    ctx = ExportContext("Hoster", SimpleNamespace(uid="alice"), now, paris, SimpleNamespace())  # type: ignore[arg-type]
    part = Part("cloud", "Cloud", folder="services/cloud/",
                planned=[planned_file(e, "cloud") for e in entries])  # fmt: skip
    archive = ExportArchive(
        head=[], parts=[part], render_trailer=lambda rep, room: render_trailer(ctx, rep, room),
        timezone=paris, announce_length=True, now=now,
    )  # fmt: skip
    assert archive.content_length is not None
    body = b"".join(archive)
    assert len(body) == archive.content_length  # folder entries are counted exactly
    opened = zipfile.ZipFile(io.BytesIO(body))
    assert opened.testzip() is None
    names = set(opened.namelist())
    assert {"services/cloud/.gitignore", "services/cloud/Vide/",
            "services/cloud/a/vide aussi/", "services/cloud/a/b.txt"} <= names  # fmt: skip
    assert opened.getinfo("services/cloud/Vide/").is_dir()
    manifest = opened.read("manifest.json").decode()
    assert "services/cloud/a/b.txt" in manifest and "services/cloud/Vide/" not in manifest
    assert os.path.isdir(tmp_path / "data" / "alice" / "files" / "Vide")
