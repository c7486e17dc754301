"""The outbox never jams: bad addresses are refused, failures back off, then give up."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

import ldap_server
from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.mail import OutgoingMail, queue_mail, retry_delay, send_queued
from helpers import csrf_token, do_login


def put_in_outbox(app, *recipients: str) -> None:
    """Rows as an older panel (or a bug) may have left them, unchecked."""
    with session_scope(app) as session:
        for recipient in recipients:
            session.add(
                OutgoingMail(
                    recipient=recipient,
                    subject="Votre ticket",
                    body="Bonjour\n",
                    purpose="support.reply",
                    attempts=0,
                    created_at=utcnow(),
                )
            )


def outbox(app) -> list[OutgoingMail]:
    with session_scope(app) as session:
        return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all())


def audit_events(session, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    return list(session.scalars(query).all())


def test_a_bad_address_then_a_good_one_the_good_one_is_delivered(make_app, smtp):
    app = make_app(SMTP_URL=smtp.url)
    put_in_outbox(app, "zoe@demo.chatons.org\nBcc: attacker@evil.example", "alice@demo.chatons.org")
    assert send_queued(app) == (1, 1)
    assert [m["To"] for m in smtp.messages] == ["alice@demo.chatons.org"]
    [dead] = outbox(app)
    assert dead.dead_at is not None and "ValueError" in (dead.last_error or "")
    assert send_queued(app) == (0, 0)  # a dead letter is not tried again


@pytest.mark.parametrize(
    "address",
    [
        "zoe@demo.chatons.org, attacker@evil.example",
        "zoe@demo.chatons.org\r\nBcc: attacker@evil.example",
        "Zoé <zoe@demo.chatons.org>",
        "zoe@demo\u2028.chatons.org",
        "zoe@demo\x00.chatons.org",
        "",
        "not-an-address",
    ],
)
def test_an_address_that_is_not_exactly_one_address_is_not_queued(app, address, caplog):
    with app.test_request_context(), session_scope(app) as session:
        caplog.set_level(logging.WARNING, logger="app.mail")
        queued = queue_mail(
            session,
            to=address,
            template="support_reply",
            purpose="support.reply",
            ticket=None,
            link=None,
            body=None,
        )
    assert queued is None
    assert outbox(app) == []
    assert len([r for r in caplog.records if "not queued" in r.getMessage()]) == 1
    assert "attacker" not in caplog.text


def test_failures_back_off_then_become_a_dead_letter_shown_to_staff(make_app):
    closed = f"smtp://127.0.0.1:{ldap_server.free_port()}"
    app = make_app(SMTP_URL=closed, MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_SECONDS=60)
    put_in_outbox(app, "bob@demo.chatons.org")
    assert send_queued(app) == (0, 1)
    [waiting] = outbox(app)
    assert waiting.attempts == 1 and waiting.dead_at is None
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > utcnow()
    assert send_queued(app) == (0, 0)  # not due yet: not hammered
    for _ in range(2):
        with session_scope(app) as session:
            for message in session.scalars(select(OutgoingMail)):
                message.next_attempt_at = utcnow() - timedelta(seconds=1)
        send_queued(app)
    [dead] = outbox(app)
    assert dead.attempts == 3 and dead.dead_at is not None
    client = app.test_client()
    do_login(client, "camille", "demo")
    page = client.get("/staff/").get_data(as_text=True)
    assert "Courriels impossibles à distribuer" in page
    assert "bob@demo.chatons.org" in page and "ConnectionRefusedError" in page
    assert "Réponse de l&#39;équipe sur un ticket" in page and "support.reply" not in page


def test_every_kind_of_mail_the_panel_sends_is_named_in_words_for_staff():
    """A new kind of mail without words would show staff its code among dead letters."""
    from pathlib import Path

    from app.staff import MAIL_PURPOSES

    root = Path(__file__).resolve().parents[1] / "app"
    pattern = re.compile(r'(?:purpose=|PURPOSE\w* = )"([a-z_]+\.[a-z_.]+)"')
    used = {m for path in root.rglob("*.py") for m in pattern.findall(path.read_text())}
    assert len(used) >= 10, used
    assert used <= set(MAIL_PURPOSES), used - set(MAIL_PURPOSES)


def test_back_off_doubles_up_to_the_maximum():
    config = {"MAIL_RETRY_SECONDS": 60, "MAIL_RETRY_MAX_SECONDS": 3600}
    delays = [retry_delay(config, n).total_seconds() for n in range(1, 9)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]


# Dead letters: staff send them again once the cause is fixed, or discard them ------------


def _staff(app):
    client = app.test_client()
    assert do_login(client, "camille", "demo").status_code == 302
    return client


def _staff_post(client, action: str, **data):
    token = csrf_token(client, "/staff/")
    return client.post(
        f"/staff/mail/undelivered/{action}",
        data={**data, "csrf_token": token},
        follow_redirects=True,
    )


def _dead_letters_for(app, *recipients: str) -> list[int]:
    put_in_outbox(app, *recipients)
    with session_scope(app) as session:
        rows = session.scalars(select(OutgoingMail)).all()
        for row in rows:
            row.attempts, row.dead_at = 10, utcnow()
            row.last_error = "ConnectionRefusedError: [Errno 111] Connection refused"
        return [row.id for row in rows]


def test_a_dead_letter_sent_again_after_the_smtp_server_comes_back_is_delivered(make_app):
    from aiosmtpd.controller import Controller
    from conftest import Mailbox

    port = ldap_server.free_port()
    app = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}", MAIL_MAX_ATTEMPTS=1)
    put_in_outbox(app, "bob@demo.chatons.org")
    assert send_queued(app) == (0, 1)  # the server is down: given up at once
    [dead] = outbox(app)
    staff = _staff(app)
    # Still down: sending again says so, and the letter is back in the list with its reason.
    page = _staff_post(staff, "retry", message=dead.id).get_data(as_text=True)
    assert "1 message a de nouveau été refusé" in page
    assert "bob@demo.chatons.org" in page and "ConnectionRefusedError" in page
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        page = _staff_post(staff, "retry", message=dead.id).get_data(as_text=True)
    finally:
        controller.stop()
    assert "1 message a été envoyé" in page
    assert [m["To"] for m in mailbox.messages] == ["bob@demo.chatons.org"]
    assert mailbox.messages[0]["Subject"] == "Votre ticket"
    assert outbox(app) == []
    assert 'id="undelivered-title"' not in staff.get("/staff/").get_data(as_text=True)
    with session_scope(app) as session:
        [event, *_] = audit_events(session, "mail.dead_letters_retried")
        assert event.actor_id is not None and event.details_dict["messages"] == [dead.id]


def test_sending_all_again_sends_every_dead_letter_in_english_too(make_app, smtp):
    app = make_app(SMTP_URL=smtp.url)
    _dead_letters_for(app, "bob@demo.chatons.org", "alice@demo.chatons.org")
    staff = _staff(app)
    staff.get("/language/en", headers={"Referer": "/staff/"})
    page = _staff_post(staff, "retry").get_data(as_text=True)
    assert "2 messages were sent." in page
    assert sorted(m["To"] for m in smtp.messages) == [
        "alice@demo.chatons.org",
        "bob@demo.chatons.org",
    ]


def test_staff_discard_one_dead_letter_or_all_and_it_is_audited(make_app, smtp):
    app = make_app(SMTP_URL=smtp.url)
    first, *_rest = _dead_letters_for(
        app, "bob@demo.chatons.org", "alice@demo.chatons.org", "zoe@demo.chatons.org"
    )
    staff = _staff(app)
    page = _staff_post(staff, "discard", message=first).get_data(as_text=True)
    assert "1 courriel non distribué a été supprimé" in page
    assert "bob@demo.chatons.org" not in page and "zoe@demo.chatons.org" in page
    # The same button again (a second tab, a double click): nothing left, said plainly.
    page = _staff_post(staff, "discard", message=first).get_data(as_text=True)
    assert "rien n\u2019a été fait" in page
    page = _staff_post(staff, "discard").get_data(as_text=True)
    assert "2 courriels non distribués ont été supprimés" in page
    assert outbox(app) == [] and smtp.messages == []
    with session_scope(app) as session:
        events = audit_events(session, "mail.dead_letters_discarded")
        assert sorted(len(e.details_dict["messages"]) for e in events) == [1, 2]


def test_dead_letter_buttons_never_show_the_body_and_refuse_bad_choices(make_app):
    app = make_app()
    _dead_letters_for(app, "bob@demo.chatons.org")
    staff = _staff(app)
    page = staff.get("/staff/").get_data(as_text=True)
    assert "Votre ticket" in page and "Bonjour" not in page
    for bad in ("abc", "1" * 30, "-1"):
        answer = _staff_post(staff, "retry", message=bad)
        assert answer.status_code == 200
        assert "Choisissez un message" in answer.get_data(as_text=True)
    assert len(outbox(app)) == 1
    # Without the CSRF token, or as a non-staff person, nothing happens.
    assert staff.post("/staff/mail/undelivered/discard").status_code == 400
    person = app.test_client()
    assert do_login(person, "alice", "demo").status_code == 302
    token = csrf_token(person, "/")
    answer = person.post("/staff/mail/undelivered/discard", data={"csrf_token": token})
    assert answer.status_code == 403
    assert len(outbox(app)) == 1


def test_every_kind_of_mail_reads_right_in_a_mail_client(make_app, smtp, tmp_path):
    """Each kind of mail the panel sends, made by its own code, taken raw off the wire.

    A client reads Date and Message-ID on every mail, threading ids and List-Unsubscribe as
    written (never RFC 2047 encoded-words), and the RFC 8058 one-click header beside it.
    """
    from mail_checks import problems, raw_headers
    from sqlalchemy import event

    from app.staff import MAIL_PURPOSES

    app = make_app(
        SMTP_URL=smtp.url,
        MAIL_FROM="panel@chatons-du-demo.example",
        # A long public address: List-Unsubscribe is then well over 78 characters.
        BASE_URL="https://services.chatons-du-demo.example/espace-membres/panneau",
        TRUSTED_HOSTS=["localhost"],
        SUPPORT_STAFF_EMAIL="team@demo.chatons.org",
        SUPPORT_REPLY_ADDRESS="support@demo.chatons.org",
        SUPPORT_ATTACHMENT_DIR=str(tmp_path / "attachments"),
        SUPPORT_CONTACT_FORM=True,
        DELETION_GRACE_DAYS=0,
    )
    queued: list[str] = []

    def note(_mapper, _connection, row) -> None:
        queued.append(row.purpose)

    event.listen(OutgoingMail, "after_insert", note)
    try:
        _make_every_kind_of_mail(app, tmp_path)
    finally:
        event.remove(OutgoingMail, "after_insert", note)

    used = {p for p in MAIL_PURPOSES if re.search(rf'"{re.escape(p)}"', _app_sources())}
    assert used <= set(queued), f"kinds of mail this test does not make: {used - set(queued)}"
    assert len(smtp.raw) == len(queued), "every queued mail was sent"
    for raw in smtp.raw:
        assert problems(raw) == [], raw.decode(errors="replace")[:1500]
    news = next(raw for raw in smtp.raw if b"List-Unsubscribe:" in raw)
    [unsubscribe] = [v for n, v in raw_headers(news) if n == "List-Unsubscribe"]
    assert len(unsubscribe) > 78  # long enough to have been folded as encoded-words before
    assert unsubscribe.startswith("<https://services.chatons-du-demo.example/espace-membres/")
    ids = {v for raw in smtp.raw for n, v in raw_headers(raw) if n == "Message-ID"}
    assert len(ids) == len(smtp.raw)
    assert all(i.endswith("@chatons-du-demo.example>") for i in ids)


def _make_every_kind_of_mail(app, tmp_path: Path) -> None:
    from sqlalchemy import update
    from support.test_mail import open_as, staff_answer

    from app.deletion.models import DeletionRequest
    from app.deletion.requests import refuse_deletion
    from app.incidents import operations as incidents
    from app.incidents import subscriptions as subs
    from app.incidents.mailing import notify
    from app.support import operations as support
    from app.support.mail_cli import receive
    from app.support.models import Ticket
    from app.support.reply_address import STAFF, reply_address
    from app.support.settings import SupportSettings

    def send_everything() -> None:
        with session_scope(app) as session:
            session.execute(update(OutgoingMail).values(next_attempt_at=None))
        send_queued(app, limit=1000)

    def form(client, path: str, data: dict, page: str | None = None):
        return client.post(path, data={**data, "csrf_token": csrf_token(client, page or path)})

    # Support: the team's mail, the answer, the requester's reply, the auto-close.
    web = app.test_client()
    open_as(web, "alice")
    staff_answer(web, 1, "Try again now, please.")
    do_login(web, "alice", "demo")
    assert form(web, "/support/1/reply", {"body": "Still empty."}, "/support/1").status_code == 302
    web.delete_cookie("panel_session")
    staff_answer(web, 1, "Fixed on our side.")
    long_ago = utcnow() - timedelta(days=60)
    with session_scope(app) as session:
        session.execute(update(Ticket).values(state_changed_at=long_ago))
    with app.app_context(), session_scope(app) as session:
        assert support.auto_close(session, SupportSettings.from_config(app.config)) == 1
    # The public contact form, and a mail to the support address that is not a reply.
    visitor = app.test_client()
    page = visitor.get("/support/contact").get_data(as_text=True)
    token = re.search(r'name="contact-csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    sent = visitor.post(
        "/support/contact",
        data={
            "contact-email": "lea@example.org",
            "contact-subject": "Une question",
            "contact-body": "Bonjour, je voudrais une adresse pour mon association.",
            "contact-website": "",
            "contact-csrf_token": token.group(1),
        },
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)[:400]
    # A reply to ticket 1's address from someone who is not on it: refused, and told so
    # at the envelope sender (a mail without a valid token gets no answer at all).
    with app.app_context():
        address = reply_address(app.config, 1, STAFF)
    assert address
    stray = EmailMessage()
    stray["From"] = "someone@elsewhere.example"
    stray["To"] = address
    stray["Subject"] = "Hello"
    stray["Message-ID"] = "<stray-1@client.example>"
    stray.set_content("Is anyone there?")
    assert receive(app, stray.as_bytes(), envelope_sender="someone@elsewhere.example").answered

    # Deletion: received, cancelled, refused; then carried out, with its receipt.
    zoe = app.test_client()
    do_login(zoe, "zoe", "demo")

    def ask_deletion() -> None:
        asked = form(zoe, "/account/deletion", {"confirm_login": "zoe"})
        assert asked.status_code == 302, asked.get_data(as_text=True)[:400]

    ask_deletion()
    assert form(zoe, "/account/deletion/cancel", {}, "/account/deletion").status_code == 302
    ask_deletion()
    with app.app_context(), session_scope(app) as session:
        request = session.scalar(
            select(DeletionRequest).where(DeletionRequest.state == "requested")
        )
        refuse_deletion(session, request, actor_id=request.account_id, reason="A legal hold.")
    ask_deletion()
    with session_scope(app) as session:
        request_id = session.scalar(
            select(DeletionRequest.id).where(DeletionRequest.state == "requested")
        )
    staff = app.test_client()
    do_login(staff, "camille", "demo")
    page = f"/staff/deletions/{request_id}"
    assert form(staff, f"{page}/approve", {}, page).status_code == 302
    for step_id in re.findall(rf"{page}/steps/(\d+)/done", staff.get(page).get_data(as_text=True)):
        prefix = f"step-{step_id}"
        done = staff.post(
            f"{page}/steps/{step_id}/done",
            data={f"{prefix}-csrf_token": csrf_token(staff, page), f"{prefix}-comment": "Done."},
        )
        assert done.status_code == 302

    # Incidents: a visitor's confirmation, then news to a subscriber.
    answer = form(
        app.test_client(), "/incidents/subscribe", {"email": "lea@example.org", "services": []}
    )
    assert answer.status_code == 200
    with session_scope(app) as session:
        row = subs.request_subscription(
            session, email="sam@example.org", services=[], known_services=[], language="en"
        )
        subs.confirm_subscription(session, row)
        incidents.open_incident(
            session,
            title="La messagerie ne répond plus, ni en envoi ni en réception, depuis ce matin",
            services=["mail"],
            impact="major",
            visibility="public",
            started_at=None,
            body=None,
            known_services=["mail"],
            actor=incidents.CLI,
        )
    notify(app)
    # New terms: every person with an account is told, by list mail.
    from app.legal import services as legal
    from app.legal import starter
    from app.legal.notifications import announce_version
    from app.profile.loading import current_profile

    with app.test_request_context(), session_scope(app) as session:
        starter.seed(session, current_profile(), app.config["BABEL_DEFAULT_TIMEZONE"])
        version = legal.latest_version(session, "terms")
        assert version is not None
        assert announce_version(
            session,
            version,
            title=lambda: "Conditions générales d'utilisation",
            diff_url=None,
            version_url="https://services.chatons-du-demo.example/espace-membres/panneau/legal/terms",
            languages=["fr", "en"],
        )
        # A service closing: the first reminder, with its one-click unsubscribe.
        from datetime import date

        from app.disclosure.closing import send_reminders
        from app.profile.model import Closing
        from app.profile.texts import LocalizedText

        profile = current_profile()
        today = date(2031, 1, 1)
        closing = Closing(date=date(2031, 3, 1), message=LocalizedText.of("Le cloud ferme.", "fr"))
        services = tuple(s.model_copy(update={"closing": closing}) for s in profile.services[:1])
        closing_profile = profile.model_copy(update={"services": services})
        assert send_reminders(session, closing_profile, today)
    # Moving house: the import is done, she is told in her language.
    from moving.moving_support import (
        FakeImporter,
        archive_bytes,
        confirm,
        run_import,
        start_upload,
        use_importer,
    )

    use_importer(app, FakeImporter("cloud", tmp_path / "imported"))
    archive = tmp_path / "export.zip"
    archive.write_bytes(archive_bytes({"services/cloud/notes.txt": b"hello\n"}))
    job_id = start_upload(app, "alice", archive)
    confirm(app, job_id)
    assert run_import(app, job_id).state == "done"
    send_everything()


def _app_sources() -> str:
    root = Path(__file__).resolve().parents[1] / "app"
    return "\n".join(path.read_text() for path in root.rglob("*.py"))


def test_without_smtp_the_demo_prints_each_mail_and_keeps_it_as_an_eml_file(
    make_app, tmp_path, caplog
):
    from email import message_from_bytes
    from email.policy import default

    from mail_checks import problems

    app = make_app(MAIL_DIR=str(tmp_path / "mail"))
    with session_scope(app) as session:
        session.add(
            OutgoingMail(
                recipient="lea@example.org",
                subject="Confirmez votre abonnement à la météo des services",
                body="Bonjour,\nsuivez ce lien : http://127.0.0.1:5000/incidents/x\n",
                purpose="incidents.subscription_confirm",
                attempts=0,
                created_at=utcnow(),
            )
        )
    caplog.set_level(logging.WARNING, logger="app.mail")
    assert send_queued(app) == (1, 0)
    [kept] = (tmp_path / "mail").glob("*.eml")
    assert problems(kept.read_bytes()) == []
    message = message_from_bytes(kept.read_bytes(), policy=default)
    assert message["Subject"] == "Confirmez votre abonnement à la météo des services"
    assert "http://127.0.0.1:5000/incidents/x" in message.get_content()
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    shown = record.getMessage()
    assert "Confirmez votre abonnement à la météo" in shown and str(kept) in shown
    assert "suivez ce lien : http://127.0.0.1:5000/incidents/x" in shown
