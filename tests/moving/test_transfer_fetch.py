"""The new panel fetches an export from the old one with a transfer code, over real HTTP(S).

Panel A (the old one) runs as a real server on a loopback port, over HTTPS with a test CA
(tests/production's helper); panel B (the new one) calls fetch_export as its worker does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from production.test_https import make_test_ca
from sqlalchemy import select

import ldap_server
from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.moving.models import ImportJob
from app.moving.transfer import (
    CERTIFICATE,
    CODE_REFUSED,
    NOT_A_PANEL,
    NOT_AN_ADDRESS,
    NOT_AN_ARCHIVE,
    NOT_HTTPS,
    NOT_PUBLIC,
    TOO_BIG,
    UNREACHABLE,
    TransferRefused,
    fetch_export,
    transfer_url,
)
from helpers import csrf_token, do_login, missing_tool, profile_without_local_servers

CODE_RE = re.compile(r'value="([A-Z2-7]{4}(?:-[A-Z2-7]{4}){7})"')
STAMP = 1_700_000_000


class Server:
    """A WSGI app on a free loopback port (werkzeug's threaded server), HTTP or HTTPS."""

    def __init__(self, app: Any, ssl: tuple[Path, Path] | None = None) -> None:
        from werkzeug.serving import make_server

        self.port = ldap_server.free_port()
        context = (str(ssl[0]), str(ssl[1])) if ssl else None
        self.server = make_server("127.0.0.1", self.port, app, threaded=True, ssl_context=context)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"{'https' if ssl else 'http'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    if not shutil.which("openssl"):
        missing_tool("openssl is not installed: apt-get install openssl")
    return make_test_ca(tmp_path_factory.mktemp("tls") / "ca")


@pytest.fixture
def old_panel_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    """Panel A: the demo panel, Alice's cloud folder with two files."""
    root = tmp_path / "cloud-data"
    for relative, content in (("Documents/notes.md", b"# Notes\n" * 40), ("cat.png", b"\x89PNG")):
        path = root / "alice" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (STAMP, STAMP))
    hoster = tmp_path / "hoster-a.toml"
    hoster.write_text(
        profile_without_local_servers().replace(
            'path = "instance/demo-files/{uid}"', f'path = "{root}/{{uid}}"'
        ),
        encoding="utf-8",
    )
    return make_app(HOSTER_FILE=str(hoster))


@pytest.fixture
def old_panel(old_panel_app: Flask, test_ca: tuple[Path, Path, Path]) -> Iterator[Server]:
    """Panel A served over HTTPS; requests in this test trust the test CA."""
    _ca, chain, key = test_ca
    server = Server(old_panel_app, ssl=(chain, key))
    old_panel_app.config["BASE_URL"] = server.url
    old_panel_app.config["TRUSTED_HOSTS"] = None
    yield server
    server.stop()


@pytest.fixture
def new_panel(make_app: Callable[..., Flask], database_url: str, tmp_path: Path) -> Flask:
    """Panel B, with its own database (a copy of the empty schema on SQLite). Panel A is
    on loopback, which B refuses by default (MOVING_ALLOW_PRIVATE_ADDRESSES)."""
    if database_url.startswith("sqlite:///"):
        own = tmp_path / "panel-b.sqlite3"
        shutil.copyfile(database_url.removeprefix("sqlite:///"), own)
        database_url = f"sqlite:///{own}"
    return make_app(
        DATABASE_URL=database_url,
        MAIL_DIR=str(tmp_path / "mail-b"),
        MOVING_ALLOW_PRIVATE_ADDRESSES=True,
    )


@pytest.fixture
def trust_test_ca(monkeypatch: pytest.MonkeyPatch, test_ca: tuple[Path, Path, Path]) -> Path:
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_ca[0]))
    return test_ca[0]


