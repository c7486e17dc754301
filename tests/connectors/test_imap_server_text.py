"""What a mail server says never reaches people, nor the log with a secret in it.

An IMAP server's refusal may echo what it was sent: here the master password, as the
finding of issue 19 saw it. A small scripted server (a fake: no real server echoes on
demand) answers every SELECT, EXAMINE and STATUS with a NO quoting the SASL PLAIN
credentials, plain and base64.
"""

from __future__ import annotations

import base64
import io
import logging
import socketserver
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from connectors.conftest import toml_table
from flask import Flask
from flask_babel import force_locale

from app.connectors.base import SCRUBBED, redact_url, scrub, service_connectors
from helpers import csrf_token, do_login, profile_without_local_servers

MASTER = "echoed-Master-Pw-71c9"

SERVICE = """
[[services]]
slug = "post"
name = "Mail"
host = "main"
[services.software]
name = "IMAP"
licence = "MIT"
[services.connector]
{connector}
"""


class EchoingImap(socketserver.StreamRequestHandler):
    """Signs anyone in, lists INBOX, and refuses to open it, quoting the credentials."""

    def send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN NAMESPACE ID] echo ready")
        credentials = b""
        while line := self.rfile.readline():
            tag, _sep, rest = line.decode().strip().partition(" ")
            command = rest.split(" ", 1)[0].upper()
            if command == "AUTHENTICATE":
                self.send("+ ")
                encoded = self.rfile.readline().strip()
                credentials = base64.b64decode(encoded)
                self.send(f"{tag} OK signed in")
            elif command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN NAMESPACE ID")
                self.send(f"{tag} OK done")
            elif command == "NAMESPACE":
                self.send('* NAMESPACE (("" "/")) NIL NIL')
                self.send(f"{tag} OK done")
            elif command == "ID":
                self.send('* ID ("name" "echo")')
                self.send(f"{tag} OK done")
            elif command == "LIST":
                self.send('* LIST () "/" INBOX')
                self.send(f"{tag} OK done")
            elif command in ("SELECT", "EXAMINE", "STATUS"):
                said = credentials.replace(b"\0", b" ").decode()
                echoed = base64.b64encode(credentials).decode()
                self.send(f"{tag} NO [SERVERBUG] cannot open INBOX for {said} ({echoed})")
            elif command == "LOGOUT":
                self.send("* BYE bye")
                self.send(f"{tag} OK bye")
                return
            else:
                self.send(f"{tag} BAD unknown")


@pytest.fixture
def echoing_server() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), EchoingImap)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def echo_app(make_app: Callable[..., Flask], tmp_path: Path, echoing_server: int) -> Flask:
    secret = tmp_path / "master.secret"
    secret.write_text(MASTER + "\n")
    table = {
        "type": "imap",
        "url": f"imap://127.0.0.1:{echoing_server}",
        "admin_user": "panel",
        "password_file": str(secret),
        "timeout": 5,
    }
    path = tmp_path / "hoster.toml"
    path.write_text(
        profile_without_local_servers() + SERVICE.format(connector=toml_table(table)),
        encoding="utf-8",
    )
    return make_app(HOSTER_FILE=str(path))


def all_of(archive: zipfile.ZipFile) -> bytes:
    return b"".join(archive.read(name) for name in archive.namelist())


def test_a_servers_refusal_quoting_the_master_password_reaches_neither_errors_txt_nor_the_log(
    echo_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = echo_app.test_client()
    assert do_login(person, "bob", "demo").status_code == 302
    response = person.post(
        "/account/export", data={"csrf_token": csrf_token(person, "/account/export")}
    )
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    errors = archive.read("ERRORS.txt").decode()
    # A fixed sentence naming the folder; nothing the server said.
    assert "the mail server refused SELECT on the folder “INBOX”" in errors
    assert "SERVERBUG" not in errors and "cannot open" not in errors
    everything = all_of(archive)
    encoded = base64.b64encode(f"bob\0panel\0{MASTER}".encode())
    assert MASTER.encode() not in everything and encoded not in everything
    assert b"SERVERBUG" not in everything
    # The log has the server's words at debug level only, the password scrubbed.
    assert MASTER not in caplog.text and encoded.decode() not in caplog.text
    said = [r for r in caplog.records if "SERVERBUG" in r.getMessage()]
    assert said and all(r.levelno == logging.DEBUG for r in said)
    assert all(SCRUBBED in r.getMessage() for r in said)


def test_staff_read_the_servers_answer_scrubbed_on_the_failed_step(echo_app: Flask) -> None:
    connector = service_connectors(echo_app)["post"]
    person = echo_app.extensions["panel_directory"].lookup("bob")
    with echo_app.app_context(), force_locale("en"):
        result = connector.delete(person)
        plan_error: Any = None
        try:
            connector.plan(person)
        except Exception as exc:
            plan_error = exc
    assert not result.ok
    assert result.detail.startswith("the mail server refused SELECT on the folder “INBOX”")
    assert "(server: [SERVERBUG] cannot open INBOX for bob panel [secret]" in result.detail
    assert MASTER not in result.detail
    assert base64.b64encode(f"bob\0panel\0{MASTER}".encode()).decode() not in result.detail
    assert plan_error is not None and MASTER not in plan_error.staff_detail()


def test_scrub_takes_out_secrets_their_base64_and_url_passwords() -> None:
    for prefix in ("", "a", "ab", "abc\0x\0"):
        encoded = base64.b64encode(f"{prefix}{MASTER}".encode()).decode()
        assert MASTER[:6] not in scrub(f"NO bad {encoded} here", [MASTER])
        assert encoded not in scrub(f"NO bad {encoded} here", [MASTER])
    assert scrub(f"NO {MASTER}!", [MASTER]) == f"NO {SCRUBBED}!"
    assert scrub("x" * 500, [], limit=20) == "x" * 19 + "…"
    assert scrub("line\r\nnext\x00", []) == "line  next"
    assert scrub("a b", ["a"]) == "a b"  # too short to be a secret worth blanking text for
    url = "imaps://support:p%40ss@mail.example.org:993/INBOX"
    assert redact_url(url) == f"imaps://support:{SCRUBBED}@mail.example.org:993/INBOX"
    assert "p%40ss" not in scrub(f"cannot read {url}")
