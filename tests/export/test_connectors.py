"""Built-in connectors and the registry, without HTTP."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import Account
from app.audit import AuditEvent
from app.connectors.base import (
    ArchiveEntry,
    ConnectorError,
    Skipped,
    core_connectors,
    safe_uid,
    service_connectors,
)
from app.connectors.command import CommandConnector
from app.connectors.directory import DirectoryConnector, vcard
from app.connectors.files import FilesConnector
from app.directory import DirectoryUnavailable, Person
from app.features import register_panel_section
from app.profile.model import ProfileError


def person(uid: str = "alice") -> Person:
    return Person(uid=uid, dn=f"uid={uid},ou=people,dc=demo", display_name=uid.title(),
                  email=f"{uid}@example.org", language="en")  # fmt: skip


def files_connector(root: Path) -> FilesConnector:
    return FilesConnector("cloud", name="Cloud", path=f"{root}/{{uid}}", base_dir=root)


def collect(items: Any) -> tuple[dict[str, bytes], dict[str, str]]:
    files: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    for item in items:
        if isinstance(item, Skipped):
            skipped[item.path] = item.reason
        else:
            files[item.path] = b"".join(item.chunks)
    return files, skipped


# Logins in paths and commands ------------------------------------------------------------


@pytest.mark.parametrize("uid", ["", ".", "..", "../bob", "a/b", "-rf", ".hidden", "a\x00b"])
def test_a_login_that_would_change_the_path_or_the_command_is_refused(uid: str) -> None:
    with pytest.raises(ConnectorError):
        safe_uid(uid)


@pytest.mark.parametrize("uid", ["alice", "zoé.lefèvre", "jean-paul", "a_b"])
def test_ordinary_logins_are_accepted(uid: str) -> None:
    assert safe_uid(uid) == uid


# files ------------------------------------------------------------------------------------


def test_files_keeps_folders_sizes_and_times(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    (home / "a" / "b").mkdir(parents=True)
    (home / "a" / "b" / "deep.txt").write_bytes(b"deep")
    (home / "top.txt").write_bytes(b"top")
    os.utime(home / "top.txt", (1_600_000_000, 1_600_000_000))
    (home / "empty.txt").write_bytes(b"")
    entries = [e for e in files_connector(tmp_path).export(person()) if isinstance(e, ArchiveEntry)]
    by_path = {e.path: e for e in entries}
    assert sorted(by_path) == [
        "services/cloud/a/b/deep.txt",
        "services/cloud/empty.txt",
        "services/cloud/top.txt",
    ]
    top = by_path["services/cloud/top.txt"]
    assert top.size == 3 and top.mtime is not None and top.mtime.timestamp() == 1_600_000_000
    assert b"".join(top.chunks) == b"top"


def test_files_of_someone_without_a_folder_is_an_empty_export(tmp_path: Path) -> None:
    assert list(files_connector(tmp_path).export(person("nobody"))) == []


def test_files_refuses_a_path_template_without_uid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uid"):
        FilesConnector("cloud", name="Cloud", path="/srv/shared", base_dir=tmp_path)


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    home.mkdir()
    (home / "doc.txt").write_bytes(b"mine")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"NOT YOURS")
    [entry] = list(files_connector(tmp_path).export(person()))
    assert isinstance(entry, ArchiveEntry)
    (home / "doc.txt").unlink()
    os.symlink(outside, home / "doc.txt")
    with pytest.raises(OSError):
        b"".join(entry.chunks)


def test_a_folder_swapped_for_a_link_after_listing_is_not_followed(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "a.txt").write_bytes(b"mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.txt").write_bytes(b"NOT YOURS")
    [entry] = list(files_connector(tmp_path).export(person()))
    assert isinstance(entry, ArchiveEntry)
    (home / "docs" / "a.txt").unlink()
    (home / "docs").rmdir()
    os.symlink(elsewhere, home / "docs")
    with pytest.raises(OSError):
        b"".join(entry.chunks)


def test_files_delete_removes_the_folder_and_can_run_twice(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    (home / "sub").mkdir(parents=True)
    (home / "sub" / "f").write_bytes(b"x")
    (tmp_path / "bob").mkdir()
    connector = files_connector(tmp_path)
    assert connector.delete(person()).ok
    assert not home.exists() and (tmp_path / "bob").exists()
    again = connector.delete(person())
    assert again.ok and "nothing" in again.detail


def test_files_delete_leaves_a_linked_folder_to_staff(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    (target / "f").write_bytes(b"x")
    os.symlink(target, tmp_path / "alice")
    result = files_connector(tmp_path).delete(person())
    assert not result.ok and "link" in result.detail
    assert (target / "f").exists()


# command ----------------------------------------------------------------------------------

TAR_WRITER = textwrap.dedent(
    """
    import io, sys, tarfile, time, os
    uid, pidfile, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    open(pidfile, "w").write(str(os.getpid()))
    out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")
    def add(name, data, kind=tarfile.REGTYPE):
        info = tarfile.TarInfo(name)
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        info.type = kind
        info.mtime = 1_600_000_000
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
        out.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    add(f"notes-of-{uid}.txt", b"hello " + uid.encode())
    add("sub/dir/data.csv", b"a,b\\n1,2\\n")
    add("../escape.txt", b"no")
    add("link", b"", tarfile.SYMTYPE)
    if mode == "slow":
        sys.stdout.flush()
        add("big.bin", b"x" * 300_000)
        time.sleep(60)
    if mode == "fail":
        sys.stderr.write("database is locked\\n")
        sys.exit(3)
    out.close()
    """
)


@pytest.fixture
def tar_command(tmp_path: Path) -> Callable[..., CommandConnector]:
    script = tmp_path / "dump.py"
    script.write_text(TAR_WRITER)

    def make(mode: str = "ok", timeout: float = 30) -> CommandConnector:
        return CommandConnector(
            "notes",
            name="Notes",
            export_argv=[sys.executable, str(script), "{uid}", str(tmp_path / "pid"), mode],
            delete_argv=[sys.executable, "-c", "import sys; sys.exit(sys.argv[1] != 'alice')",
                         "{uid}"],
            timeout=timeout,
        )  # fmt: skip

    return make


def process_gone(pidfile: Path) -> bool:
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_command_output_is_repacked_under_the_service_folder(
    tar_command: Callable[..., CommandConnector],
) -> None:
    files, skipped = collect(tar_command().export(person()))
    assert files == {
        "services/notes/notes-of-alice.txt": b"hello alice",
        "services/notes/sub/dir/data.csv": b"a,b\n1,2\n",
    }
    assert "services/notes/../escape.txt" in skipped
    assert "services/notes/link" in skipped


def test_command_failure_reports_status_and_error_output(
    tar_command: Callable[..., CommandConnector],
) -> None:
    with pytest.raises(ConnectorError, match="status 3: database is locked"):
        collect(tar_command("fail").export(person()))


def test_command_is_stopped_at_its_timeout(
    tar_command: Callable[..., CommandConnector], tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectorError, match="longer than 1 s"):
        collect(tar_command("slow", timeout=1).export(person()))
    assert time.monotonic() - started < 20
    assert process_gone(tmp_path / "pid")


def test_closing_the_export_early_stops_the_program(
    tar_command: Callable[..., CommandConnector], tmp_path: Path
) -> None:
    export = tar_command("slow").export(person())
    first = next(export)
    assert isinstance(first, ArchiveEntry)
    export.close()  # what a client that disconnects causes
    assert process_gone(tmp_path / "pid")


def test_command_never_receives_a_login_that_looks_like_an_option(
    tar_command: Callable[..., CommandConnector], tmp_path: Path
) -> None:
    with pytest.raises(ConnectorError):
        next(tar_command().export(person("-rf")))
    assert not (tmp_path / "pid").exists()
    assert not tar_command().delete(person("--all")).ok


def test_command_delete_reports_the_program_outcome(
    tar_command: Callable[..., CommandConnector],
) -> None:
    assert tar_command().delete(person("alice")).ok
    assert not tar_command().delete(person("bob")).ok
    no_delete = CommandConnector("x", name="X", export_argv=["true"])
    assert not no_delete.delete(person()).ok


# directory --------------------------------------------------------------------------------


def test_vcard_escapes_values_and_folds_long_lines() -> None:
    attrs = {
        "cn": ["Smith, John; Jr"],
        "sn": ["Smith"],
        "givenName": ["John"],
        "mail": ["john@example.org"],
        "telephoneNumber": ["+33 1 23 45 67 89"],
        "title": ["Très long intitulé de poste " * 5],
    }
    card = vcard(person("jsmith"), attrs)
    assert card.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n")
    assert "FN:Smith\\, John\\; Jr\r\n" in card
    assert "N:Smith;John;;;\r\n" in card
    assert "TEL;TYPE=work;VALUE=uri:tel:+33-1-23-45-67-89" in card
    for line in card.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75
    unfolded = card.replace("\r\n ", "")
    assert "TITLE:" + "Très long intitulé de poste " * 5 in unfolded
    assert card.endswith("END:VCARD\r\n")


def test_directory_down_is_a_connector_failure() -> None:
    class Down:
        def entry_attributes(self, person: Person, deny: frozenset[str]) -> Any:
            raise DirectoryUnavailable("timeout")

    connector = DirectoryConnector(lambda: Down(), frozenset())  # type: ignore[arg-type,return-value]
    with pytest.raises(ConnectorError):
        list(connector.export(person()))


# panel ------------------------------------------------------------------------------------


def test_panel_delete_removes_the_account_last_and_its_events(
    app: Flask, login_as: Any, db_session: Any
) -> None:
    login_as("alice")
    order: list[str] = []

    class Tickets:
        name = "tickets"

        def inventory(self, session: Any, account: Account) -> list[Any]:
            return []

        def export(self, session: Any, account: Account) -> Any:
            yield ArchiveEntry("tickets.json", [b"[]"])

        def delete(self, session: Any, account: Account) -> None:
            assert session.get(Account, account.id) is not None
            order.append("tickets")

    register_panel_section(app, Tickets())
    panel = core_connectors(app)["panel"]
    with app.test_request_context():
        paths = [e.path for e in panel.export(person()) if isinstance(e, ArchiveEntry)]
        assert "panel/tickets/tickets.json" in paths
        from app.db import get_session

        session = get_session()
        account_id = session.scalar(select(Account.id).where(Account.uid == "alice"))
        assert panel.delete(person()).ok
        session.commit()
    assert order == ["tickets"]
    assert db_session.scalar(select(Account).where(Account.uid == "alice")) is None
    left = db_session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.account_id == account_id)
    )
    assert left == 0


# registry ---------------------------------------------------------------------------------


def service(connector: str) -> str:
    return f"""
