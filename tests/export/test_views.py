"""/account/export and /account/data as a signed-in person uses them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit import AuditEvent
from app.connectors import files as files_connector
from app.connectors.base import ArchiveEntry, ConnectorError, DataItem, StepResult
from app.export import reading
from helpers import csrf_token, missing_tool

STAMP = 1_700_000_000


def unzip_test(body: bytes, tmp_path: Path) -> str:
    if not shutil.which("unzip"):
        missing_tool("unzip is not installed: apt-get install unzip")
    archive = tmp_path / "export.zip"
    archive.write_bytes(body)
    done = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_archive_has_profile_activity_files_readme_and_passes_unzip_test(
    client: FlaskClient, sign_in: Any, download: Any, write_file: Any, tmp_path: Path
) -> None:
    write_file("alice", "Documents/notes.md", b"# Notes\n" * 50)
    write_file("alice", "Photos/cat.png", b"\x89PNG fake image bytes")
    result = download(sign_in(client, "alice"))

    names = result.zip.namelist()
    assert names[:2] == ["README.html", "README.txt"]
    assert names[-1] == "manifest.json"
    for expected in (
        "panel/account/account.json",
        "panel/activity/events.json",
        "panel/activity/events.csv",
        "directory/profile.json",
        "directory/profile.vcf",
        "services/cloud/Documents/notes.md",
        "services/cloud/Photos/cat.png",
    ):
        assert expected in names
    assert "ERRORS.txt" not in names
    assert result.zip.testzip() is None
    assert "No errors detected" in unzip_test(result.body, tmp_path)
    assert int(result.response.headers["Content-Length"]) == len(result.body)
    account = json.loads(result.zip.read("panel/account/account.json"))
    assert account["login"] == "alice"
    events = json.loads(result.zip.read("panel/activity/events.json"))
    assert [e["action"] for e in events][-1] == "export.downloaded"
    profile = json.loads(result.zip.read("directory/profile.json"))
    assert profile["attributes"]["mail"] == ["alice@demo.chatons.org"]
    assert "FN:Alice Martin" in result.text("directory/profile.vcf")
    assert "services/cloud/" in result.text("README.txt")
    assert {s["service"]: s["status"] for s in result.manifest()["services"]} == {
        "panel": "ok",
        "directory": "ok",
        "cloud": "ok",
    }


def test_every_file_is_in_the_manifest_with_a_matching_checksum(
    client: FlaskClient, sign_in: Any, download: Any, write_file: Any
) -> None:
    write_file("alice", "a.txt", b"a" * 10_000)
    write_file("alice", "deep/er/b.bin", os.urandom(300_000))
    result = download(sign_in(client, "alice"))
    manifest = result.manifest()
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(result.zip.namelist()) - {"manifest.json"}
    for path, record in listed.items():
        content = result.zip.read(path)
        assert record["size"] == len(content)
        assert record["sha256"] == hashlib.sha256(content).hexdigest()
    assert listed["services/cloud/a.txt"]["format"] == "Plain text"
    assert listed["directory/profile.vcf"]["format"] == "vCard 4.0"
    assert listed["services/cloud/a.txt"]["service"] == "cloud"


def test_modification_times_and_unicode_names_are_kept(
    client: FlaskClient, sign_in: Any, download: Any, write_file: Any
) -> None:
    name = "Été 2024/carte postale 🐈 — «Lyon».txt"
    write_file("alice", name, b"Bonjour\n", mtime=STAMP)
    result = download(sign_in(client, "alice"))
    info = result.zip.getinfo(f"services/cloud/{name}")
    assert info.flag_bits & 0x800  # the UTF-8 name flag
    # DOS time is local time of the hoster (Europe/Paris, UTC+1 in November).
    assert info.date_time == (2023, 11, 14, 23, 13, 20)
    assert result.zip.read(info) == b"Bonjour\n"


def test_extracted_files_get_their_original_modification_time(
    client: FlaskClient, sign_in: Any, download: Any, write_file: Any, tmp_path: Path
) -> None:
    if not shutil.which("unzip"):
        missing_tool("unzip is not installed: apt-get install unzip")
    write_file("alice", "old.txt", b"x", mtime=STAMP)
    result = download(sign_in(client, "alice"))
    (tmp_path / "a.zip").write_bytes(result.body)
    out = tmp_path / "out"
    subprocess.run(["unzip", "-q", str(tmp_path / "a.zip"), "-d", str(out)], check=True)
    assert int((out / "services/cloud/old.txt").stat().st_mtime) == STAMP


def test_text_is_deflated_and_compressed_formats_are_stored(
    client: FlaskClient, sign_in: Any, download: Any, write_file: Any
) -> None:
    write_file("alice", "photo.jpg", os.urandom(5000))
    result = download(sign_in(client, "alice"))
    kinds = {i.filename: i.compress_type for i in result.zip.infolist()}
    assert kinds["README.html"] == zipfile.ZIP_DEFLATED
    assert kinds["panel/activity/events.json"] == zipfile.ZIP_DEFLATED
    assert kinds["services/cloud/photo.jpg"] == zipfile.ZIP_STORED


def test_without_content_length_text_files_of_services_are_deflated_too(
    make_app: Callable[..., Flask], hoster_file: Any, sign_in: Any, download: Any, write_file: Any
) -> None:
    app = make_app(HOSTER_FILE=str(hoster_file()), EXPORT_CONTENT_LENGTH=False)
    write_file("alice", "notes.txt", b"the same line\n" * 1000)
    write_file("alice", "photo.jpg", os.urandom(5000))
    result = download(sign_in(app.test_client(), "alice"))
    assert "Content-Length" not in result.response.headers
    info = {i.filename: i for i in result.zip.infolist()}
    assert info["services/cloud/notes.txt"].compress_type == zipfile.ZIP_DEFLATED
    assert info["services/cloud/notes.txt"].compress_size < 1000
    assert info["services/cloud/photo.jpg"].compress_type == zipfile.ZIP_STORED
    assert result.zip.testzip() is None


def test_secrets_of_the_directory_never_reach_the_archive(
    make_app: Callable[..., Flask], hoster_file: Any, sign_in: Any, download: Any
) -> None:
    app = make_app(HOSTER_FILE=str(hoster_file()), EXPORT_DIRECTORY_DENY="sn, givenName")
    result = download(sign_in(app.test_client(), "alice"))
    attributes = json.loads(result.zip.read("directory/profile.json"))["attributes"]
    assert "cn" in attributes
    lowered = {a.lower() for a in attributes}
    assert not lowered & {"userpassword", "sn", "givenname"}
    for name in result.zip.namelist():
        assert b"userPassword" not in result.zip.read(name)


@pytest.mark.ldap
def test_secrets_stay_out_with_a_real_directory(
    make_app: Callable[..., Flask], hoster_file: Any, slapd: Any, download: Any
) -> None:
    from ldap3 import MODIFY_REPLACE

    from helpers import do_login

    with slapd.admin() as conn:
        conn.modify(
            "uid=bob,ou=people,dc=example,dc=org",
            {"description": [(MODIFY_REPLACE, ["internal note: VIP-7781"])]},
        )
    app = make_app(
        HOSTER_FILE=str(hoster_file()), EXPORT_DIRECTORY_DENY=["description"], **slapd.settings()
    )
    client = app.test_client()
    assert do_login(client, "bob", "correct horse").status_code == 302
    result = download(client)
    attributes = json.loads(result.zip.read("directory/profile.json"))["attributes"]
    assert attributes["cn"] == ["Bob Smith"]
    for name in result.zip.namelist():
        content = result.zip.read(name)
        assert b"correct horse" not in content
        assert b"VIP-7781" not in content
        assert b"service-secret" not in content


def test_a_link_out_of_the_folder_is_skipped_and_reported(
    client: FlaskClient,
    sign_in: Any,
    download: Any,
    write_file: Any,
    files_root: Path,
    tmp_path: Path,
) -> None:
    secret = tmp_path / "elsewhere" / "shadow"
    secret.parent.mkdir()
    secret.write_bytes(b"TOP-SECRET-OF-SOMEONE-ELSE")
    write_file("bob", "inside.txt", b"mine")
    write_file("zoe", "zoe.txt", b"ZOE-PRIVATE")
    bob = files_root / "bob"
    os.symlink(secret, bob / "escape")
    os.symlink("../zoe/zoe.txt", bob / "to-zoe")
    os.symlink("inside.txt", bob / "alias.txt")
    os.symlink(tmp_path / "elsewhere", bob / "folder-link")
    os.mkfifo(bob / "pipe")

    result = download(sign_in(client, "bob"))  # English reasons
    names = result.zip.namelist()
    assert "services/cloud/inside.txt" in names
    assert result.zip.read("services/cloud/alias.txt") == b"mine"
    for name in names:
        content = result.zip.read(name)
        assert b"TOP-SECRET" not in content
        assert b"ZOE-PRIVATE" not in content
    cloud = result.service("cloud")
    assert cloud["status"] == "partial"
    reported = {p["path"]: p["reason"] for p in cloud["problems"]}
    assert "outside" in reported["services/cloud/escape"]
    assert "outside" in reported["services/cloud/to-zoe"]
    assert "folder" in reported["services/cloud/folder-link"]
    assert "special file" in reported["services/cloud/pipe"]
    errors = result.text("ERRORS.txt")
    assert "escape" in errors and "pipe" in errors
    assert zipfile.ZipFile(result.zip.fp).testzip() is None


def test_two_people_never_see_each_others_data(
    client: FlaskClient, sign_in: Any, download: Any, write_file: Any, app: Flask
) -> None:
    write_file("alice", "alice-diary.txt", b"ALICE-ONLY")
    write_file("zoe", "zoe-diary.txt", b"ZOE-ONLY")
    alice = download(sign_in(client, "alice"))
    other = app.test_client()
    zoe = download(sign_in(other, "zoe"))

    def everything(result: Any) -> bytes:
        return b"".join(result.zip.read(n) for n in result.zip.namelist())

    assert b"ALICE-ONLY" in everything(alice) and b"ZOE-ONLY" not in everything(alice)
    assert b"ZOE-ONLY" in everything(zoe) and b"ALICE-ONLY" not in everything(zoe)
    assert "Zo" not in json.dumps(alice.manifest()) and b"zoe@" not in everything(alice)
    assert b"alice@" not in everything(zoe)
    assert all("alice" not in n for n in zoe.zip.namelist())


def test_export_needs_a_password_typed_within_ten_minutes(
    client: FlaskClient, sign_in: Any, download: Any
) -> None:
    sign_in(client, "alice")
    token = csrf_token(client, "/account/export")
    with client.session_transaction() as session:
        stale = datetime.now(UTC) - timedelta(minutes=11)
        session["reauth_at"] = stale.isoformat()
    page = client.get("/account/export").get_data(as_text=True)
    assert "ask for your password" in page or "mot de passe" in page
    response = client.post("/account/export", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm")
    assert "next=/account/export" in response.headers["Location"]

    wrong = client.post(
        "/account/confirm",
        data={"password": "nope", "next": "/account/export", "csrf_token": token},
    )
    assert wrong.status_code == 422
    assert client.post("/account/export", data={"csrf_token": token}).status_code == 302
    confirmed = client.post(
        "/account/confirm",
        data={"password": "demo", "next": "/account/export", "csrf_token": token},
    )
    assert confirmed.headers["Location"] == "/account/export"
    assert download(client).response.mimetype == "application/zip"


def test_export_is_audited_and_throttled_per_account(
    make_app: Callable[..., Flask], hoster_file: Any, sign_in: Any, download: Any
) -> None:
    app = make_app(HOSTER_FILE=str(hoster_file()), EXPORT_LIMIT="2 per hour")
    client = sign_in(app.test_client(), "alice")
    # A detour through the password page does not use up a download.
    with client.session_transaction() as session:
        session.pop("reauth_at")
    token = csrf_token(client, "/account/export")
    assert client.post("/account/export", data={"csrf_token": token}).status_code == 302
    client.post("/account/confirm", data={"password": "demo", "csrf_token": token})
    download(client)
    download(client)
    third = client.post("/account/export", data={"csrf_token": token})
    assert third.status_code == 429
    other = sign_in(app.test_client(), "zoe")
    download(other)
    with app.app_context():
        from app.db import get_session

        count = get_session().scalar(
            select(func.count()).where(AuditEvent.action == "export.downloaded")
        )
    assert count == 3
    activity = client.get("/account/activity").get_data(as_text=True)
    assert "Copie de toutes vos données téléchargée" in activity  # alice reads French


def test_file_name_names_the_hoster_the_login_and_the_day(
    client: FlaskClient, sign_in: Any, download: Any
) -> None:
    result = download(sign_in(client, "zoe"))
    disposition = result.response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="chatons-du-demo-zoe-')
    assert disposition.endswith(".zip")
    assert result.response.headers["Cache-Control"] == "no-store"


def test_readme_is_written_in_the_language_of_the_person(
    client: FlaskClient, sign_in: Any, download: Any, app: Flask
) -> None:
    french = download(sign_in(client, "zoe")).text("README.txt")
    english = download(sign_in(app.test_client(), "bob")).text("README.txt")
    assert english.startswith("Your data at Chatons du Demo")
    assert french.startswith("Vos données chez Chatons du Demo")
    assert "ouvre" in french.lower() or "ouvrir" in french.lower()


def _readme_links(html: str) -> list[str]:
    import re

    return re.findall(r'<a href="([^"]+)">', html)


@pytest.mark.parametrize(
    ("uid", "opening", "formats_title", "checks_title", "sentence"),
    [
        (
            "zoe",
            "Vos données chez",
            "Comment ouvrir ces fichiers",
            "Pour les curieux de technique\u202f: vérifier l'archive",
            "Chaque événement de votre journal",
        ),
        (
            "bob",
            "Your data at",
            "How to open these files",
            "For the technically minded: checking the archive",
            "Every event of your activity log",
        ),
    ],
)
def test_the_readme_guides_a_non_technical_person_in_their_language(
    client: FlaskClient,
    sign_in: Any,
    download: Any,
    write_file: Any,
    uid: str,
    opening: str,
    formats_title: str,
    checks_title: str,
    sentence: str,
) -> None:
    write_file(uid, "Photos/été 1.png", b"\x89PNG fake")
    result = download(sign_in(client, uid))
    for name in ("README.html", "README.txt"):
        text = result.text(name)
        assert opening in text
        # The formats and their software come first, checksums last.
        assert text.index(formats_title) < text.index("panel/account/account.json")
        assert text.index("panel/account/account.json") < text.index(checks_title)
        assert "SHA-256" not in text[: text.index(checks_title)]
        assert sentence in text
        # Every file of the panel is described in a sentence of its own.
        assert "Fait partie de" not in text and "Part of " not in text
        assert "LibreOffice" in text or "Firefox" in text
    html = result.text("README.html")
    links = _readme_links(html)
    names = set(result.zip.namelist())
    for path in ("panel/account/account.json", "directory/profile.vcf", "manifest.json"):
        assert path in links
    assert "services/cloud/" in links
    for link in links:  # relative links, each to something in the archive
        assert not link.startswith(("http", "/")), link
        target = __import__("urllib.parse").parse.unquote(link)
        assert (
            target in names or target == "ERRORS.txt" or any(n.startswith(target) for n in names)
        ), link


def test_file_changed_during_the_download_keeps_the_announced_length(
    client: FlaskClient, sign_in: Any, write_file: Any
) -> None:
    # The test client takes the first chunk and the export's reader reads ahead of it: at
    # most AHEAD_BYTES published, a batch beyond them and one in hand, where a batch is at
    # least BATCH_BYTES and one whole chunk (the files connector reads 1 MiB chunks, more
    # than BATCH_BYTES: a 3 MiB margin let the reader reach growing.log once the sender had
    # taken a chunk early). A larger file first keeps growing.log unread.
    batch = max(reading.BATCH_BYTES, files_connector.CHUNK)
    ahead = 2 * reading.AHEAD_BYTES + 4 * batch
    write_file("bob", "a-large.bin", os.urandom(ahead))
    path = write_file("bob", "growing.log", b"x" * 200_000)
    sign_in(client, "bob")
    token = csrf_token(client, "/account/export")
    response = client.post("/account/export", data={"csrf_token": token})
    # Shrinks after planning, before being read. Written beside and renamed over it: a
    # plain write_bytes truncates first, and a reader that opens the file in that instant
    # reads nothing at all (CI saw 200,000 zeros), which is a different fault.
    shrunk = path.with_name("growing.log.new")
    shrunk.write_bytes(b"y" * 1000)
    os.replace(shrunk, path)
    body = response.get_data()
    assert len(body) == int(response.headers["Content-Length"])
    archive = zipfile.ZipFile(__import__("io").BytesIO(body))
    assert archive.testzip() is None
    content = archive.read("services/cloud/growing.log")
    assert len(content) == 200_000 and content.startswith(b"y" * 1000)
    manifest = json.loads(archive.read("manifest.json"))
    cloud = next(s for s in manifest["services"] if s["service"] == "cloud")
    assert cloud["status"] == "partial"
    assert cloud["problems"][0]["path"] == "services/cloud/growing.log"
    assert "zeros" in cloud["problems"][0]["reason"]
    record = next(f for f in manifest["files"] if f["path"] == "services/cloud/growing.log")
    assert record["sha256"] == hashlib.sha256(content).hexdigest()


# Failing connectors ------------------------------------------------------------------------


class ScriptedConnector:
    """A plugin connector that fails where it is told to."""

    plannable = False

    def __init__(self, slug: str, fail: str) -> None:
        self.slug = slug
        self.fail = fail

    def inventory(self, person: Any) -> list[DataItem]:
        if self.fail == "inventory":
            raise ConnectorError("inventory is down")
        return [DataItem(self.slug, "notes", "here", "forever", True)]

    def export(self, person: Any) -> Iterator[Any]:
        if self.fail == "start":
            raise ConnectorError("the service is down")
        yield ArchiveEntry(f"services/{self.slug}/first.txt", [b"first file\n"])

        def broken() -> Iterator[bytes]:
            yield b"half of it"
            raise ConnectorError("the disk went away")

        yield ArchiveEntry(f"services/{self.slug}/second.txt", broken(), size=None)
        yield ArchiveEntry(f"services/{self.slug}/third.txt", [b"one bad file is not the end\n"])
        raise ConnectorError("the connection was lost")

    def delete(self, person: Any) -> StepResult:
        return StepResult(ok=True)


def scripted_service(slug: str, fail: str) -> str:
    return f"""
