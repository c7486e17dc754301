"""Moving house into real Dovecot and Cyrus: a folder of an export appended as the person,
with its flags and dates, into her own namespace only, twice without a duplicate."""

from __future__ import annotations

import imaplib
import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from connectors.test_imap_sharing import (
    ALL_RIGHTS,
    SHARED_RW,
    Server,
    alice_now,
    run,
    share_scene,
)
from cyrus_server import Cyrus
from cyrus_server import cyrus as cyrus
from cyrus_server import cyrus_classic as cyrus_classic
from flask import Flask
from flask_babel import force_locale

from app.connectors.imap import ImapConnector, ImapSettings, encode_mailbox_name
from app.connectors.imap import append as appending
from app.connectors.imap.mbox import mboxrd_message
from app.connectors.importing import (
    CountingProgress,
    ImportCancelled,
    Importer,
    ImportItem,
    ImportPart,
    Malformed,
)
from app.connectors.secrets import Secret
from app.directory import Person
from app.moving.readers.mbox import read_mbox
from imap_server import Dovecot, dovecot_available, quote
from imap_server import dovecot as dovecot
from imap_server import dovecot_shared as dovecot_shared

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

BOB = Person(uid="bob", dn="uid=bob", display_name="Bob", email=None, language=None)
SUMMER = datetime(2024, 7, 14, 9, 30, 5, tzinfo=UTC)
WINTER = datetime(2023, 12, 24, 23, 59, 59, tzinfo=UTC)


def mail(subject: str, message_id: str | None = None, body: str = "Bonjour") -> bytes:
    header = f"From: zoe@example.org\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
    if message_id:
        header += f"Message-ID: <{message_id}>\r\n"
    return (header + f"\r\n{body}\r\nFrom the start of a line.\r\n").encode()


MESSAGES = [
    (mail("Lu", "lu@x"), SUMMER, ("\\Seen",)),
    (mail("Important", "imp@x"), WINTER, ("\\Answered", "\\Flagged", "\\Seen", "$Label1")),
    (mail("Brouillon", "draft@x"), SUMMER, ("\\Draft",)),
    (mail("Sans identifiant"), WINTER, ()),  # matched on its digest
    (mail("Copie", "same@x"), SUMMER, ()),  # the same Message-ID twice: both kept
    (mail("Copie", "same@x", "autre"), SUMMER, ("\\Seen",)),
]


def part(name: str, messages: list[tuple[bytes, datetime, tuple[str, ...]]]) -> ImportPart:
    mbox = b"".join(mboxrd_message(*m) for m in messages)
    return ImportPart(
        kind="mail",
        name=name,
        items=read_mbox(io.BytesIO(mbox), name),
        count=len(messages),
        size=len(mbox),
    )


def connector_for(server: Any) -> ImapConnector:
    settings = server.settings()
    secret = Path(str(settings["password_file"])).read_text().strip()
    return ImapConnector(
        "post",
        name="Mail",
        settings=ImapSettings(
            host="127.0.0.1",
            port=server.port,
            security="none",
            admin_user=str(settings["admin_user"]),
            secret=Secret(secret, "test"),
            timeout=10,
        ),
    )


def fetch_all(conn: imaplib.IMAP4, folder: str) -> list[tuple[bytes, set[str], datetime]]:
    """(bytes, flags, internal date) of each message of a folder, asked directly."""
    run(conn, "select", quote(folder), True)
    data = run(conn, "uid", "FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    found = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        flags = set(re.search(r"FLAGS \(([^)]*)\)", head)[1].split()) - {"\\Recent"}  # type: ignore[index]
        date = imaplib.Internaldate2tuple(item[0])
        assert date is not None
        when = datetime(*date[:6]).astimezone(UTC)
        found.append((item[1], flags, when))
    conn.close()
    return found


def subscribed(conn: imaplib.IMAP4) -> str:
    return " ".join(line.decode() for line in run(conn, "lsub", '""', "*") if line)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    application = make_app()
    with application.app_context(), force_locale("en"):
        yield application


