"""Only what is the person's (principle 7), on real Dovecot and Cyrus with shared folders.

alice shares a folder read-write and one read-only with bob; the team has a folder
everyone may write to. bob's export, /account/data, the plan staff approve, his deletion
and his receipt must be about his own folders only, and alice's and the team's folders
must be exactly as before, message by message.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from connectors.conftest import toml_table
from cyrus_server import Cyrus
from cyrus_server import cyrus as cyrus
from cyrus_server import cyrus_classic as cyrus_classic
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select

from app.connectors.base import service_connectors
from app.connectors.imap import decode_mailbox_name, encode_mailbox_name
from app.db import session_scope
from app.deletion.models import DeletionRequest
from app.deletion.outcomes import describe_outcome
from helpers import csrf_token, do_login, profile_without_local_servers
from imap_server import Dovecot, quote
from imap_server import dovecot_shared as dovecot_shared

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ALL_RIGHTS = "lrswipkxtecda"
READ_ONLY = "lr"
SHARED_RW = "Projet commun"
SHARED_RO = "Lecture seule"
BOB_FOLDERS = {"INBOX": 2, "Archives": 1, "Archives/2024": 1, "Envoyés": 1}

MAIL_SERVICE = """
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


def message(subject: str, body: str = "Bonjour") -> bytes:
    return (
        f"From: someone@example.org\r\nTo: team@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@example.org>\r\n\r\n{body}\r\n"
    ).encode()


@dataclass
class Server:
    """What differs between the servers: names of the namespaces bob sees."""

    kind: str
    impl: Any  # Dovecot or Cyrus
    team: str  # the team folder, as people see it
    others: str  # where alice's shared folders show for bob: "<others>alice<sep><folder>"
    sep: str = "/"
    personal: str = ""  # the personal namespace's prefix ("INBOX." on a classic Cyrus)

    def own(self, folder: str) -> str:
        """A folder of one's own ("Archives/2024") as this server names it."""
        if folder == "INBOX":
            return folder
        return self.personal + folder.replace("/", self.sep)

    def shared(self, owner: str, folder: str) -> str:
        """Someone else's folder as the person it is shared with sees it."""
        return f"{self.others}{owner}{self.sep}{self.own(folder)[len(self.personal) :]}"

    def bob_expected(self) -> dict[str, int]:
        return {self.own(folder): count for folder, count in BOB_FOLDERS.items()}

    def settings(self) -> dict[str, object]:
        settings: dict[str, object] = self.impl.settings()
        return settings

    def login(self, user: str) -> Any:
        return self.impl.login(user)

    def reset(self, user: str) -> None:
        self.impl.reset(user)


@pytest.fixture(params=["dovecot", "cyrus", "cyrus-classic"])
def server(request: pytest.FixtureRequest) -> Server:
    if request.param == "dovecot":
        dovecot: Dovecot = request.getfixturevalue("dovecot_shared")
        return Server("dovecot", dovecot, "Public/equipe", "shared/")
    if request.param == "cyrus":
        found: Cyrus = request.getfixturevalue("cyrus")
        found.make_shared_folder("equipe", {"alice": ALL_RIGHTS, "bob": ALL_RIGHTS})
        return Server("cyrus", found, "Shared Folders/equipe", "Other Users/")
    # Debian's own imapd.conf: no altnamespace, "." as the separator.
    classic: Cyrus = request.getfixturevalue("cyrus_classic")
    classic.make_shared_folder("equipe", {"alice": ALL_RIGHTS, "bob": ALL_RIGHTS})
    return Server("cyrus", classic, "equipe", "user.", sep=".", personal="INBOX.")


def run(conn: Any, command: str, *args: Any) -> list[Any]:
    typ, data = getattr(conn, command)(*args)
    assert typ == "OK", (command, args, data)
    return list(data)


def append(conn: Any, folder: str, messages: list[bytes], flags: str = "(\\Seen)") -> None:
    for data in messages:
        run(conn, "append", quote(encode_mailbox_name(folder)), flags, None, data)


def empty(conn: Any, folder: str) -> None:
    run(conn, "select", quote(encode_mailbox_name(folder)))
    data = run(conn, "search", None, "ALL")
    if data and data[0]:
        run(conn, "store", "1:*", "+FLAGS.SILENT", "(\\Deleted)")
        run(conn, "expunge")
    run(conn, "close")


def snapshot(conn: Any, folders: list[str]) -> dict[str, list[tuple[bytes, bytes]]]:
    """Each folder's messages: (UID and flags line, bytes), as the server returns them."""
    found: dict[str, list[tuple[bytes, bytes]]] = {}
    for folder in folders:
        run(conn, "select", quote(encode_mailbox_name(folder)), True)
        data = run(conn, "uid", "FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        found[folder] = sorted(
            (re.sub(rb"BODY\[\] \{\d+\}", b"", part[0]), part[1])
            for part in data
            if isinstance(part, tuple)
        )
        conn.close()
    return found


