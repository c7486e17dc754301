"""Issue 23's "done when": two panels, each with its own Dovecot, Radicale and files.

Alice exports everything from panel A, uploads the ZIP to panel B, reads the plan, confirms,
and the worker imports it. B's export must then hold what A's held: the same messages per
folder (byte for byte: the mbox writer is the same and flags and dates travel), the same
event and contact UIDs with their properties, the same files by SHA-256. Importing the same
archive again writes nothing. The transfer-code path fetches A's export over HTTPS.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import icalendar
import pytest
import requests
import vobject
from conftest import missing_tool
from connectors.conftest import MAIL_SERVICE, toml_table
from connectors.conftest import seed as seed_mail
from connectors.test_end_to_end import docs_example, service
from flask import Flask
from moving.moving_support import confirm, load_job, run_import, start_upload

import connector_servers as servers
from helpers import do_login, profile_without_local_servers
from imap_server import Dovecot, dovecot_available

UID = "alice"
STAMP = 1_700_000_000
FILES = {
    "Documents/notes.md": b"# Notes\n" * 50,
    "Photos/été/chaton.jpg": b"\xff\xd8\xff\xe0 jpeg " * 300,
    "vide.txt": b"",
}


class Panel:
    """One hoster: its Dovecot, its Radicale, its files folder and its hoster.toml."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        self.dovecot = Dovecot(Path(tempfile.mkdtemp(prefix=f"panel-{name}-dovecot-")))
        self.dovecot.write_config()
        self.dovecot.start()
        self.radicale = servers.start_radicale()
        self.files = root / "files"
        self.files.mkdir(parents=True)

    def hoster_toml(self) -> Path:
        secret = self.root / "dav.secret"
        secret.write_text(servers.ADMIN_PASSWORD + "\n")
        agenda = (
            docs_example("dav")
            .replace("/etc/chatons-panel/dav.secret", str(secret))
            .replace("https://dav.example.org/", self.radicale.url + "/")
        )
        text = profile_without_local_servers().replace(
            'path = "instance/demo-files/{uid}"', f'path = "{self.files}/{{uid}}"'
        )
        text += MAIL_SERVICE.format(connector=toml_table(self.dovecot.settings()))
        text += service("agenda", "Radicale", agenda)
        path = self.root / "hoster.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def stop(self) -> None:
        self.dovecot.stop()
        shutil.rmtree(self.dovecot.root, ignore_errors=True)
        self.radicale.cleanup()


@pytest.fixture
def panels(tmp_path: Path) -> Iterator[tuple[Panel, Panel]]:
    if not dovecot_available():
        missing_tool("dovecot is not installed (apt-get install dovecot-imapd) or not root")
    if not servers.radicale_available():
        missing_tool("radicale is not installed (pip install radicale)")
    a, b = Panel("a", tmp_path / "a"), Panel("b", tmp_path / "b")
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def own_database(database_url: str, tmp_path: Path, name: str) -> str:
    """Panel B's database: a copy of the empty schema on SQLite (PostgreSQL is shared)."""
    if not database_url.startswith("sqlite:///"):
        return database_url
    own = tmp_path / f"panel-{name}.sqlite3"
    shutil.copyfile(database_url.removeprefix("sqlite:///"), own)
    return f"sqlite:///{own}"


def export_of(app: Flask, path: Path) -> zipfile.ZipFile:
    client = app.test_client()
    assert do_login(client, UID, "demo").status_code == 302
    from moving.moving_support import make_export_zip

    make_export_zip(client, path)
    archive = zipfile.ZipFile(path)
    assert archive.testzip() is None
    return archive


def services_of(archive: zipfile.ZipFile, slug: str) -> dict[str, bytes]:
    prefix = f"services/{slug}/"
    return {
        name.removeprefix(prefix): archive.read(name)
        for name in archive.namelist()
        if name.startswith(prefix) and not name.endswith("/")
    }


def calendar_objects(data: bytes) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for component in icalendar.Calendar.from_ical(data).walk("VEVENT"):
        props = {
            key: component[key].to_ical().decode()
            for key in ("SUMMARY", "DTSTART", "RRULE", "LOCATION", "DESCRIPTION")
            if key in component
        }
        found[str(component["UID"])] = props
    return found