@pytest.fixture(params=["dovecot", "cyrus", "cyrus-classic"])
def server(request: pytest.FixtureRequest) -> Server:
    if request.param == "dovecot":
        found: Dovecot = request.getfixturevalue("dovecot_shared")
        return Server("dovecot", found, "Public/equipe", "shared/")
    if request.param == "cyrus":
        cyrus_server: Cyrus = request.getfixturevalue("cyrus")
        cyrus_server.make_shared_folder("equipe", {"alice": ALL_RIGHTS, "bob": ALL_RIGHTS})
        return Server("cyrus", cyrus_server, "Shared Folders/equipe", "Other Users/")
    classic: Cyrus = request.getfixturevalue("cyrus_classic")
    classic.make_shared_folder("equipe", {"alice": ALL_RIGHTS, "bob": ALL_RIGHTS})
    return Server("cyrus", classic, "equipe", "user.", sep=".", personal="INBOX.")


def test_the_imap_connector_says_it_imports_mail(app: Flask, dovecot: Dovecot) -> None:
    connector = connector_for(dovecot)
    assert isinstance(connector, Importer)
    assert connector.imports == frozenset({"mail"})
    # No quota plugin on this Dovecot: no limit to report.
    dovecot.reset("bob")
    assert connector.available_bytes(BOB) is None


def test_a_folder_comes_in_with_its_flags_and_dates_and_twice_writes_nothing_more(
    app: Flask, server: Server
) -> None:
    server.reset("bob")
    connector = connector_for(server.impl)
    name = "Archives/Été 2024"
    progress = CountingProgress()
    connector.import_(BOB, part(name, MESSAGES), progress)
    assert progress.count("imported") == len(MESSAGES), progress.outcomes
    folder = encode_mailbox_name(server.own(name))
    conn = server.login("bob")
    try:
        got = fetch_all(conn, folder)
        assert subscribed(conn).count(folder) == 1
    finally:
        conn.logout()
    assert [data for data, _f, _w in got] == [m[0] for m in MESSAGES]
    assert [flags for _d, flags, _w in got] == [set(m[2]) for m in MESSAGES]
    assert [when for _d, _f, when in got] == [m[1] for m in MESSAGES]

    # Again (a second click, a worker that died and resumed): nothing is written.
    again = CountingProgress()
    connector.import_(BOB, part(name, MESSAGES), again)
    assert again.count("skipped") == len(MESSAGES) and again.count("imported") == 0
    conn = server.login("bob")
    try:
        assert len(fetch_all(conn, folder)) == len(MESSAGES)
    finally:
        conn.logout()

    # INBOX itself, and a name that is plain ASCII on one server and nested on another.
    inbox = CountingProgress()
    connector.import_(BOB, part("INBOX", MESSAGES[:2]), inbox)
    assert inbox.count("imported") == 2


def test_importing_never_writes_into_folders_others_share_with_her(
    app: Flask, server: Server
) -> None:
    before = share_scene(server)
    connector = connector_for(server.impl)
    names = [
        SHARED_RW,  # alice shares a folder of this name with bob: his own one is made
        server.team,  # the team's folder: his own copy, never the team's
        server.shared("alice", SHARED_RW).replace(server.sep, "/"),  # alice's, by its path
    ]
    for n, name in enumerate(names):
        progress = CountingProgress()
        connector.import_(BOB, part(name, [(mail(f"bob {n}", f"bob{n}@x"), SUMMER, ())]), progress)
        assert progress.count("imported") == 1, (name, progress.outcomes)
    assert alice_now(server) == before  # alice's and the team's folders, message by message
    bob = server.login("bob")
    try:
        own = [line.decode() for line in run(bob, "list", '""', "*") if line]
    finally:
        bob.logout()
    text = "\n".join(own)
    assert encode_mailbox_name(server.own(SHARED_RW)) in text
    if server.personal:  # classic Cyrus: everything of his is under "INBOX."
        assert "INBOX.equipe" in text and "INBOX.user.alice" in text
    else:  # the names that were not his got " (imported)"
        team_root, team = server.team.split("/", 1)
        assert f'"{team_root} (imported)/{team}"' in text
        assert f'"{server.others.rstrip("/")} (imported)/alice/{SHARED_RW}"' in text