def new_code(app: Flask, uid: str = "alice") -> str:
    """Alice creates a transfer code on panel A's export page."""
    client = app.test_client()
    assert do_login(client, uid, "demo").status_code == 302
    token = csrf_token(client, "/account/export")
    page = client.post("/account/export/transfer-codes", data={"csrf_token": token})
    match = CODE_RE.search(page.get_data(as_text=True))
    assert match, page.status_code
    return match.group(1)


def fetch(app: Flask, url: str, code: str, destination: Path, **kw: Any) -> None:
    with app.app_context():
        fetch_export(url, code, destination, **{"max_bytes": 50_000_000, **kw})


def refused(app: Flask, url: str, code: str, destination: Path, **kw: Any) -> TransferRefused:
    with pytest.raises(TransferRefused) as caught:
        fetch(app, url, code, destination, **kw)
    assert not destination.exists(), "no partial file is left behind"
    return caught.value


# Between two running panels --------------------------------------------------------------


def test_the_new_panel_downloads_the_export_over_https(
    old_panel: Server, old_panel_app: Flask, new_panel: Flask, trust_test_ca: Path, tmp_path: Path
) -> None:
    code = new_code(old_panel_app)
    destination = tmp_path / "incoming" / "export.zip"
    destination.parent.mkdir()
    fetch(new_panel, old_panel.url + "/", code, destination)

    with zipfile.ZipFile(destination) as archive:
        assert archive.testzip() is None
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["manifest_version"] == 1 and manifest["account"] == "alice"
        paths = {f["path"] for f in manifest["files"]}
        assert {"services/cloud/Documents/notes.md", "services/cloud/cat.png"} <= paths
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
        assert {s["service"]: s["status"] for s in manifest["services"]}["cloud"] == "ok"

    # Once only: the same code is refused the second time, and nothing is written.
    again = refused(new_panel, old_panel.url, code, tmp_path / "again.zip")
    assert again.message is CODE_REFUSED
    assert "refused the transfer code" in str(again) or "refusé le code" in str(again)
    wrong = refused(new_panel, old_panel.url, "AAAA-BBBB", tmp_path / "wrong.zip")
    assert wrong.message is CODE_REFUSED


def test_too_big_is_refused_and_the_partial_file_removed(
    old_panel: Server, old_panel_app: Flask, new_panel: Flask, trust_test_ca: Path, tmp_path: Path
) -> None:
    # With Content-Length announced: refused before reading the body.
    announced = refused(
        new_panel, old_panel.url, new_code(old_panel_app), tmp_path / "a.zip", max_bytes=2000
    )
    assert announced.message is TOO_BIG
    # Streamed without a length: refused while reading, the partial file removed.
    old_panel_app.config["EXPORT_CONTENT_LENGTH"] = False
    streamed = refused(
        new_panel, old_panel.url, new_code(old_panel_app), tmp_path / "b.zip", max_bytes=2000
    )
    assert streamed.message is TOO_BIG
    assert "MB" in str(streamed) or "Mo" in str(streamed)
    # The same code at a bigger limit would have worked: the limit is what refused it.
    fetch(new_panel, old_panel.url, new_code(old_panel_app), tmp_path / "c.zip")
    assert zipfile.is_zipfile(tmp_path / "c.zip")