def share_scene(server: Server) -> dict[str, list[tuple[bytes, bytes]]]:
    """alice shares two folders with bob, the team folder holds three messages, bob has
    his own folders; returns what alice and the team have, to compare afterwards."""
    for user in ("alice", "bob"):
        server.reset(user)
    alice = server.login("alice")
    try:
        for folder, rights in ((SHARED_RW, ALL_RIGHTS), (SHARED_RO, READ_ONLY)):
            name = server.own(folder)
            run(alice, "create", quote(encode_mailbox_name(name)))
            append(alice, name, [message(f"{folder} {n}") for n in range(3)])
            run(alice, "setacl", quote(encode_mailbox_name(name)), "bob", rights)
        append(alice, "INBOX", [message("alice inbox")])
        empty(alice, server.team)
        append(alice, server.team, [message(f"team {n}") for n in range(3)], "()")
        before = snapshot(alice, alice_folders(server))
    finally:
        alice.logout()
    bob = server.login("bob")
    try:
        for folder, count in BOB_FOLDERS.items():
            name = server.own(folder)
            if folder != "INBOX":
                run(bob, "create", quote(encode_mailbox_name(name)))
            append(bob, name, [message(f"bob {folder} {n}") for n in range(count)])
    finally:
        bob.logout()
    return before


def alice_folders(server: Server) -> list[str]:
    return ["INBOX", server.own(SHARED_RW), server.own(SHARED_RO), server.team]


def alice_now(server: Server) -> dict[str, list[tuple[bytes, bytes]]]:
    alice = server.login("alice")
    try:
        return snapshot(alice, alice_folders(server))
    finally:
        alice.logout()


def bob_folders(server: Server) -> dict[str, int]:
    """bob's folders in his personal namespace and their message counts, asked directly."""
    bob = server.login("bob")
    try:
        found: dict[str, int] = {}
        for line in run(bob, "list", '""', "*"):
            flags, name = re.fullmatch(r'\((.*?)\) "." (.*)', line.decode()).groups()  # type: ignore[union-attr]
            name = name.strip('"')
            if name.startswith((server.others, server.team.split("/")[0])) or "Noselect" in flags:
                continue
            found[decode_mailbox_name(name)] = int(run(bob, "select", quote(name), True)[0])
        return found
    finally:
        bob.logout()


@pytest.fixture
def mail_app(
    make_app: Callable[..., Flask], tmp_path: Path, server: Server, smtp: Any
) -> Iterator[Flask]:
    path = tmp_path / "hoster.toml"
    path.write_text(
        profile_without_local_servers()
        + MAIL_SERVICE.format(connector=toml_table(server.settings())),
        encoding="utf-8",
    )
    yield make_app(HOSTER_FILE=str(path), DELETION_GRACE_DAYS=0, SMTP_URL=smtp.url)