def test_a_message_refused_is_named_and_the_others_still_come_in(
    app: Flask, request: pytest.FixtureRequest
) -> None:
    """Cyrus with a quota of 40 KiB: the big message is refused as too big for it."""
    found: Cyrus = request.getfixturevalue("cyrus")
    found.reset("bob")
    admin = found.admin()
    try:
        run(admin, "setquota", quote(found.user_root("bob")), "(STORAGE 40)")
    finally:
        admin.logout()
    connector = connector_for(found)
    room = connector.available_bytes(BOB)
    assert room is not None and 30 * 1024 < room <= 40 * 1024
    big = mail("Gros", "big@x", "x" * 60_000)
    items = [*MESSAGES[:2], (big, SUMMER, ()), MESSAGES[2]]
    mbox = b"".join(mboxrd_message(*m) for m in items)
    progress = CountingProgress()
    broken = Malformed("Envoyés #9", "an empty message")
    source = [broken, *read_mbox(io.BytesIO(mbox), "Envoyés")]
    connector.import_(BOB, ImportPart("mail", "Envoyés", source, 5, len(mbox)), progress)
    outcomes = [(o.outcome, o.reason) for o in progress.outcomes]
    assert outcomes == [
        ("refused", "an empty message"),
        ("imported", ""),
        ("imported", ""),
        ("refused", appending.OVER_QUOTA),
        ("imported", ""),
    ]
    assert connector.available_bytes(BOB) <= room  # type: ignore[operator]  # KiB: 0 here


@pytest.fixture(scope="module")
def dovecot_quota() -> Iterator[Dovecot]:
    """A Dovecot with the quota plugin (count backend) and 64 KiB for everyone."""
    from conftest import missing_tool

    if not dovecot_available():
        missing_tool("dovecot is not installed (apt-get install dovecot-imapd) or not root")
    root = Path(tempfile.mkdtemp(prefix="panel-dovecot-quota-"))
    server = Dovecot(root)
    server.write_config()
    server.config.write_text(
        server.config.read_text()
        + "mail_plugins = $mail_plugins quota\n"
        + "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\n"
        + "plugin {\n  quota = count:User quota\n  quota_rule = *:storage=64K\n"
        + "  quota_vsizes = yes\n}\n"
    )
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_a_dovecot_quota_too_small_shows_before_and_refuses_during(
    app: Flask, dovecot_quota: Dovecot
) -> None:
    dovecot_quota.reset("bob")
    connector = connector_for(dovecot_quota)
    assert connector.available_bytes(BOB) == 64 * 1024
    items = [(mail(f"m{n}", f"m{n}@x", "y" * 20_000), SUMMER, ()) for n in range(4)]
    progress = CountingProgress()
    connector.import_(BOB, part("Archives", items), progress)
    assert [o.outcome for o in progress.outcomes] == ["imported"] * 3 + ["refused"]
    assert progress.outcomes[-1].reason == appending.OVER_QUOTA
    assert connector.available_bytes(BOB) <= 5 * 1024  # type: ignore[operator]


class StopAfter(CountingProgress):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def done(self, item: ImportItem | Malformed, outcome: Any, reason: str = "") -> None:
        super().done(item, outcome, reason)
        if len(self.outcomes) == self.limit:
            raise ImportCancelled