[[services]]
slug = "{slug}"
name = "Service {slug}"
description = "A plugin-backed service."
host = "main"
[services.software]
name = "Tool"
licence = "MIT"
[services.connector]
type = "scripted"
fail = "{fail}"
"""


def test_a_failing_connector_leaves_a_complete_archive_that_says_so(
    make_app: Callable[..., Flask],
    hoster_file: Any,
    plugins: dict[str, Any],
    sign_in: Any,
    download: Any,
    write_file: Any,
    tmp_path: Path,
) -> None:
    plugins["scripted"] = lambda service, options, app: ScriptedConnector(
        service.slug, options["fail"]
    )
    extra = scripted_service("notes", "middle") + scripted_service("wiki", "start")
    app = make_app(HOSTER_FILE=str(hoster_file(extra)))
    write_file("alice", "kept.txt", b"kept")
    result = download(sign_in(app.test_client(), "alice"))

    assert "Content-Length" not in result.response.headers
    unzip_test(result.body, tmp_path)
    names = result.zip.namelist()
    assert "services/notes/first.txt" in names
    assert result.zip.read("services/notes/second.txt") == b"half of it"
    assert "services/notes/third.txt" in names
    assert "services/cloud/kept.txt" in names
    assert names[-2:] == ["ERRORS.txt", "manifest.json"]
    notes = result.service("notes")
    assert notes["status"] == "partial"
    assert notes["reason"] == "the connection was lost"
    assert notes["problems"] == [
        {"path": "services/notes/second.txt", "reason": "the disk went away"}
    ]
    wiki = result.service("wiki")
    assert wiki == {**wiki, "status": "failed", "reason": "the service is down", "files": 0}
    assert result.service("cloud")["status"] == "ok"
    errors = result.text("ERRORS.txt")
    for reason in ("the disk went away", "the connection was lost", "the service is down"):
        assert reason in errors
    listed = {f["path"] for f in result.manifest()["files"]}
    assert "ERRORS.txt" in listed


def test_data_page_lists_what_each_service_holds(
    make_app: Callable[..., Flask],
    hoster_file: Any,
    plugins: dict[str, Any],
    sign_in: Any,
) -> None:
    plugins["scripted"] = lambda service, options, app: ScriptedConnector(
        service.slug, options["fail"]
    )
    app = make_app(HOSTER_FILE=str(hoster_file(scripted_service("notes", "inventory"))))
    client = sign_in(app.test_client(), "bob")
    page = client.get("/account/data").get_data(as_text=True)
    for text in ("This panel", "Cloud", "Files you keep in Cloud", "Pads", "Service notes"):
        assert text in page
    assert "Files stay until you delete them" in page  # retention from hoster.toml
    assert "could not tell us right now" in page  # the failing inventory
    assert "ask the team through support" in page  # pad has no connector


def test_export_page_says_what_the_archive_holds(client: FlaskClient, sign_in: Any) -> None:
    page = sign_in(client, "bob").get("/account/export").get_data(as_text=True)
    assert "services/cloud/" in page
    assert "Pads" in page and "Mail" in page  # no connector: not in the archive
    assert 'action="/account/export"' in page
    # Without JavaScript the page says where the archive goes; with it, that it started.
    assert "the archive appears in your browser's downloads" in page
    assert 'data-started="Your download has started.' in page
    assert "/static/export-download.js" in page
    assert page.index("README.html") < page.index("manifest.json")


def test_pages_stay_reachable_before_new_terms_are_accepted(app: Flask) -> None:
    for endpoint in ("export.export_page", "export.data_page"):
        assert getattr(app.view_functions[endpoint], "gate_exempt", False)


def test_anonymous_visitors_are_sent_to_the_login_page(client: FlaskClient) -> None:
    for path in ("/account/export", "/account/data"):
        assert client.get(path).headers["Location"].startswith("/login")


def test_every_cell_of_the_data_page_starts_like_a_sentence(
    client: FlaskClient, sign_in: Any
) -> None:
    """Descriptions written to follow a label ("the panel's database") open a cell alone."""
    client.get("/language/fr")
    page = sign_in(client, "bob").get("/account/data").get_data(as_text=True)
    cells = re.findall(r"<td data-label=\"[^\"]*\">\s*([^<\s])", page)
    assert cells, "no table cells on /account/data"
    assert [c for c in cells if c.islower()] == []
    assert "La base de données du panneau" in page
