"""The `http` connector against the protocol's reference server (tools/), a real process."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from connectors.conftest import build, collect, person

import connector_servers as servers
from app.connectors import http
from app.connectors.base import ArchiveEntry, ConnectorError
from app.connectors.http import HttpConnector
from app.profile.model import ProfileError
from ldap_server import free_port

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "connector-http.schema.json").read_text()
)
STAMP = 1_700_000_000


def validate(document: Any, name: str) -> None:
    jsonschema.validate(document, {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{name}"})


def connector(server: servers.Process, token_file: Path, **kw: Any) -> HttpConnector:
    options = {"url": server.url + "/panel-api", "token_file": str(token_file), **kw}
    tools: HttpConnector = build(http, "tools", options)
    return tools


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tools.token"
    path.write_text(servers.TOKEN + "\n")
    return path


def seed(server: servers.Process, uid: str, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = server.home / "data" / uid / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (STAMP, STAMP))


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_reference_server_documents_follow_the_schema(
    reference: servers.Process, token_file: Path
) -> None:
    seed(reference, "alice", {"notes.txt": b"hello"})
    auth = {"Authorization": f"Bearer {servers.TOKEN}"}
    inventory = requests.get(f"{reference.url}/panel-api/users/alice", headers=auth, timeout=5)
    validate(inventory.json(), "inventory")
    assert inventory.json()["items"][0]["count"] == 1
    deleted = requests.delete(f"{reference.url}/panel-api/users/alice", headers=auth, timeout=5)
    assert deleted.status_code == 202
    validate(deleted.json(), "status")
    with pytest.raises(jsonschema.ValidationError):
        validate({"state": "running"}, "status")  # running without a status_url to poll


def test_inventory_lists_what_the_service_says_it_holds(
    reference: servers.Process, token_file: Path
) -> None:
    seed(reference, "alice", {"a.txt": b"12345", "b/c.txt": b"67"})
    items = connector(reference, token_file).inventory(person())
    assert [i.kind for i in items] == ["Files you keep in the service"]
    assert items[0].exported and items[0].retention == "Until you delete them or your account"


def test_inventory_of_someone_the_service_does_not_know_is_empty(
    reference: servers.Process, token_file: Path
) -> None:
    assert connector(reference, token_file).inventory(person("nobody")) == []


def test_export_repacks_the_tar_stream_with_names_and_times(
    reference: servers.Process, token_file: Path
) -> None:
    big = os.urandom(3 * 1024 * 1024 + 17)
    seed(reference, "alice", {"Documents/été.odt": big, "notes.txt": b"hello\n"})
    files: dict[str, bytes] = {}
    times: dict[str, float] = {}
    for entry in connector(reference, token_file).export(person()):  # read in stream order
        assert isinstance(entry, ArchiveEntry)
        files[entry.path] = b"".join(entry.chunks)
        times[entry.path] = entry.mtime.timestamp() if entry.mtime else 0
    assert files == {
        "services/tools/Documents/été.odt": big,
        "services/tools/notes.txt": b"hello\n",
    }
    assert times["services/tools/notes.txt"] == STAMP


def test_export_of_someone_without_data_is_empty(
    reference: servers.Process, token_file: Path
) -> None:
    assert list(connector(reference, token_file).export(person("nobody"))) == []


def test_a_wrong_token_is_refused_with_a_message_staff_can_act_on(
    reference: servers.Process, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token")
    tools = connector(reference, wrong)
    with pytest.raises(ConnectorError, match="refused the panel's credentials"):
        list(tools.export(person()))
    with pytest.raises(ConnectorError) as caught:
        tools.check()
    assert "not-the-token" not in str(caught.value)
    result = tools.delete(person())
    assert not result.ok and "HTTP 401" in result.detail


def test_a_token_from_the_environment_is_used(
    reference: servers.Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANEL_TOOLS_TOKEN", servers.TOKEN)
    options = {"url": reference.url + "/panel-api", "token_env": "PANEL_TOOLS_TOKEN"}
    tools: HttpConnector = build(http, "tools", options)
    assert "the token is accepted" in tools.check()


def test_a_server_that_is_down_gives_a_clear_error(tmp_path: Path, token_file: Path) -> None:
    down = servers.Process(["true"], free_port(), tmp_path)
    with pytest.raises(ConnectorError, match="cannot be reached"):
        list(connector(down, token_file).export(person()))
    result = connector(down, token_file).delete(person())
    assert not result.ok and "cannot be reached" in result.detail


def test_a_server_stopped_mid_export_ends_with_an_error_not_a_short_file(
    token_file: Path,
) -> None:
    server = servers.start_reference("--slow", "0.3")
    try:
        seed(server, "alice", {f"f{i:02}.bin": os.urandom(200_000) for i in range(20)})
        stream = connector(server, token_file, timeout=5).export(person())
        first = next(stream)
        assert isinstance(first, ArchiveEntry)
        assert len(b"".join(first.chunks)) == 200_000
        server.stop()
        with pytest.raises(ConnectorError, match=r"broke off|cut or damaged"):
            for entry in stream:
                if isinstance(entry, ArchiveEntry):
                    b"".join(entry.chunks)
    finally:
        server.cleanup()


def test_deletion_polls_the_status_until_done_and_reports_what_is_kept(
    token_file: Path,
) -> None:
    server = servers.start_reference("--delete-delay", "0.5")
    try:
        seed(server, "alice", {"a.txt": b"1", "b.txt": b"2"})
        result = connector(server, token_file, poll_interval=0.1).delete(person())
        assert result.ok, result.detail
        assert result.detail == "Deleted: 2 files."
        assert result.kept == ("the nightly backups, overwritten after 30 days",)
        assert not (server.home / "data" / "alice").exists()  # checked on the server itself
        again = connector(server, token_file).delete(person())  # idempotent: 204 now
        assert again.ok and again.detail == "Deleted."
    finally:
        server.cleanup()


def test_a_deletion_still_running_stays_retryable(token_file: Path) -> None:
    server = servers.start_reference("--delete-delay", "3")
    try:
        seed(server, "alice", {"a.txt": b"1"})
        result = connector(server, token_file, delete_wait=0.3, poll_interval=0.1).delete(person())
        assert not result.ok and "Still pending" in result.detail
    finally:
        server.cleanup()


# A server that breaks the protocol ----------------------------------------------------------


class Broken(BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def _answer(self) -> None:
        status, headers, body = self.answers.get(f"{self.command} {self.path}", (404, {}, b""))
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def broken() -> Iterator[servers.Process]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield servers.Process([], httpd.server_address[1], Path("/nonexistent"))
    httpd.shutdown()
    httpd.server_close()
    Broken.answers = {}


def test_a_status_url_on_another_server_is_not_followed_with_the_token(
    broken: servers.Process, token_file: Path
) -> None:
    Broken.answers["DELETE /panel-api/users/alice"] = (
        202, {}, json.dumps({"state": "pending", "status_url": "http://evil.example/x"}).encode()
    )  # fmt: skip
    result = connector(broken, token_file, poll_interval=0.01).delete(person())
    assert not result.ok and "another address" in result.detail


def test_a_failed_deletion_gives_the_services_reason(
    broken: servers.Process, token_file: Path
) -> None:
    Broken.answers["DELETE /panel-api/users/alice"] = (
        200, {}, json.dumps({"state": "failed", "detail": "account is locked"}).encode()
    )  # fmt: skip
    result = connector(broken, token_file).delete(person())
    assert not result.ok and result.detail == "account is locked"


def test_an_export_that_is_not_a_tar_archive_is_an_error(
    broken: servers.Process, token_file: Path
) -> None:
    Broken.answers["GET /panel-api/users/alice/export"] = (200, {}, b"<html>oops</html>")
    with pytest.raises(ConnectorError, match="did not send a tar archive"):
        list(connector(broken, token_file).export(person()))


def test_a_tar_member_leaving_the_folder_is_skipped(
    broken: servers.Process, token_file: Path
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in ("../../etc/passwd", "ok.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            archive.addfile(info, io.BytesIO(b"hi"))
    Broken.answers["GET /panel-api/users/alice/export"] = (200, {}, buffer.getvalue())
    files, skipped = collect(connector(broken, token_file).export(person()))
    assert files == {"services/tools/ok.txt": b"hi"}
    assert list(skipped) == ["services/tools/../../etc/passwd"]


# Options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"token_file": "/x"}, "services.tools.connector.url is missing"),
        ({"url": "ftp://x"}, "services.tools.connector.url: 'ftp://x' is not a valid address"),
        ({"url": "https://x"}, "services.tools.connector.token_file is missing"),
        ({"url": "https://x", "token": "s3cret"}, "token: secrets do not belong in hoster.toml"),
        ({"url": "https://x", "token_env": "HOME", "tiemout": 3},
         "tiemout is not a known key of this connector: did you mean 'timeout'?"),
        ({"url": "https://x", "token_env": "HOME", "timeout": "3"}, "timeout must be a number"),
        ({"url": "https://u:p@x", "token_env": "HOME"}, "url: must not hold a login or password"),
    ],
)  # fmt: skip
def test_options_are_checked_at_start_with_the_key_named(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        build(http, "tools", options)
    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)