def test_cancelled_halfway_keeps_what_came_in_and_resumes_without_duplicates(
    app: Flask, dovecot: Dovecot
) -> None:
    dovecot.reset("bob")
    connector = connector_for(dovecot)
    with pytest.raises(ImportCancelled):
        connector.import_(BOB, part("Reçus & traités", MESSAGES), StopAfter(4))
    resumed = CountingProgress()
    connector.import_(BOB, part("Reçus & traités", MESSAGES), resumed)
    assert [o.outcome for o in resumed.outcomes] == ["skipped"] * 4 + ["imported"] * 2
    conn = dovecot.login("bob")
    try:
        got = fetch_all(conn, encode_mailbox_name("Reçus & traités"))
    finally:
        conn.logout()
    assert [data for data, _f, _w in got] == [m[0] for m in MESSAGES]


def test_folder_names_stay_in_the_personal_namespace() -> None:
    from app.connectors.imap.namespaces import parse_namespace

    dovecot_spaces = parse_namespace('(("" "/")) (("shared/" "/")) (("Public/" "/"))')
    classic = parse_namespace('(("INBOX." ".")) (("user." ".")) (("" "."))')
    alt = parse_namespace('(("" "/")) (("Other Users/" "/")) (("Shared Folders/" "/"))')
    target = appending.personal_folder
    assert target(dovecot_spaces, "Archives/Été", "/") == "Archives/&AMk-t&AOk-"
    assert target(dovecot_spaces, "Public/equipe", "/") == "Public (imported)/equipe"
    assert target(dovecot_spaces, "shared/alice/x", "/") == "shared (imported)/alice/x"
    assert target(classic, "equipe", ".") == "INBOX.equipe"
    assert target(classic, "Archives/2024", ".") == "INBOX.Archives.2024"
    assert target(classic, "INBOX/Sub", ".") == "INBOX.Sub"
    assert target(classic, "a.b", ".") == "INBOX.a_b"
    assert target(alt, "Shared Folders/equipe", "/") == "Shared Folders (imported)/equipe"
    assert target(alt, "inbox", "/") == "INBOX"
    assert appending.append_flags(["\\Seen", "\\Recent", "$Label1", "bad word", "\\X"]) == (
        "(\\Seen $Label1)"
    )


def exported(connector: ImapConnector, who: Person) -> dict[str, bytes]:
    """The person's mail as the export writes it: {folder path: mbox bytes}."""
    from app.connectors.base import ArchiveEntry

    found: dict[str, bytes] = {}
    for entry in connector.export(who):
        assert isinstance(entry, ArchiveEntry)
        path = entry.path.removeprefix("services/post/").removesuffix(".mbox")
        found[path] = b"".join(entry.chunks)
    return found


def test_a_mailbox_moved_from_dovecot_to_cyrus_exports_the_same_byte_for_byte(
    app: Flask, dovecot: Dovecot, request: pytest.FixtureRequest
) -> None:
    """The move: alice's export on Dovecot, imported as bob on Cyrus, exported again."""
    from connectors.conftest import seed

    seed(dovecot, "alice")
    conn = dovecot.login("alice")
    try:  # some flags besides \Seen, and one message unread
        run(conn, "select", "INBOX")
        run(conn, "store", "1", "+FLAGS", "(\\Flagged $Label1)")
        run(conn, "store", "2", "-FLAGS", "(\\Seen)")
        run(conn, "store", "3", "+FLAGS", "(\\Answered \\Draft)")
        conn.close()
    finally:
        conn.logout()
    alice = Person(uid="alice", dn="uid=alice", display_name="Alice", email=None, language=None)
    before = exported(connector_for(dovecot), alice)
    assert b"Status: RO\r\nX-Status: F\r\nX-Keywords: $Label1\r\n" in before["INBOX"]

    target: Cyrus = request.getfixturevalue("cyrus")
    target.reset("bob")
    cyrus_connector = connector_for(target)
    for path, mbox in before.items():
        progress = CountingProgress()
        cyrus_connector.import_(
            BOB, ImportPart("mail", path, read_mbox(io.BytesIO(mbox), path), 0, 0), progress
        )
        assert progress.count("refused") == 0, progress.outcomes
    after = exported(cyrus_connector, BOB)
    assert {p: m for p, m in after.items() if m} == {p: m for p, m in before.items() if m}