def test_a_certificate_that_does_not_verify_is_refused(
    old_panel: Server,
    old_panel_app: Flask,
    new_panel: Flask,
    monkeypatch: pytest.MonkeyPatch,
    test_ca: tuple[Path, Path, Path],
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    code = new_code(old_panel_app)
    failed = refused(new_panel, old_panel.url, code, tmp_path / "x.zip")
    assert failed.message is CERTIFICATE
    # The code never reached a server the new panel could not trust: it still works.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_ca[0]))
    fetch(new_panel, old_panel.url, code, tmp_path / "y.zip")
    assert zipfile.is_zipfile(tmp_path / "y.zip")


def test_over_http_only_when_allowed(
    old_panel_app: Flask, make_app: Callable[..., Flask], new_panel: Flask, tmp_path: Path
) -> None:
    server = Server(old_panel_app)
    old_panel_app.config["BASE_URL"] = server.url
    try:
        code = new_code(old_panel_app)
        https_only = refused(new_panel, server.url, code, tmp_path / "a.zip")
        assert https_only.message is NOT_HTTPS
        new_panel.config["MOVING_ALLOW_HTTP"] = True
        fetch(new_panel, server.url, code, tmp_path / "b.zip")
        assert zipfile.is_zipfile(tmp_path / "b.zip")
    finally:
        server.stop()


# Answers that are not an export ---------------------------------------------------------


def test_what_is_not_a_zip_is_refused(new_panel: Flask, tmp_path: Path) -> None:
    def not_a_zip(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/sub/account/export/transfer":
            start_response("200 OK", [("Content-Type", "application/zip")])
            return [b"<html>surprise</html>" * 100]
        if path == "/redirect/account/export/transfer":
            start_response("302 Found", [("Location", "https://elsewhere.example/")])
            return [b""]
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<html>a blog</html>"]

    new_panel.config["MOVING_ALLOW_HTTP"] = True
    server = Server(not_a_zip)
    try:
        garbage = refused(new_panel, server.url + "/sub/", "CODE", tmp_path / "a.zip")
        assert garbage.message is NOT_AN_ARCHIVE
        html = refused(new_panel, server.url, "CODE", tmp_path / "b.zip")
        assert html.message is NOT_AN_ARCHIVE
        moved = refused(new_panel, server.url + "/redirect", "CODE", tmp_path / "c.zip")
        assert moved.message is NOT_A_PANEL
    finally:
        server.stop()
    closed = refused(new_panel, server.url, "CODE", tmp_path / "d.zip", timeout=3)
    assert closed.message is UNREACHABLE


# Addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://panel.example.org", "https://panel.example.org/account/export/transfer"),
        ("https://panel.example.org/", "https://panel.example.org/account/export/transfer"),
        ("https://Example.ORG/panel/", "https://example.org/panel/account/export/transfer"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443/account/export/transfer"),
        ("https://[2001:db8::1]/p", "https://[2001:db8::1]/p/account/export/transfer"),
        (" https://panel.example.org ", "https://panel.example.org/account/export/transfer"),
    ],
)
def test_panel_addresses_become_the_transfer_address(given: str, expected: str) -> None:
    assert transfer_url(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "panel.example.org",
        "ftp://panel.example.org",
        "file:///etc/passwd",
        "https://user:secret@panel.example.org",
        "https://user@panel.example.org",
        "https://panel.example.org/?next=x",
        "https://panel.example.org/#top",
        "https://pa nel.example.org",
        "https://panel_example.org",
        "https://-panel.example.org",
        "https://panel.example.org:99999",
        "https://panel.example.org\\@evil.example",
        "https://",
        "javascript:alert(1)",
    ],
)
def test_odd_addresses_are_refused(given: str) -> None:
    with pytest.raises(TransferRefused) as caught:
        transfer_url(given, allow_http=True)
    assert caught.value.message is NOT_AN_ADDRESS


def test_http_is_refused_unless_allowed(new_panel: Flask, tmp_path: Path) -> None:
    with pytest.raises(TransferRefused) as caught:
        transfer_url("http://panel.example.org")
    assert caught.value.message is NOT_HTTPS
    assert transfer_url("http://panel.example.org", allow_http=True).startswith("http://")
    # fetch_export reads the app's MOVING_ALLOW_HTTP (off by default): refused before
    # any connection.
    assert not new_panel.config.get("MOVING_ALLOW_HTTP")
    failed = refused(new_panel, "http://127.0.0.1:9", "CODE", tmp_path / "x.zip")
    assert failed.message is NOT_HTTPS


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.1.2.3", "192.168.1.10", "169.254.169.254", "[::1]"]
)
def test_private_addresses_are_refused_unless_allowed(
    old_panel: Server, old_panel_app: Flask, new_panel: Flask, tmp_path: Path, host: str
) -> None:
    new_panel.config["MOVING_ALLOW_PRIVATE_ADDRESSES"] = False
    code = new_code(old_panel_app)
    url = f"https://{host}:{old_panel.port}"
    failed = refused(new_panel, url, code, tmp_path / "x.zip")
    assert failed.message is NOT_PUBLIC
    # Refused before any request: the code still works.
    assert [r.used_at for r in _codes(old_panel_app)] == [None]