def contacts(data: bytes) -> dict[str, tuple[str, str]]:
    return {
        card.uid.value: (card.fn.value, card.email.value)
        for card in vobject.readComponents(data.decode())
    }


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def test_everything_moves_from_one_panel_to_another_and_comes_back_the_same(
    make_app: Callable[..., Flask],
    database_url: str,
    tmp_path: Path,
    panels: tuple[Panel, Panel],
) -> None:
    a, b = panels
    seed_mail(a.dovecot, UID)
    servers.seed_radicale(a.radicale, UID)
    for relative, content in FILES.items():
        path = a.files / UID / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (STAMP, STAMP))
    # On B, Alice already has a mailbox and a calendar home, both empty.
    b.dovecot.reset(UID)
    requests.request(  # Radicale makes her home on her first visit
        "PROPFIND", f"{b.radicale.url}/{UID}/", auth=(UID, servers.PEOPLE[UID]), timeout=10
    )

    panel_a = make_app(HOSTER_FILE=str(a.hoster_toml()))
    panel_b = make_app(
        HOSTER_FILE=str(b.hoster_toml()),
        DATABASE_URL=own_database(database_url, tmp_path, "b"),
        MAIL_DIR=str(tmp_path / "mail-b"),
        MOVING_UPLOAD_DIR=str(tmp_path / "uploads-b"),
    )
    before = export_of(panel_a, tmp_path / "from-a.zip")
    assert services_of(before, "post"), before.namelist()

    # Alice signs in on B once (her account there), uploads, reads the plan, confirms.
    assert do_login(panel_b.test_client(), UID, "demo").status_code == 302
    shutil.copyfile(tmp_path / "from-a.zip", tmp_path / "upload.zip")
    job_id = start_upload(panel_b, UID, tmp_path / "upload.zip")
    planned = load_job(panel_b, job_id)
    assert planned.state == "planned", (planned.state, planned.error)
    homes = {part.service_slug for part in planned.parts if part.service_slug}
    assert {"post", "agenda", "cloud"} <= homes, [
        (p.name, p.service_slug, p.note) for p in planned.parts
    ]
    confirm(panel_b, job_id)
    done = run_import(panel_b, job_id)
    assert done.state == "done", [
        (p.name, p.state, p.error, p.refusals) for p in done.parts if p.state != "done"
    ]
    refused = [(p.name, p.refusals, p.error) for p in done.parts if p.refused or p.error]
    assert not refused, refused

    after = export_of(panel_b, tmp_path / "from-b.zip")
    # Mail: every folder, message for message, byte for byte.
    assert services_of(after, "post") == services_of(before, "post")
    # Calendars and contacts: the same UIDs with the same properties.
    old_dav, new_dav = services_of(before, "agenda"), services_of(after, "agenda")
    assert sorted(new_dav) == sorted(old_dav)
    for name, data in old_dav.items():
        if name.endswith(".ics"):
            assert calendar_objects(new_dav[name]) == calendar_objects(data), name
        else:
            assert contacts(new_dav[name]) == contacts(data), name
    # Files: the same paths with the same SHA-256.
    assert digests(services_of(after, "cloud")) == digests(services_of(before, "cloud"))

    # The same archive again: the plan is made, the import writes nothing.
    shutil.copyfile(tmp_path / "from-a.zip", tmp_path / "again.zip")
    again = start_upload(panel_b, UID, tmp_path / "again.zip")
    confirm(panel_b, again)
    second = run_import(panel_b, again)
    assert second.state == "done"
    assert sum(p.imported for p in second.parts) == 0
    assert sum(p.skipped for p in second.parts) == sum(p.imported for p in done.parts)
    final = export_of(panel_b, tmp_path / "from-b-again.zip")
    assert services_of(final, "post") == services_of(before, "post")
    assert digests(services_of(final, "cloud")) == digests(services_of(before, "cloud"))
    assert sorted(services_of(final, "agenda")) == sorted(old_dav)
