"""Issue 13's "done when": mail, calendars, contacts, files, chat and the http protocol.

The hoster.toml is made of the examples printed in docs/connectors.md (only addresses and
secret paths changed), so the documentation is tested too. A person downloads one ZIP with
everything in open formats, asks for deletion, staff approve, the task worker runs the
steps, and each real server is then asked directly: nothing of theirs is left.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import logging
import mailbox
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import icalendar
import vobject
from connectors.conftest import seed as seed_mail
from connectors.conftest import toml_table
from flask import Flask
from sqlalchemy import select

import connector_servers as servers
from app import tasks
from app.connectors.base import service_connectors
from app.db import Base, session_scope
from app.deletion.models import DeletionRequest
from helpers import csrf_token, do_login, english_connector_words, profile_without_local_servers
from imap_server import Dovecot, server_view
from ldap_server import free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
UID = "alice"
STAMP = 1_700_000_000


def docs_example(section: str) -> str:
    """The first ```toml block of a `## `<section>`` section of docs/connectors.md."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"## `{section}`")
    block = re.search(r"```toml\n(.*?)```", text[start:], re.S)
    assert block is not None, section
    return block.group(1)


def service(slug: str, software: str, connector: str) -> str:
    return f"""
[[services]]
slug = "{slug}"
name = "{slug.title()}"
description = "Test service {slug}."
url = "https://{slug}.demo.chatons.org"
host = "main"
registration = "Member"
install_type = "PACKAGE"
data_location = "server main"
retention = "Until you delete it."
start_date = 2020-01-01
[services.software]
name = "{software}"
licence = "AGPL-3.0-or-later"
{connector}"""


def hoster_toml(
    tmp_path: Path, dovecot: Any, radicale: Any, wsgidav: Any, synapse: Any, reference: Any
) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "dav.secret").write_text(servers.ADMIN_PASSWORD + "\n")
    (secrets / "synapse.token").write_text(synapse.admin_token + "\n")
    (secrets / "tools.token").write_text(servers.TOKEN + "\n")
    dav = docs_example("dav").replace("/etc/chatons-panel/dav.secret", str(secrets / "dav.secret"))
    agenda = dav.replace("https://dav.example.org/", radicale.url + "/")
    drive = re.sub(
        r"(?m)^files = false.*$",
        "files = true\ncaldav = false\ncarddav = false",
        dav.replace("https://dav.example.org/", wsgidav.url + "/"),
    )
    chat = (
        docs_example("matrix")
        .replace("https://matrix.example.org", synapse.url)
        .replace("example.org", servers.SYNAPSE_SERVER_NAME)
        .replace("/etc/chatons-panel/synapse.token", str(secrets / "synapse.token"))
    )
    tools = (
        docs_example("http")
        .replace("https://tools.example.org", reference.url)
        .replace("/etc/chatons-panel/tools.token", str(secrets / "tools.token"))
    )
    demo = profile_without_local_servers().replace(
        'path = "instance/demo-files/{uid}"', f'path = "{tmp_path / "cloud"}/{{uid}}"'
    )
    mail = dovecot.settings(check_login="carol")  # doctor signs in as someone else
    path = tmp_path / "hoster.toml"
    path.write_text(
        demo
        + service("post", "Dovecot", "[services.connector]\n" + toml_table(mail))
        + service("agenda", "Radicale", agenda)
        + service("drive", "wsgidav", drive)
        + service("chat", "Synapse", chat)
        + service("tools", "Forgejo", tools),
        encoding="utf-8",
    )
    return path


def seed_everything(
    dovecot: Any, radicale: Any, wsgidav: Any, synapse: Any, reference: Any
) -> dict[str, list[bytes]]:
    mail = seed_mail(dovecot, UID)
    servers.seed_radicale(radicale, UID)
    for relative, content in {
        "Photos/chaton.jpg": b"\xff\xd8 jpeg",
        "notes.md": b"# notes",
    }.items():
        path = wsgidav.home / "files" / UID / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (STAMP, STAMP))
    servers.seed_matrix(synapse, UID, b"\x89PNG picture")
    repo = reference.home / "data" / UID / "repos" / "site"
    repo.mkdir(parents=True)
    (repo / "index.html").write_text("<h1>Zoé</h1>")
    return mail


