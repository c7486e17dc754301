"""Hostile archives are refused with the message a person sees, and nothing is written."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from moving.moving_support import (
    FakeImporter,
    archive_bytes,
    load_job,
    manifest_for,
    start_upload,
    tree,
    use_importer,
)

from app.moving.archive import ArchiveRefused, Limits, check_archive, verify

LIMITS = Limits(max_archive_bytes=10**9, max_expanded_bytes=10**9, max_ratio=100)
GOOD = {"services/cloud/notes/a.txt": b"hello\n", "services/cloud/b.txt": b"world\n"}


def _write(tmp_path: Path, body: bytes, name: str = "in.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def _refusal(tmp_path: Path, body: bytes, limits: Limits = LIMITS) -> str:
    path = _write(tmp_path, body)
    with pytest.raises(ArchiveRefused) as caught:
        checked = check_archive(path, limits)
        verify(checked)
    return str(caught.value)


def _symlink(name: str, target: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def test_a_good_archive_passes_every_check(tmp_path: Path) -> None:
    checked = check_archive(_write(tmp_path, archive_bytes(GOOD)), LIMITS)
    verify(checked)
    assert list(checked.members) == list(GOOD)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("../../etc/cron.d/evil", "leads out of its folder"),
        ("services/cloud/../../../x", "leads out of its folder"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/evil.txt", "absolute path"),
    ],
)
def test_names_leading_out_are_refused(tmp_path: Path, name: str, words: str) -> None:
    files = {**GOOD, name: b"evil"}
    assert words in _refusal(tmp_path, archive_bytes(files))


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    body = archive_bytes(GOOD, extra_members=[_symlink("services/cloud/link", b"/etc/passwd")])
    assert "symbolic link (services/cloud/link)" in _refusal(tmp_path, body)


def test_the_same_name_twice_is_refused(tmp_path: Path) -> None:
    body = archive_bytes(GOOD, extra_members=[("services/cloud/B.TXT", b"other")])
    assert "same name twice" in _refusal(tmp_path, body)


def test_a_zip_bomb_is_refused_before_anything_is_expanded(tmp_path: Path) -> None:
    bomb = {"services/cloud/zeros.txt": bytes(5_000_000)}
    body = archive_bytes(bomb, compression=zipfile.ZIP_DEFLATED)
    assert "zip bomb" in _refusal(tmp_path, body)


def test_the_total_size_once_expanded_is_bounded(tmp_path: Path) -> None:
    limits = Limits(max_archive_bytes=10**9, max_expanded_bytes=8, max_ratio=100)
    assert "Expanded, the archive would be larger" in _refusal(
        tmp_path, archive_bytes(GOOD), limits
    )


def test_a_wrong_checksum_is_refused(tmp_path: Path) -> None:
    manifest = json.loads(manifest_for(GOOD))
    manifest["files"][0]["sha256"] = hashlib.sha256(b"something else").hexdigest()
    body = archive_bytes(GOOD, manifest=json.dumps(manifest).encode())
    assert "does not match its checksum (services/cloud/notes/a.txt)" in _refusal(tmp_path, body)


def test_an_archive_without_manifest_is_refused(tmp_path: Path) -> None:
    assert "no manifest.json" in _refusal(tmp_path, archive_bytes(GOOD, with_manifest=False))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"manifest_version": 2}, "format version 2; this panel reads version 1"),
        ({"manifest_version": None}, "does not say its format version"),
    ],
)
def test_an_unknown_format_version_is_refused(
    tmp_path: Path, change: dict[str, Any], words: str
) -> None:
    manifest = json.loads(manifest_for(GOOD))
    manifest.update(change)
    if change["manifest_version"] is None:
        del manifest["manifest_version"]
    body = archive_bytes(GOOD, manifest=json.dumps(manifest).encode())
    assert words in _refusal(tmp_path, body)


def test_a_file_the_manifest_does_not_list_is_refused(tmp_path: Path) -> None:
    body = archive_bytes(GOOD, manifest=manifest_for({"services/cloud/b.txt": b"world\n"}))
    assert "its manifest does not list (services/cloud/notes/a.txt)" in _refusal(tmp_path, body)


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    assert "not a ZIP archive" in _refusal(tmp_path, b"PK\x03\x04 not really")


def test_a_too_large_archive_is_refused(tmp_path: Path) -> None:
    limits = Limits(max_archive_bytes=100, max_expanded_bytes=10**9, max_ratio=100)
    assert "larger than this panel accepts" in _refusal(tmp_path, archive_bytes(GOOD), limits)


@pytest.mark.parametrize(
    "hostile",
    ["slip", "symlink", "bomb", "checksum", "no-manifest", "version"],
)
def test_a_hostile_upload_fails_with_its_reason_and_writes_nothing(
    app: Flask, signed_in: Any, tmp_path: Path, hostile: str
) -> None:
    signed_in("alice")
    target = tmp_path / "new-cloud"
    use_importer(app, FakeImporter("cloud", target))
    manifest = json.loads(manifest_for(GOOD))
    changed = {**GOOD, "services/cloud/b.txt": b"WORLD\n"}
    newer = json.dumps({**manifest, "manifest_version": 9}).encode()
    bomb = {"services/cloud/z": bytes(3_000_000)}
    bodies = {
        "slip": archive_bytes({**GOOD, "../evil": b"x"}),
        "symlink": archive_bytes(GOOD, extra_members=[_symlink("services/cloud/l", b"/")]),
        "bomb": archive_bytes(bomb, compression=zipfile.ZIP_DEFLATED),
        "checksum": archive_bytes(changed, manifest=manifest_for(GOOD)),
        "no-manifest": archive_bytes(GOOD, with_manifest=False),
        "version": archive_bytes(GOOD, manifest=newer),
    }
    (tmp_path / "uploads").mkdir()
    archive = _write(tmp_path / "uploads", bodies[hostile])
    job = load_job(app, start_upload(app, "alice", archive))
    assert job.state == "failed"
    assert job.error
    assert not job.parts
    assert not archive.exists(), "a refused archive is deleted"
    assert not target.exists() or tree(target) == {}


def test_wrong_settings_stop_the_start_with_the_setting_named(make_app: Any) -> None:
    import config as panel_config

    with pytest.raises(panel_config.ConfigError, match="PANEL_MOVING_MAX_RATIO"):
        make_app(MOVING_MAX_RATIO=0)