def page_text(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_a_person_with_shared_and_team_folders_has_only_her_own_exported_listed_and_deleted(
    mail_app: Flask, server: Server, smtp: Any
) -> None:
    before = share_scene(server)
    assert server.kind in ("dovecot", "cyrus")
    bob = mail_app.test_client()
    assert do_login(bob, "bob", "demo").status_code == 302

    # /account/data: his own folders, and one sentence about the others' (bob reads English).
    held = page_text(bob.get("/account/data"))
    for folder in server.bob_expected():
        assert f"Mail folder “{folder}”" in held, held
    for foreign in (SHARED_RW, SHARED_RO, "equipe"):
        assert foreign not in held
    assert "3 folders shared with you by others stay theirs" in held

    # The export holds his own folders only.
    token = csrf_token(bob, "/account/export")
    response = bob.post("/account/export", data={"csrf_token": token})
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    mail = sorted(n for n in archive.namelist() if n.startswith("services/post/"))
    expected = [server.own(f).replace(server.sep, "/") for f in BOB_FOLDERS]
    assert mail == sorted(f"services/post/{folder}.mbox" for folder in expected)
    assert "ERRORS.txt" not in archive.namelist()

    # He asks for deletion; staff (Camille reads French) see the plan asked of the server.
    asked = bob.post(
        "/account/deletion",
        data={"csrf_token": csrf_token(bob, "/account/deletion"), "confirm_login": "bob"},
    )
    assert asked.status_code == 302
    with session_scope(mail_app) as session:
        request_id = session.scalar(
            select(DeletionRequest.id).where(DeletionRequest.state == "requested")
        )
    staff = mail_app.test_client()
    assert do_login(staff, "camille", "demo").status_code == 302
    page = f"/staff/deletions/{request_id}"
    plan = page_text(staff.get(page))
    assert "Ce que l'approbation va supprimer" in plan
    deleted_part, kept_part = plan.split("Sera conservé", 1)
    for folder, count in server.bob_expected().items():
        assert re.search(rf"{re.escape(folder)} {count} \d+ octets", deleted_part), folder
    assert f"{server.shared('alice', SHARED_RW)} partagé avec cette personne par alice" in kept_part
    assert f"{server.shared('alice', SHARED_RO)} partagé avec cette personne par alice" in kept_part
    assert "equipe un dossier partagé ou public" in kept_part
    assert ("cyr_expire" if server.kind == "cyrus" else "doveadm purge") in kept_part
    assert plan.index("Ce que l'approbation va supprimer") < plan.index("Approuver et lancer")

    approved = staff.post(f"{page}/approve", data={"csrf_token": csrf_token(staff, page)})
    assert approved.status_code == 302
    with session_scope(mail_app) as session:
        req = session.get(DeletionRequest, request_id)
        assert req is not None
        step = next(s for s in req.steps if s.service_slug == "post")
        # The read-only share did not fail the step: nothing outside his namespace is touched.
        assert step.state == "done", step.detail
        assert "5 messages expunged, 3 folders removed" in (step.detail or "")

    # Straight on the server: his namespace holds an empty INBOX; alice's and the team's
    # folders are exactly as before, message by message, flags included.
    assert bob_folders(server) == {"INBOX": 0}
    assert alice_now(server) == before

    # Staff do the manual steps of the other services; the request completes.
    listing = staff.get(page).get_data(as_text=True)
    for step_id in re.findall(rf"{page}/steps/(\d+)/done", listing):
        prefix = f"step-{step_id}"
        staff.post(
            f"{page}/steps/{step_id}/done",
            data={f"{prefix}-csrf_token": csrf_token(staff, page), f"{prefix}-comment": "done"},
        )
    staff.post(f"{page}/run", data={"csrf_token": csrf_token(staff, page)})
    with session_scope(mail_app) as session:
        req = session.get(DeletionRequest, request_id)
        assert req is not None and req.state == "completed"

    # The receipt (bob reads English) says what stays, for this server.
    receipt = [m for m in smtp.messages if m["To"] == "bob@demo.chatons.org"][-1]
    body = " ".join(receipt.get_content().split())
    assert "3 folders that others share with this person stay theirs" in body
    if server.kind == "cyrus":
        assert "cyr_expire" in body and "delayed expunge" in body and "doveadm" not in body
        # The mailbox as this Cyrus names it (the login is erased from the record once done).
        assert f"(`user{server.sep}" in body
    else:
        assert "doveadm purge -u" in body and "lazy_expunge" in body
        assert "cyr_expire" not in body

    # Staff (French) read the same notes in French on the finished request.
    done_page = page_text(staff.get(page)).replace("\u202f", " ")
    assert "d'autres partagent avec cette personne restent les leurs" in done_page
    if server.kind == "cyrus":
        assert "Cyrus garde un temps les dossiers supprimés" in done_page
    else:
        assert "Là où le greffon lazy_expunge de Dovecot est actif" in done_page


def test_the_plan_changes_nothing_and_the_delete_step_rechecks_ownership(
    mail_app: Flask, server: Server
) -> None:
    before = share_scene(server)
    connector = service_connectors(mail_app)["post"]
    person = mail_app.extensions["panel_directory"].lookup("bob")
    with mail_app.test_request_context():
        plan = connector.plan(person)
    assert {item.name: item.count for item in plan.delete} == server.bob_expected()
    assert all(item.size for item in plan.delete)
    kept = {item.name: dict(item.values) for item in plan.keep}
    assert kept[server.shared("alice", SHARED_RW)] == {"owner": "alice"}
    assert kept[server.shared("alice", SHARED_RO)] == {"owner": "alice"}
    assert server.team in kept
    assert bob_folders(server) == server.bob_expected()  # a dry run

    # alice shares one more folder after staff read the plan: still not bob's to delete.
    alice = server.login("alice")
    try:
        later = server.own("Plus tard")
        run(alice, "create", quote(later))
        append(alice, later, [message("later")])
        run(alice, "setacl", quote(later), "bob", ALL_RIGHTS)
        before.update(snapshot(alice, [later]))
    finally:
        alice.logout()
    with mail_app.app_context():
        result = connector.delete(person)
    assert result.ok, result.detail
    now = alice_now(server)
    alice = server.login("alice")
    try:
        now.update(snapshot(alice, [server.own("Plus tard")]))
    finally:
        alice.logout()
    assert now == before
    assert bob_folders(server) == {"INBOX": 0}
    assert any("4 folders that others share" in line for line in result.kept)


def test_a_folder_the_server_refuses_to_empty_is_named_with_the_servers_answer(
    mail_app: Flask, server: Server
) -> None:
    share_scene(server)
    bob = server.login("bob")
    try:
        # bob takes away his own right to delete messages in one of his folders.
        run(bob, "setacl", quote(server.own("Archives/2024")), "bob", "lrswipka")
    finally:
        bob.logout()
    connector = service_connectors(mail_app)["post"]
    person = mail_app.extensions["panel_directory"].lookup("bob")
    with mail_app.app_context(), force_locale("en"):  # as the pipeline runs it
        result = connector.delete(person)
    assert not result.ok
    assert f"on the folder “{server.own('Archives/2024')}”" in result.detail, result.detail
    assert "(server: " in result.detail and "ermission" in result.detail
    assert "master-Secret" not in result.detail and "cyrus-Admin" not in result.detail
    with mail_app.test_request_context(headers={"Accept-Language": "fr"}):
        shown = str(describe_outcome(result.detail))
    assert "le serveur de courriel a refusé" in shown and "réponse du serveur" in shown