[[services]]
slug = "extra"
name = "Extra"
host = "main"
[services.software]
name = "Tool"
licence = "MIT"
[services.connector]
{connector}
"""


@pytest.mark.parametrize(
    ("connector", "message"),
    [
        ('type = "ftp"', "services.extra.connector.type: unknown connector 'ftp'"),
        ('path = "/srv/{uid}"', "services.extra.connector.type is missing"),
        ('type = "files"', "services.extra.connector: path is missing"),
        ('type = "files"\npath = "/srv/all"', "must contain {uid}"),
        ('type = "command"\nexport = "dump {uid}"', "export must be a list"),
    ],
)
def test_a_wrong_connector_in_hoster_toml_stops_the_start_with_the_key_named(
    make_app: Callable[..., Flask], hoster_file: Any, connector: str, message: str
) -> None:
    with pytest.raises(ProfileError) as raised:
        make_app(HOSTER_FILE=str(hoster_file(service(connector))))
    assert message in str(raised.value)


def test_a_plugin_connector_is_found_through_its_entry_point(
    make_app: Callable[..., Flask], hoster_file: Any, plugins: dict[str, Any]
) -> None:
    built: list[dict[str, Any]] = []

    def factory(svc: Any, options: dict[str, Any], app: Flask) -> Any:
        built.append(options)
        return CommandConnector(svc.slug, name=svc.name, export_argv=["true"])

    plugins["mattermost"] = factory
    app = make_app(HOSTER_FILE=str(hoster_file(service('type = "mattermost"\nroom = "general"'))))
    assert built == [{"room": "general"}]
    assert set(service_connectors(app)) == {"cloud", "extra"}
    assert list(core_connectors(app)) == ["panel", "directory"]


def test_demo_files_command_gives_demo_people_files_once(app: Flask, files_root: Path) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["export", "demo-files"])
    assert first.exit_code == 0, first.output
    assert (files_root / "alice" / "Photos" / "chaton.png").read_bytes().startswith(b"\x89PNG")
    assert (files_root / "zoe" / "Été 2024").is_dir()
    second = runner.invoke(args=["export", "demo-files"])
    assert second.exit_code == 0 and second.output == ""


def test_demo_files_command_refuses_a_real_directory(
    make_app: Callable[..., Flask], hoster_file: Any
) -> None:
    app = make_app(HOSTER_FILE=str(hoster_file()), LDAP_URL="ldap://127.0.0.1:1")
    result = app.test_cli_runner().invoke(args=["export", "demo-files"])
    assert result.exit_code != 0 and "demo mode" in result.output