def _codes(app: Flask) -> list[Any]:
    from sqlalchemy import select

    from app.export.transfer import TransferCode

    with app.app_context():
        from app.db import get_session

        found = list(get_session().scalars(select(TransferCode)))
        get_session().expunge_all()
        return found


def test_importing_the_module_does_not_load_requests() -> None:
    """The web worker may import app.moving: requests loads only inside fetch_export."""
    import subprocess
    import sys

    script = "import sys, app.moving.transfer; print('requests' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_a_person_moves_by_transfer_code_between_two_running_panels(
    old_panel: Server,
    old_panel_app: Flask,
    make_app: Callable[..., Flask],
    database_url: str,
    trust_test_ca: Path,
    tmp_path: Path,
) -> None:
    """On B, Alice gives A's address and her code; B's worker fetches the export from A over
    HTTPS, she confirms the plan, and A's files are on B with the same SHA-256. Both panels
    keep a trace: A the transfer, B the import from that address."""
    if database_url.startswith("sqlite:///"):
        own = tmp_path / "panel-b.sqlite3"
        shutil.copyfile(database_url.removeprefix("sqlite:///"), own)
        database_url = f"sqlite:///{own}"
    new_root = tmp_path / "new-cloud"
    hoster = tmp_path / "hoster-b.toml"
    hoster.write_text(
        profile_without_local_servers().replace(
            'path = "instance/demo-files/{uid}"', f'path = "{new_root}/{{uid}}"'
        ),
        encoding="utf-8",
    )
    panel_b = make_app(
        HOSTER_FILE=str(hoster),
        DATABASE_URL=database_url,
        MAIL_DIR=str(tmp_path / "mail-b"),
        MOVING_UPLOAD_DIR=str(tmp_path / "uploads-b"),
        MOVING_ALLOW_PRIVATE_ADDRESSES=True,
    )
    code = new_code(old_panel_app)

    alice = panel_b.test_client()
    assert do_login(alice, "alice", "demo").status_code == 302
    with alice.session_transaction() as session:
        session["reauth_at"] = utcnow().isoformat()
    token = csrf_token(alice, "/account/import")
    response = alice.post(
        "/account/import/transfer",
        data={"csrf_token": token, "panel_url": old_panel.url + "/", "code": code},
    )
    assert response.status_code == 302
    page = alice.get(response.headers["Location"]).get_data(as_text=True)
    assert "Documents" in page or "notes.md" in page or "cloud" in page.lower(), page
    with session_scope(panel_b) as session:
        job = session.scalars(select(ImportJob)).one()
        assert job.state == "planned", (job.state, job.error)
        job_id = job.id
        assert code not in repr(vars(job))
    token = csrf_token(alice, f"/account/import/{job_id}")
    confirmed = alice.post(f"/account/import/{job_id}/confirm", data={"csrf_token": token})
    assert confirmed.status_code == 302, confirmed.status_code
    with session_scope(panel_b) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None and job.state == "done", job.state if job else None

    old_files = tmp_path / "cloud-data" / "alice"
    assert {
        p.relative_to(old_files).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in old_files.rglob("*")
        if p.is_file()
    } == {
        p.relative_to(new_root / "alice").as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (new_root / "alice").rglob("*")
        if p.is_file()
    }
    with session_scope(old_panel_app) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
        assert "export.transferred" in actions
    with session_scope(panel_b) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
        assert "moving.started" in actions, actions