def text(response: Any) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def run_worker_once(app: Flask) -> int:
    """What `flask worker` does for each queued task, in this process."""
    huey = tasks.queue(app)
    done = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        done += 1
    return done


def test_a_person_leaves_with_everything_then_nothing_is_left_on_the_servers(
    make_app: Callable[..., Flask],
    tmp_path: Path,
    smtp: Any,
    dovecot: Dovecot,
    radicale: servers.Process,
    wsgidav: servers.Process,
    synapse: servers.Synapse,
    reference: servers.Process,
) -> None:
    mail = seed_everything(dovecot, radicale, wsgidav, synapse, reference)
    app = make_app(
        HOSTER_FILE=str(hoster_toml(tmp_path, dovecot, radicale, wsgidav, synapse, reference)),
        DELETION_GRACE_DAYS=0,
        SMTP_URL=smtp.url,
        QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}",
    )
    automatic = ("post", "agenda", "drive", "chat", "tools")
    assert set(automatic) <= set(service_connectors(app))
    checked = app.test_cli_runner().invoke(args=["doctor"]).output
    for slug in automatic:
        assert re.search(rf"^ok +connector {slug}: ", checked, re.M), checked

    person = app.test_client()
    assert do_login(person, UID, "demo").status_code == 302
    held = text(person.get("/account/data"))
    assert "Envoyés" in held  # the mail folders, counted by the imap connector
    assert "1 room you joined" in held or "1 salon que vous avez rejoint" in held

    # One ZIP with all of it, in open formats.
    response = person.post(
        "/account/export", data={"csrf_token": csrf_token(person, "/account/export")}
    )
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = set(archive.namelist())
    manifest = json.loads(archive.read("manifest.json"))
    for part in manifest["services"]:
        assert not part.get("error"), part
    for folder, messages in mail.items():
        mbox_path = tmp_path / "check.mbox"
        mbox_path.write_bytes(archive.read(f"services/post/{folder}.mbox"))
        box = mailbox.mbox(str(mbox_path), create=False)
        assert len(box) == len(messages), folder
        box.close()
    calendar = icalendar.Calendar.from_ical(
        archive.read("services/agenda/calendars/Travail & réunions.ics")
    )
    assert {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")} == {"Réunion d'équipe", "Dentist"}
    cards = vobject.readComponents(archive.read("services/agenda/contacts/Contacts.vcf").decode())
    assert {c.fn.value for c in cards} == {"Zoé Lefèvre", "Sam Martin"}
    assert archive.read("services/drive/files/Photos/chaton.jpg") == b"\xff\xd8 jpeg"
    assert archive.getinfo("services/drive/files/notes.md").date_time[:3] == (2023, 11, 14)
    assert json.loads(archive.read("services/chat/profile.json"))["name"] == "@alice:test.local"
    assert [archive.read(n) for n in names if n.startswith("services/chat/media/")] == [
        b"\x89PNG picture"
    ]
    assert archive.read("services/tools/repos/site/index.html") == "<h1>Zoé</h1>".encode()

    # Deletion: asked, approved by staff, run by the worker.
    asked = person.post(
        "/account/deletion",
        data={"csrf_token": csrf_token(person, "/account/deletion"), "confirm_login": UID},
    )
    assert asked.status_code == 302
    with session_scope(app) as session:
        request_id = session.scalar(
            select(DeletionRequest.id).where(DeletionRequest.state == "requested")
        )
    staff = app.test_client()
    assert do_login(staff, "camille", "demo").status_code == 302
    page = f"/staff/deletions/{request_id}"
    approved = staff.post(f"{page}/approve", data={"csrf_token": csrf_token(staff, page)})
    assert approved.status_code == 302
    assert run_worker_once(app) >= 1
    listing = staff.get(page).get_data(as_text=True)
    for step_id in re.findall(rf"{page}/steps/(\d+)/done", listing):  # the manual ones
        prefix = f"step-{step_id}"
        staff.post(
            f"{page}/steps/{step_id}/done",
            data={f"{prefix}-csrf_token": csrf_token(staff, page), f"{prefix}-comment": "done"},
        )
    run_worker_once(app)

    # Asked on each server directly, not through the panel: nothing is left.
    assert {folder: len(messages) for folder, messages in server_view(dovecot, UID).items()} == {
        "INBOX": 0
    }
    assert servers.dav_children(radicale, UID) == []
    assert list((wsgidav.home / "files" / UID).iterdir()) == []
    account = servers.synapse_admin_get(synapse, "/v2/users/@alice:test.local").json()
    assert account["deactivated"] is True and account["erased"] is True
    assert (
        servers.synapse_admin_get(synapse, "/v1/users/@alice:test.local/media").json()["total"] == 0
    )
    assert not (reference.home / "data" / UID).exists()

    with session_scope(app) as session:
        request = session.get(DeletionRequest, request_id)
        assert request is not None and request.state == "completed"
        steps = {s.service_slug: s for s in request.steps}
        for slug in automatic:
            assert steps[slug].state == "done", (slug, steps[slug].detail)
    # Alice reads French: her receipt says what each service deleted and kept in French, and
    # so does the staff page (Camille reads French too), with no English connector text.
    receipt = [m for m in smtp.messages if m["To"] == "alice@demo.chatons.org"][-1]
    body = " ".join(receipt.get_content().split())  # lines may be folded
    assert "L'identifiant Matrix @alice:test.local reste réservé" in body
    assert "Les messages déjà distribués restent dans l'historique" in body
    assert "La boîte de réception (INBOX) vide" in body and "doveadm purge -u" in body
    # The http service's own words, asked in Alice's language (Accept-Language).
    assert "les sauvegardes de la nuit, écrasées au bout de 30 jours" in body
    staff_page = text(staff.get(page))
    assert "Agendas et carnets d'adresses supprimés" in staff_page
    assert "désactivé et effacé" in staff_page
    for fragment in [*english_connector_words(), "nightly backups", "deleted:"]:
        assert fragment not in body, fragment
        assert fragment not in staff_page, fragment


def test_a_service_that_dies_during_the_download_still_gives_a_complete_zip(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    server = servers.start_reference("--slow", "0.4")
    try:
        for i in range(8):
            path = server.home / "data" / UID / f"part-{i}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(50_000))
        (tmp_path / "tools.token").write_text(servers.TOKEN)
        tools = (
            docs_example("http")
            .replace("https://tools.example.org", server.url)
            .replace("/etc/chatons-panel/tools.token", str(tmp_path / "tools.token"))
        )
        hoster = tmp_path / "hoster.toml"
        hoster.write_text(profile_without_local_servers() + service("tools", "X", tools))
        app = make_app(HOSTER_FILE=str(hoster))
        person = app.test_client()
        assert do_login(person, UID, "demo").status_code == 302
        token = csrf_token(person, "/account/export")
        response = person.post("/account/export", data={"csrf_token": token}, buffered=False)
        body = bytearray()
        for chunk in response.response:
            body += chunk
            if server.process is not None and b"services/tools/part-1.bin" in body:
                server.stop()  # the service goes away in the middle of its tar stream
        archive = zipfile.ZipFile(io.BytesIO(bytes(body)))
        assert archive.testzip() is None
        tools_part = next(s for s in json.loads(archive.read("manifest.json"))["services"]
                          if s["service"] == "tools")  # fmt: skip
        assert tools_part["status"] == "partial", tools_part
        assert "Tools" in tools_part["reason"]  # said in the person's language (French)
        assert "Tools" in archive.read("ERRORS.txt").decode()
        assert (
            archive.read("services/tools/part-0.bin")
            == (server.home / "data" / UID / "part-0.bin").read_bytes()
        )
    finally:
        server.cleanup()


def test_calendars_export_with_the_persons_own_password_which_is_kept_nowhere(
    make_app: Callable[..., Flask],
    tmp_path: Path,
    radicale: servers.Process,
    caplog: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    servers.seed_radicale(radicale, UID)
    own_password = servers.PEOPLE[UID]
    agenda = f'[services.connector]\ntype = "dav"\nurl = "{radicale.url}/"\nask_password = true\n'
    hoster = tmp_path / "hoster.toml"
    hoster.write_text(profile_without_local_servers() + service("agenda", "Radicale", agenda))
    app = make_app(HOSTER_FILE=str(hoster), EXPORT_LIMIT="100 per hour")
    person = app.test_client()
    assert do_login(person, UID, "demo").status_code == 302
    page = text(person.get("/account/export"))
    assert "Agenda" in page and 'name="password-agenda"' in person.get("/account/export").get_data(
        as_text=True
    )

    def download(password: str | None) -> zipfile.ZipFile:
        data = {"csrf_token": csrf_token(person, "/account/export")}
        if password is not None:
            data["password-agenda"] = password
        response = person.post("/account/export", data=data)
        assert response.status_code == 200
        return zipfile.ZipFile(io.BytesIO(response.get_data()))

    def agenda_part(archive: zipfile.ZipFile) -> dict[str, Any]:
        parts = json.loads(archive.read("manifest.json"))["services"]
        return dict(next(p for p in parts if p["service"] == "agenda"))

    archive = download(own_password)
    assert agenda_part(archive)["status"] == "ok", agenda_part(archive)
    calendar = icalendar.Calendar.from_ical(
        archive.read("services/agenda/calendars/Travail & réunions.ics")
    )
    assert len(calendar.walk("VEVENT")) == 2
    everything = b"".join(archive.read(n) for n in archive.namelist())

    wrong = download("not-" + own_password)
    assert agenda_part(wrong)["status"] == "failed"
    assert "Agenda a refusé votre mot de passe" in wrong.read("ERRORS.txt").decode()
    assert not [n for n in wrong.namelist() if n.startswith("services/agenda/")]
    empty = download(None)
    assert agenda_part(empty)["status"] == "failed"
    assert "Agenda a besoin de votre mot de passe" in empty.read("ERRORS.txt").decode()

    # The password is in no log line, no database row and no file of the archive.
    assert own_password.encode() not in everything
    assert own_password not in caplog.text
    with session_scope(app) as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(table.select()):
                assert own_password not in repr(tuple(row)), table.name
    instance = Path(app.instance_path)
    for path in instance.rglob("*") if instance.exists() else ():
        # instance/ is shared: another test (or xdist worker) may remove a file meanwhile.
        with contextlib.suppress(FileNotFoundError):
            if path.is_file():
                assert own_password.encode() not in path.read_bytes(), path


def test_services_that_are_down_show_as_not_reachable_on_the_data_page(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "secret").write_text("s3cret")
    connectors = {
        "agenda": f'type = "dav"\nurl = "{down}/"\nadmin_user = "panel"\n'
        f'password_file = "{tmp_path / "secret"}"\n',
        "chat": f'type = "matrix"\nurl = "{down}"\nuser_id = "@{{uid}}:example.org"\n'
        f'token_file = "{tmp_path / "secret"}"\n',
        "tools": f'type = "http"\nurl = "{down}/api"\ntoken_file = "{tmp_path / "secret"}"\n',
    }
    hoster = tmp_path / "hoster.toml"
    hoster.write_text(
        profile_without_local_servers()
        + "".join(
            service(slug, "X", "[services.connector]\n" + table)
            for slug, table in connectors.items()
        )
    )
    app = make_app(HOSTER_FILE=str(hoster))
    person = app.test_client()
    assert do_login(person, UID, "demo").status_code == 302
    page = person.get("/account/data")
    assert page.status_code == 200
    # Alice reads French: each of the three services says it did not answer.
    assert text(page).count("Injoignable pour le moment") == 3, text(page)
