"""The `imap` connector against a real Dovecot, through the panel as people use it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import mailbox
import re
import zipfile
from pathlib import Path

import pytest

from app.connectors.base import ServiceUnreachable, service_connectors
from app.connectors.imap import decode_mailbox_name, encode_mailbox_name, folder_path
from app.db import session_scope
from app.directory import Person
from helpers import csrf_token, do_login
from imap_server import MASTER_PASSWORD, USERS, Dovecot, server_view
from mail_samples import FOLDERS

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def signed_in(app, uid: str):
    client = app.test_client()
    assert do_login(client, uid, "demo").status_code == 302
    return client


def export_zip(client) -> zipfile.ZipFile:
    token = csrf_token(client, "/account/export")
    response = client.post("/account/export", data={"csrf_token": token})
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def unquote_mboxrd(data: bytes) -> bytes:
    """A message as Python's mailbox reads it, without the export's flag block."""
    from app.connectors.imap.mbox import FLAG_BLOCK

    block = FLAG_BLOCK.match(data)
    data = data[block.end() :] if block else data
    return re.sub(rb"(?m)^>(>*From )", rb"\1", data)


def mbox_messages(archive: zipfile.ZipFile, name: str, tmp_path: Path) -> list[bytes]:
    """Open the archive's mbox with Python's mailbox module, messages in file order."""
    target = tmp_path / name.replace("/", "_")
    target.write_bytes(archive.read(name))
    box = mailbox.mbox(target, create=False)
    try:
        return [unquote_mboxrd(box.get_bytes(key)) for key in box.iterkeys()]
    finally:
        box.close()


def person(uid: str) -> Person:
    return Person(uid=uid, dn=f"uid={uid}", display_name=uid, email=None, language=None)


def test_modified_utf7_names_round_trip_and_become_safe_paths():
    for name in [*FOLDERS, "a&b", "~/..", "x/y:z"]:
        assert decode_mailbox_name(encode_mailbox_name(name)) == name
    assert encode_mailbox_name("Envoyés") == "Envoy&AOk-s"
    assert folder_path("Archives/../2024", "/") == "Archives/_/2024"
    assert ".." not in folder_path("../../etc", "/").split("/")
    assert folder_path('a\\b:c"d', "/") == "a_b_c_d"


def test_every_folder_is_an_mbox_holding_every_message_byte_for_byte(
    imap_app, dovecot, alice_mail, tmp_path
):
    app = imap_app()
    archive = export_zip(signed_in(app, "alice"))
    on_server = server_view(dovecot, "alice")
    names = [n for n in archive.namelist() if n.startswith("services/post/")]
    assert sorted(names) == sorted(f"services/post/{f}.mbox" for f in FOLDERS)
    for folder in FOLDERS:
        messages = mbox_messages(archive, f"services/post/{folder}.mbox", tmp_path)
        assert messages == on_server[encode_mailbox_name(folder)]
        assert len(messages) == len(alice_mail[folder])
    manifest = json.loads(archive.read("manifest.json"))
    post = next(s for s in manifest["services"] if s["service"] == "post")
    assert post["status"] == "ok" and post["files"] == len(FOLDERS)
    assert "ERRORS.txt" not in archive.namelist()
    # Each folder's checksum, computed while it was read from the server, is its own.
    for record in manifest["files"]:
        if record["path"].startswith("services/post/"):
            content = archive.read(record["path"])
            assert record["sha256"] == hashlib.sha256(content).hexdigest(), record["path"]
    # A quoted "From " line comes back as it was written, attachments intact.
    inbox = mbox_messages(archive, "services/post/INBOX.mbox", tmp_path)
    assert b"\n>From already quoted" in inbox[1] and b"\nFrom again" in inbox[1]
    # Each message's flags (read, here) follow its From line, as mutt reads them.
    raw = archive.read("services/post/INBOX.mbox")
    assert raw.count(b"\nStatus: RO\r\nX-Status:\r\nX-Keywords:\r\n") == 3


def test_the_data_page_lists_each_folder_with_its_size(imap_app, alice_mail):
    page = signed_in(imap_app(), "alice").get("/account/data").get_data(as_text=True)
    assert "Envoyés" in page and "日本語" in page
    assert re.search(r"INBOX.{0,40}3 messages", page)


@pytest.mark.slow
def test_a_100_mib_folder_is_exported_whole(imap_app, dovecot, big_mail, tmp_path):
    connector = service_connectors(imap_app())["post"]
    target = tmp_path / "big.mbox"
    # Entries are read in order, each one whole before the next (as the archive does).
    for entry in connector.export(person("bob")):
        if not entry.path.endswith(f"{big_mail}.mbox"):
            continue
        with target.open("wb") as out:
            for chunk in entry.chunks:
                assert len(chunk) <= 16 * 1024 * 1024  # written while it arrives
                out.write(chunk)
    box = mailbox.mbox(target, create=False)
    got = [unquote_mboxrd(box.get_bytes(k)) for k in box.iterkeys()]
    box.close()
    assert got == server_view(dovecot, "bob")[encode_mailbox_name(big_mail)]
    assert sum(len(m) for m in got) > 100 * 1024 * 1024


def test_delete_leaves_nothing_on_the_server(imap_app, dovecot, alice_mail):
    connector = service_connectors(imap_app())["post"]
    result = connector.delete(person("alice"))
    assert result.ok, result.detail
    assert "doveadm" in " ".join(result.kept)
    # Checked with the person's own password, straight on the server.
    assert server_view(dovecot, "alice") == {"INBOX": []}
    again = connector.delete(person("alice"))
    assert again.ok and "0 messages" in again.detail


def test_wrong_credentials_fail_the_export_cleanly_and_the_step_stays_retryable(
    imap_app, dovecot, alice_mail, tmp_path
):
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("not-the-password\n")
    app = imap_app(password_file=str(wrong))
    archive = export_zip(signed_in(app, "alice"))
    manifest = json.loads(archive.read("manifest.json"))
    post = next(s for s in manifest["services"] if s["service"] == "post")
    assert post["status"] == "failed"
    assert "a refusé la connexion du panneau" in post["reason"]
    assert "post" in archive.read("ERRORS.txt").decode()
    result = service_connectors(app)["post"].delete(person("alice"))
    assert not result.ok and "refused" in result.detail
    assert len(server_view(dovecot, "alice")["INBOX"]) == 3


def test_a_server_that_is_down_shows_as_not_reachable(imap_app, alice_mail):
    from imap_server import free_port

    app = imap_app(url=f"imap://127.0.0.1:{free_port()}")
    client = signed_in(app, "alice")
    page = client.get("/account/data")
    assert page.status_code == 200
    assert "injoignable" in page.get_data(as_text=True).lower()
    archive = export_zip(client)
    post = next(
        s for s in json.loads(archive.read("manifest.json"))["services"] if s["service"] == "post"
    )
    assert post["status"] == "failed" and "injoignable" in post["reason"]
    with pytest.raises(ServiceUnreachable):
        service_connectors(app)["post"].check()


@pytest.mark.slow
def test_server_stopped_mid_export_gives_a_complete_archive(
    imap_app, dovecot: Dovecot, big_mail, tmp_path
):
    app = imap_app(batch_mib=1)
    client = signed_in(app, "bob")
    token = csrf_token(client, "/account/export")
    response = client.post("/account/export", data={"csrf_token": token}, buffered=False)
    body = bytearray()
    stopped = False
    try:
        for chunk in response.response:
            body += chunk
            if not stopped and len(body) > 20 * 1024 * 1024:
                dovecot.stop()
                stopped = True
    finally:
        if not stopped or dovecot.process is None:
            dovecot.start()
    assert stopped
    archive = zipfile.ZipFile(io.BytesIO(bytes(body)))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    post = next(s for s in manifest["services"] if s["service"] == "post")
    assert post["status"] in ("partial", "failed")
    errors = archive.read("ERRORS.txt").decode()
    assert "post" in errors
    # The panel's own data is there all the same.
    assert any(n.startswith("panel/") for n in archive.namelist())


def test_no_password_reaches_logs_files_or_the_database(
    imap_app, dovecot, alice_mail, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    app = imap_app()
    client = signed_in(app, "alice")
    archive_bytes = bytearray()
    token = csrf_token(client, "/account/export")
    archive_bytes += client.post("/account/export", data={"csrf_token": token}).get_data()
    client.get("/account/data")
    result = service_connectors(app)["post"].delete(person("alice"))
    assert result.ok
    with session_scope(app) as session:
        from app.db import Base

        rows = []
        for table in Base.metadata.sorted_tables:
            rows += [repr(tuple(r)) for r in session.execute(table.select())]
    stored = "\n".join(rows) + repr(result)
    for secret in (MASTER_PASSWORD, *USERS.values()):
        assert secret not in caplog.text
        assert secret.encode() not in bytes(archive_bytes)
        assert secret not in stored
    for path in Path(app.instance_path).rglob("*"):
        # instance/ is shared: another test (or xdist worker) may remove a file meanwhile.
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and path.stat().st_size < 50_000_000:
                assert MASTER_PASSWORD.encode() not in path.read_bytes(), path


def test_deletion_runs_the_imap_step_in_the_worker_and_a_failure_stays_retryable(
    imap_app, dovecot, alice_mail, tmp_path
):
    from deletion.deletion_support import approve, load, open_request

    from app.deletion import jobs, requests
    from app.deletion.models import DeletionStep

    secret = tmp_path / "rotating.secret"
    secret.write_text("wrong\n")
    app = imap_app(config={"DELETION_GRACE_DAYS": 0}, password_file=str(secret))
    request_id = open_request(app, "alice")
    approve(app, request_id)
    with app.app_context():
        jobs.queue_request(app, request_id, None)
    step = next(s for s in load(app, request_id).steps if s.service_slug == "post")
    # Recorded in English (logs, any reader), shown to staff in their language.
    assert step.state == "failed" and "refused the panel's sign-in" in (step.detail or "")
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        from app.deletion.outcomes import describe_outcome

        assert "a refusé la connexion" in describe_outcome(step.detail)
    assert len(server_view(dovecot, "alice")["INBOX"]) == 3

    # The hoster fixes the secret and restarts the panel; staff retry the step.
    secret.write_text(MASTER_PASSWORD + "\n")
    app = imap_app(config={"DELETION_GRACE_DAYS": 0}, password_file=str(secret))
    with session_scope(app) as session:
        failed = session.get(DeletionStep, step.id)
        requests.retry_step(session, failed, actor_id=None)
    with app.app_context():
        jobs.queue_request(app, request_id, None)
    step = next(s for s in load(app, request_id).steps if s.service_slug == "post")
    assert step.state == "done", step.detail
    assert "doveadm" in (step.kept or "")
    assert server_view(dovecot, "alice") == {"INBOX": []}


def test_doctor_names_the_mail_connector_that_cannot_sign_in(imap_app, tmp_path):
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("nope\n")
    app = imap_app(password_file=str(wrong), check_login="alice")
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "PROBLEM  connector post: " in result.output and "refused" in result.output
    assert "(server: " in result.output  # what Dovecot answered, for the administrator
    assert "nope" not in result.output
    good = imap_app(check_login="alice").test_cli_runner().invoke(args=["doctor"])
    assert "ok       connector post: " in good.output and "signed in as alice" in good.output
    # Without check_login a Dovecot master user cannot prove itself: the doctor says so.
    unsure = imap_app().test_cli_runner().invoke(args=["doctor"])
    assert "PROBLEM  connector post: " in unsure.output and "set check_login" in unsure.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"admin_usr": "panel"}, "services.post.connector.admin_usr is not a known key"),
        ({"url": "https://mail.example.org"}, "services.post.connector.url: "),
        ({"password": "hunter2"}, "services.post.connector.password: secrets do not belong"),
        ({"login": "{mail}"}, "services.post.connector.login: "),
        ({"timeout": "soon"}, "services.post.connector.timeout must be a number"),
        # A password written into the address is never repeated (the error is logged).
        ({"url": "imap://panel:hunter2@127.0.0.1:99999"}, "invalid port number"),
        ({"url": "https://panel:hunter2@mail.example.org"}, "https://panel:[secret]@"),
    ],
)
def test_imap_options_are_checked_at_start(imap_app, options, message):
    from app.profile.model import ProfileError

    with pytest.raises(ProfileError) as caught:
        imap_app(**options)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_mboxrd_quoting_matches_the_definition():
    """One more `>` on every line matching ^>*From (RFC 4155 mboxrd), nowhere else."""
    import random

    from app.connectors.imap import quote_from_lines

    def reference(data: bytes) -> bytes:
        return re.sub(rb"(?m)^(>*From )", rb">\1", data)

    rng = random.Random(4155)
    for _ in range(5000):
        data = bytes(rng.choice(b"F>rom \n\rx") for _ in range(rng.randint(0, 40)))
        data = data.replace(b"x", b"From ")
        assert quote_from_lines(data) == reference(data), data


@pytest.mark.parametrize("window", [5, 6, 9, 16 * 1024])
def test_from_search_finds_what_find_finds_across_its_windows(monkeypatch, window):
    """The search for `From ` that skips from space to space finds every one that
    bytes.find finds, in any range, whatever the window that follows each space."""
    import random

    from app.connectors.imap import mbox

    monkeypatch.setattr(mbox, "FROM_WINDOW", window)

    def reference(data: bytes, start: int, end: int) -> list[int]:
        found, at = [], data.find(b"From ", start, end)
        while at != -1:
            found.append(at)
            at = data.find(b"From ", at + 5, end)
        return found

    rng = random.Random(22)
    for _ in range(3000):
        pieces = [b"From ", b"From", b" ", b"F", b"rom ", b"\n", b"QUJD" * rng.randint(0, 9)]
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        start = rng.randint(0, len(data))
        end = rng.randint(start, len(data))
        for buffer in (data, bytearray(data)):
            assert mbox.from_positions(buffer, start, end) == reference(data, start, end)


def test_mbox_buffer_quotes_like_the_definition_however_the_bytes_arrive():
    """Messages read in pieces of any size into the export's buffer, handed out in chunks
    of any size: the same mboxrd as quoting each whole message (RFC 4155)."""
    import random

    from app.connectors.imap import MboxrdBuffer, mboxrd_message

    rng = random.Random(4155)
    for _ in range(3000):
        messages = [
            bytes(rng.choice(b"F>rom \n\rx") for _ in range(rng.randint(0, 40))).replace(
                b"x", b"From "
            )
            for _ in range(rng.randint(0, 4))
        ]
        out = MboxrdBuffer(rng.choice([1, 2, 5, 64]))
        chunks: list[bytes] = []
        for message in messages:
            out.begin(None)
            at = 0
            while at < len(message):
                step = rng.randint(1, 7)
                out.feed(message[at : at + step])
                at += step
                if out.full:
                    chunks.append(out.take())
            out.end()
        chunks.append(out.take())
        expected = b"".join(mboxrd_message(m, None) for m in messages)
        assert b"".join(chunks) == expected, messages


def test_message_table_finds_dates_by_uid_even_with_a_message_expunged_meanwhile():
    from datetime import UTC, datetime

    from app.connectors.imap import MessageTable

    table = MessageTable(4)
    table.set(1, 10, 100, 1_700_000_000)
    table.set(2, 11, 200, -1)  # no INTERNALDATE
    table.set(4, 15, 300, 1_700_000_600)  # sequence 3 gone between SELECT and FETCH
    assert len(table) == 3
    assert list(table.entries()) == [(10, 100), (11, 200), (15, 300)]
    assert table.received(15) == datetime.fromtimestamp(1_700_000_600, UTC)
    assert table.received(11) is None and table.received(12) is None
    assert table.uid_at(4) == 15 and table.uid_at(3) is None
    assert table.newest() == datetime.fromtimestamp(1_700_000_600, UTC)


def test_arrival_dates_are_read_as_strptime_reads_them():
    """INTERNALDATE is parsed without strptime (the export waits for it on every folder):
    the same date, in UTC, or None for what strptime refuses."""
    import random
    from datetime import UTC, datetime

    from app.connectors.imap.table import internaldate

    def reference(raw: bytes) -> datetime | None:
        try:
            return datetime.strptime(raw.decode(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
        except ValueError:
            return None

    assert internaldate(b" 7-Mar-2024 23:30:05 -0130") == datetime(2024, 3, 8, 1, 0, 5, tzinfo=UTC)
    assert internaldate(b"14-nov-2023 00:10:00 +0100") == datetime(2023, 11, 13, 23, 10, tzinfo=UTC)
    cases = [
        b"31-Feb-2024 10:00:00 +0000", b"00-Jan-2024 10:00:00 +0000",
        b"12-Jan-2024 24:00:00 +0000", b"12-Jan-2024 23:60:00 +0000",
        b"12-Jan-2024 23:00:60 +0000", b"12-Jan-2024 23:00:00 +0060",
        b"12-Jan-2024 23:00:00 +2400", b" 12-Jan-2024 23:00:00 +0000",
        b"12-Foo-2024 23:00:00 +0000", b"12-Jan-2024  23:00:00 +0000",
        b"12-Jan-2024 3:00:00 +0000", b"12-Jan-2024 23:00:00 Z", b"12-Jan-2024 23:00:00 +01:00",
        b"12-Jan-24 23:00:00 +0000", b"", b"12-JAN-2024 1:2:3 +0000",
        b"12-Jan-2024 23:00:00 +0000 ", b"29-Feb-2023 23:00:00 -2359",
        b"1-Jan-2024 00:00:00 -0000",
    ]  # fmt: skip
    rng = random.Random(3501)
    months = ["Jan", "feb", "MAR", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    for _ in range(2000):
        day = rng.choice(["%02d", "%d", "%2d"]) % rng.randint(0, 32)
        sign = rng.choice("+-")
        cases.append(
            f"{day}-{rng.choice(months)}-{rng.randint(1970, 2100)} {rng.randint(0, 24):02d}:"
            f"{rng.randint(0, 60):02d}:{rng.randint(0, 61):02d} {sign}{rng.randint(0, 25):02d}"
            f"{rng.randint(0, 61):02d}".encode()
        )
    for raw in cases:
        found, expected = internaldate(raw), reference(raw)
        assert found == expected, raw
        assert found is None or found.tzinfo == UTC, raw


@pytest.mark.parametrize("how", ["imaps", "starttls"])
def test_tls_checks_the_certificate_against_the_ca_file(imap_app, dovecot, alice_mail, how):
    tls = (
        {"url": f"imaps://127.0.0.1:{dovecot.tls_port}"}
        if how == "imaps"
        else {"url": dovecot.url, "starttls": True}
    )
    trusted = imap_app(ca_file=str(dovecot.certificate), check_login="alice", **tls)
    assert "signed in as alice" in service_connectors(trusted)["post"].check()
    folders = [e.path for e in service_connectors(trusted)["post"].export(person("alice"))]
    assert "services/post/Envoyés.mbox" in folders
    # Without the CA, the self-signed certificate is refused before any password is sent.
    untrusted = imap_app(check_login="alice", **tls)
    with pytest.raises(ServiceUnreachable, match="TLS"):
        service_connectors(untrusted)["post"].check()
