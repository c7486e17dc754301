"""Replies sent with smtplib through a real Postfix, piped to `flask support receive`:
one lands, a forged one is answered to nobody, a refused one is answered to the envelope
sender Postfix writes in Return-Path, and a replayed one is not added twice."""

from __future__ import annotations

import os
import shutil
import smtplib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postfix_server
import pytest
from conftest import PG_URL, missing_tool
from sqlalchemy import select
from support.test_mail import open_as, staff_answer
from support.test_mail_in import SUPPORT, answer_to, thread
from support.ticket_helpers import PDF

from app.db import session_scope
from app.support.models import Attachment


def delivered(server: Any) -> int:
    """Messages Postfix has handed to the pipe, and the pipe has finished with."""
    return server.log().count("status=sent")


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """Database and attachments where the pipe user (nobody) can write too."""
    folder = Path(tempfile.mkdtemp(prefix="panel-mailin-"))
    os.chmod(folder, 0o777)  # noqa: S103 - a throwaway test folder shared with the pipe user
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_reply_through_postfix_lands_in_the_ticket(
    make_support_app: Any, smtp: Any, database_template: str, shared_dir: Path
) -> None:
    why_not = postfix_server.postfix_available()
    if why_not:
        missing_tool(why_not)
    python = postfix_server.pipe_python(REPO)
    if isinstance(python, str):
        missing_tool(python)
        return
    interpreter, extra_env = python
    if PG_URL:
        database_url = PG_URL
    else:
        target = shared_dir / "panel.sqlite3"
        shutil.copyfile(database_template, target)
        os.chmod(target, 0o666)  # noqa: S103 - see shared_dir
        database_url = f"sqlite:///{target}"
    attachments = shared_dir / "attachments"
    # Files go into 256 sub-folders named after their random names: make them all now,
    # or one made by this process for the first attachment could refuse the pipe user.
    for folder in [attachments, *(attachments / f"{n:02x}" for n in range(256))]:
        folder.mkdir(mode=0o777)
        os.chmod(folder, 0o777)  # noqa: S103 - see shared_dir
    settings = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "SMTP_URL": smtp.url,
        "MAIL_FROM": "panel@demo.chatons.org",
        "SUPPORT_REPLY_ADDRESS": SUPPORT,
        "SUPPORT_STAFF_EMAIL": "team@demo.chatons.org",
        "BASE_URL": "https://panel.example.org",
        "SUPPORT_ATTACHMENT_DIR": str(attachments),
        # The pipe user cannot write the default queue file in instance/.
        "QUEUE_URL": "immediate",
    }
    app = make_support_app(**settings)
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "Which file fails?")
    to_alice = smtp.messages[-1]

    env = {f"PANEL_{key}": value for key, value in settings.items()} | extra_env
    argv = [
        "/usr/bin/env",
        *(f"{key}={value}" for key, value in sorted(env.items())),
        interpreter,
        "-m",
        "flask",
        "--app",
        "app:create_app",
        "support",
        "receive",
        "--recipient",
    ]
    server = postfix_server.start_postfix("demo.chatons.org", argv)
    try:
        reply = answer_to(to_alice, "Alice Martin <alice@demo.chatons.org>", "This one.")
        reply.add_attachment(PDF, maintype="application", subtype="pdf", filename="bad.pdf")
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as relay:
            relay.send_message(reply)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(thread(app)) < 3:
            time.sleep(0.2)
        assert len(thread(app)) == 3, server.log()
        # The pipe's own process mails the team, with the staff link to the ticket.
        while time.monotonic() < deadline and len(smtp.messages) < 3:
            time.sleep(0.2)
        assert len(smtp.messages) == 3
        # A forger without the token names a victim in From and in the envelope; a person
        # with the right address but the wrong From is answered at the envelope sender
        # (Postfix's Return-Path), never at From; the first reply comes again (a replay).
        forged = answer_to(to_alice, "victim@elsewhere.example", "Cheap pills")
        del forged["To"]
        forged["To"] = "support+1.aaaaaaaaaaaaaaaa@demo.chatons.org"
        stranger = answer_to(to_alice, "someone@elsewhere.example", "Let me in")
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as relay:
            relay.send_message(forged, from_addr="victim@elsewhere.example")
            relay.send_message(stranger, from_addr="bounces@lists.example")
            relay.send_message(reply, from_addr="alice@demo.chatons.org")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and delivered(server) < 4:
            time.sleep(0.2)
        assert delivered(server) == 4, server.log()
    finally:
        server.stop()
    last = thread(app)[-1]
    assert len(thread(app)) == 3  # the replay was not added
    assert last.body == "This one." and not last.from_staff
    assert [m["To"] for m in smtp.messages] == [
        "team@demo.chatons.org",
        "alice@demo.chatons.org",
        "team@demo.chatons.org",
        "bounces@lists.example",
    ]
    assert "https://panel.example.org/staff/tickets/1" in smtp.messages[2].get_content()
    assert smtp.messages[-1]["Auto-Submitted"] == "auto-replied"
    with session_scope(app) as session:
        [attachment] = session.scalars(select(Attachment).where(Attachment.message_id == last.id))
        assert attachment.filename == "bad.pdf"
