"""The route walker: a panel with something on every page, and the URL of every HTML page.

The page-wide checks (390 px phone layout, Nu HTML Checker) use it so a new route is
checked the day it is added: `page_urls` fails on a GET route it does not know how to fill.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import Account
from app.accounts.services import sync_account
from app.connectors.base import service_connectors
from app.db import session_scope, utcnow
from app.deletion import requests as deletion
from app.disclosure import closing
from app.incidents import operations as incidents
from app.incidents import subscriptions
from app.legal import services as legal
from app.legal import starter
from app.mail import OutgoingMail
from app.profile.loading import current_profile
from app.security import view_flag
from app.support import visitors
from app.support.models import CannedReply
from app.support.settings import SupportSettings
from app.transparency import services as transparency
from helpers import csrf_token, do_login

# GET routes that answer something other than an HTML page (files, feeds, redirects).
NOT_PAGES = {
    "static",
    "theme.theme_css",
    "health.healthz",
    "incidents.atom_feed",
    "incidents.json_feed",
    "hosting.hosting_json",
    "hosting.organization_properties",
    "hosting.service_properties",
    "hosting.organization_metrics",
    "hosting.service_metrics",
    "transparency.canary_text",
    "accounts.choose_language",
    "support.attachment",
    "moving.job_progress",
}
USER, STAFF, LEAVING = "alice", "camille", "bob"
# Who signs in for each role; "leaving" is a user whose deletion is under way.
LOGINS = {"visitor": None, "user": USER, "staff": STAFF, "leaving": LEAVING}
ROLES = tuple(LOGINS)


@dataclass
class Seeded:
    incident: int
    ticket: int
    canned_reply: int
    deletion: int
    authority_request: int
    # A visitor's incident mail subscription: the signed token of each of its links.
    subscription_tokens: dict[str, str]
    # A ticket from the public contact form (no account).
    visitor_ticket: int = 0
    # The user's account (staff pages about one account, such as its sessions).
    account: int = 0
    # The one-click link that stops the user's closing reminders.
    closing_token: str = ""
    # The user's imports (moving house): one waiting for her confirmation, one finished.
    import_planned: int = 0
    import_done: int = 0


def seed(app: Flask) -> Seeded:
    """Something on every page: incidents, a ticket with a reply, terms versions, requests."""

    now = utcnow()
    # The public contact form is off by default: the walker shows it on every page it is on.
    app.config["SUPPORT_CONTACT_FORM"] = True
    with app.test_request_context():
        known = [s.slug for s in current_profile().services]
    with app.app_context(), session_scope(app) as session:
        ongoing = incidents.open_incident(
            session,
            title="Mail is slow",
            services=[known[0]],
            impact="minor",
            visibility="public",
            started_at=now - timedelta(hours=3),
            body="Messages take an hour to arrive.",
            known_services=known,
            actor=incidents.CLI,
        )
        incidents.post_update(session, ongoing.id, body="We found the cause.", actor=incidents.CLI)
        past = incidents.open_incident(
            session,
            title="Cloud unreachable",
            services=known[1:2] or known[:1],
            impact="major",
            visibility="public",
            started_at=now - timedelta(days=20),
            body="The cloud does not answer.",
            known_services=known,
            actor=incidents.CLI,
            now=now - timedelta(days=20),
        )
        incidents.resolve_incident(session, past.id, body="Back.", actor=incidents.CLI)
        incidents.schedule_maintenance(
            session,
            title="Server upgrade",
            services=known[-1:],
            window_start=now + timedelta(days=2),
            window_end=now + timedelta(days=2, hours=2),
            visibility="public",
            known_services=known,
            actor=incidents.CLI,
        )
        today = transparency.local_today("Europe/Paris")
        request = transparency.record_authority_request(
            session,
            transparency.RequestDetails(
                received_on=today - timedelta(days=10),
                authority_kind="judicial",
                legal_basis="Article 60-1 of the code of criminal procedure",
                request_kind="identification",
                summary="Identity of the holder of one mail address.",
                response="complied",
                response_summary="We gave the name and sign-up date we hold.",
                answered_on=today - timedelta(days=5),
                accounts_concerned=1,
            ),
            actor_id=None,
            today=today,
        )
        transparency.publish_canary(
            session,
            statement_date=today - timedelta(days=30),
            next_update_by=today + timedelta(days=60),
            statement="We have received no secret order.",
            signed_text=None,
            signing_key=None,
            actor_id=None,
            today=today,
        )
        incident_id, request_id = ongoing.id, request.id
        subscription = subscriptions.request_subscription(
            session,
            email="visitor@example.org",
            services=known[:1],
            known_services=known,
            language="fr",
        )
        assert subscription is not None
        subscriptions.confirm_subscription(session, subscription)
        secret = str(app.config["SECRET_KEY"])
        tokens = {
            purpose: subscriptions.make_token(secret, purpose, subscription)
            for purpose in ("confirm", "manage", "unsubscribe")
        }

    ticket, canned = _seed_support(app, known[0])
    with app.test_request_context(), session_scope(app) as session:
        visitor_ticket = visitors.open_visitor_ticket(
            session,
            SupportSettings.from_config(app.config),
            email="zoe@example.net",
            subject="Can I join?",
            body="I would like an account for my association.",
            language="fr",
        ).id
    deletion_id = _seed_deletion(app)
    import_planned, import_done = _seed_imports(app)
    _seed_dead_letters(app)
    with session_scope(app) as session:
        user = session.scalars(select(Account).where(Account.uid == USER)).one()
        closing_token = closing.make_token(str(app.config["SECRET_KEY"]), user.id, user.email)

    # Terms last: from here on, signing in leads to the acceptance gate first.
    with app.test_request_context(), session_scope(app) as session:
        profile = current_profile()
        starter.seed(session, profile, app.config["BABEL_DEFAULT_TIMEZONE"])
        first = legal.latest_version(session, "terms")
        assert first is not None
        texts = {
            language: legal.DraftText(
                first.body(language) + "\n\n## Modération\n\nNous modérons les pads publics.\n",
                "Une section sur la modération.",
            )
            for language in ("fr", "en")
        }
        legal.publish_version(
            session,
            "terms",
            texts,
            effective_on=None,
            zone=ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"]),
            publisher=None,
        )
    with session_scope(app) as session:
        account = session.scalar(select(Account.id).where(Account.uid == USER)) or 0
    return Seeded(
        incident_id,
        ticket,
        canned,
        deletion_id,
        request_id,
        tokens,
        visitor_ticket,
        account,
        closing_token,
        import_planned,
        import_done,
    )


def _seed_support(app: Flask, service: str) -> tuple[int, int]:
    """A ticket from the user with a picture, a staff reply, and one saved reply."""
    user = app.test_client()
    assert do_login(user, USER, "demo").status_code == 302
    token = csrf_token(user, f"/support/new?service={service}")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(50)
    response = user.post(
        "/support/new",
        data={
            "csrf_token": token,
            "subject": "Cannot sign in to the cloud from my phone",
            "service": service,
            "category": "problem",
            "body": "Since yesterday the app says my password is wrong.",
            "attachments": [(io.BytesIO(png), "screen.png")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    ticket = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])

    staff = app.test_client()
    assert do_login(staff, STAFF, "demo").status_code == 302
    page = f"/staff/tickets/{ticket}"
    response = staff.post(
        f"{page}/reply",
        data={"csrf_token": csrf_token(staff, page), "body": "Which phone do you use?"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    response = staff.post(
        "/staff/tickets/replies",
        data={
            "csrf_token": csrf_token(staff, "/staff/tickets/replies"),
            "title": "Password reset",
            "body": "You can reset your password from the portal.",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with session_scope(app) as session:
        canned = session.scalar(select(CannedReply.id))
    assert canned is not None
    return ticket, canned


def _seed_dead_letters(app: Flask) -> None:
    """Two mails given up, so that the staff home shows them with their buttons."""
    with session_scope(app) as session:
        for recipient in ("bob@demo.chatons.org", "zoe@demo.chatons.org"):
            session.add(
                OutgoingMail(
                    recipient=recipient,
                    subject="[#1] L\u2019équipe a répondu à votre demande",
                    body="Bonjour\n",
                    purpose="support.reply",
                    attempts=10,
                    last_error="SMTPRecipientsRefused: 550 mailbox unavailable",
                    created_at=utcnow(),
                    dead_at=utcnow(),
                )
            )
        # The visitor's receipt was refused for good: their ticket says so to staff.
        receipt = session.scalar(
            select(OutgoingMail).where(OutgoingMail.purpose == "support.visitor_received")
        )
        if receipt is not None:
            receipt.attempts = 1
            receipt.last_attempt_at = receipt.dead_at = utcnow()
            receipt.last_error = (
                "SMTPRecipientsRefused: {'zoe@example.net': (550, b'5.1.1 User unknown')}"
            )


def _seed_imports(app: Flask) -> tuple[int, int]:
    """The user's imports: a plan to confirm, and a finished one with a refusal."""
    from app.moving.models import ImportJob, ImportPart

    counts = {"items_done": 0, "bytes_done": 0, "imported": 0, "skipped": 0, "refused": 0}
    ids = []
    with session_scope(app) as session:
        user = session.scalars(select(Account).where(Account.uid == USER)).one()
        for state in ("done", "planned"):
            job = ImportJob(
                account_id=user.id,
                source="upload",
                state=state,
                cancel_requested=False,
                created_at=utcnow(),
                attempts=1 if state == "done" else 0,
                items_total=3,
                bytes_total=3000,
                items_done=3 if state == "done" else 0,
                bytes_done=3000 if state == "done" else 0,
                archive_bytes=4000,
            )
            job.parts = [
                ImportPart(
                    position=0, key="services/cloud/", kind="files", name="",
                    source_service="cloud", service_slug="cloud", items_total=2,
                    bytes_total=2000, state="done" if state == "done" else "pending",
                    **{**counts, **({"items_done": 2, "bytes_done": 2000, "imported": 1,
                                     "skipped": 1} if state == "done" else {})},
                ),
                ImportPart(
                    position=1, key="services/cloud/b.mbox", kind="mail", name="Archives",
                    source_service="cloud", service_slug="cloud", items_total=1,
                    bytes_total=1000, state="done" if state == "done" else "pending",
                    refusals=[{"item": "Archives #1", "reason": "a message without headers"}]
                    if state == "done" else None,
                    **{**counts, **({"items_done": 1, "bytes_done": 1000, "refused": 1}
                                    if state == "done" else {})},
                ),
                ImportPart(
                    position=2, key="services/chat/", kind=None, name="", source_service="chat",
                    service_slug=None, note="Chat history: no service here imports it.",
                    state="left", items_total=1, bytes_total=10, **counts,
                ),
            ]  # fmt: skip
            session.add(job)
            session.flush()
            ids.append(job.id)
    return ids[1], ids[0]


def _seed_deletion(app: Flask) -> int:

    with app.test_request_context(), session_scope(app) as session:
        person = app.extensions["panel_directory"].lookup(LEAVING)
        account = sync_account(session, person, is_staff=False)
        request = deletion.request_deletion(
            session,
            account,
            confirm_login=LEAVING,
            plan=deletion.plan_services(current_profile(), service_connectors(app)),
            settings=deletion.DeletionSettings.from_config(app.config),
            page_url="http://panel.test/account/deletion",
        )
        return int(request.id)


def page_urls(app: Flask, seeded: Seeded, role: str) -> list[str]:
    """Every HTML page a person of this role can open, with real ids and useful variants."""

    if role == "leaving":  # the other pages are the user's: only what differs
        return ["/", "/account/deletion"]
    values = {
        "incident_id": seeded.incident,
        "ticket_id": seeded.ticket,
        "reply_id": seeded.canned_reply,
        "account_id": seeded.account,
        "number": 1,
        "document": "terms",
        "job_id": seeded.import_planned,
    }
    urls: list[str] = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
                continue
            if role == "visitor" and not (
                view_flag(rule.endpoint, "public") or view_flag(rule.endpoint, "open_to_visitors")
            ):
                continue
            if role != "staff" and view_flag(rule.endpoint, "staff_only"):
                continue
            args: dict[str, Any] = {}
            for name in rule.arguments:
                if name == "request_id":
                    args[name] = (
                        seeded.deletion
                        if rule.endpoint.startswith("deletion.")
                        else seeded.authority_request
                    )
                elif name == "token" and rule.endpoint == "hosting.closing_unsubscribe":
                    args[name] = seeded.closing_token
                elif name == "token":
                    purpose = rule.endpoint.rsplit(".", 1)[-1].split("_")[0]
                    args[name] = seeded.subscription_tokens[
                        {"one": "unsubscribe"}.get(purpose, purpose)
                    ]
                elif name in values:
                    args[name] = values[name]
                else:
                    raise AssertionError(f"the walker cannot fill <{name}> of {rule.rule}")
            urls.append(url_for(rule.endpoint, **args))
        # Pages that change with their query: the other document, a diff, a filled step.
        extra = [
            url_for("legal.version", document="privacy", number=1),
            url_for("legal.history", document="privacy"),
            url_for("legal.diff", document="terms", **{"from": 1, "to": 2}),
            url_for("incidents.journal", service="mail"),
        ]
        if role != "visitor":
            extra += [
                url_for("support.new_ticket", service="mail"),
                url_for("support.new_ticket", step=1),
            ]
        if role == "user":
            extra += [url_for("moving.job_page", job_id=seeded.import_done)]
        if role == "staff":
            extra += [
                url_for("deletion.staff_queue", show="cancelled"),
                url_for(
                    "support.staff_ticket", ticket_id=seeded.ticket, canned=seeded.canned_reply
                ),
                url_for("support.staff_ticket", ticket_id=seeded.visitor_ticket),
            ]
    return urls + extra


def sign_in(client: FlaskClient, login: str) -> str | None:
    """Sign in through the form and accept the pending terms; returns the acceptance page."""
    assert do_login(client, login, "demo").status_code == 302
    page = client.get("/legal/accept")
    body = None
    if page.status_code == 200:
        body = page.get_data(as_text=True)
        versions = re.search(r'name="versions"[^>]*value="([^"]*)"', body)
        assert versions, "no versions on the acceptance page"
        response = client.post(
            "/legal/accept",
            data={"csrf_token": csrf_token(client, "/legal/accept"), "versions": versions[1]},
        )
        assert response.status_code == 302, response.status_code
    return body


def html_pages(app: Flask, seeded: Seeded) -> dict[str, str]:
    """Every page of every role in both languages, plus forms showing their errors."""
    pages: dict[str, str] = {}
    for language in ("fr", "en"):
        for role in ROLES:
            client = app.test_client()
            client.get(f"/language/{language}")
            login = LOGINS[role]
            if login is not None:
                accept = sign_in(client, login)
                if accept is not None:
                    pages[f"{language} {role} /legal/accept (pending)"] = accept
            for url in page_urls(app, seeded, role):
                response = client.get(url)
                if response.status_code in (301, 302, 303):
                    continue
                if response.mimetype == "text/html":
                    pages[f"{language} {role} {url}"] = response.get_data(as_text=True)
            for name, response in _error_pages(client, role) if role != "leaving" else ():
                pages[f"{language} {role} {name}"] = response.get_data(as_text=True)
    return pages


def _error_pages(client: FlaskClient, role: str) -> list[tuple[str, Any]]:
    """Forms sent wrong, as people do: each must show its errors in valid HTML."""
    pages = [("/no-such-page (404)", client.get("/no-such-page"))]
    if role == "visitor":
        token = csrf_token(client, "/login")
        pages.append(
            (
                "/login (wrong password)",
                client.post("/login", data={"csrf_token": token, "login": "x", "password": "y"}),
            )
        )
        contact = {"contact-csrf_token": token, "contact-subject": "Hello"}
        pages.append(
            (
                "/support/contact (bad address)",
                client.post("/support/contact", data={**contact, "contact-email": "a@b, c@d"}),
            )
        )
        sent = client.post(
            "/support/contact",
            data={**contact, "contact-email": "yves@example.net", "contact-body": "Hi."},
        )
        assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
        pages.append(("/support/contact/sent", client.get("/support/contact/sent")))
        return pages
    token = csrf_token(client, "/account/deletion")
    pages.append(
        (
            "/account/deletion (wrong login)",
            client.post("/account/deletion", data={"csrf_token": token, "confirm_login": "nope"}),
        )
    )
    pages.append(
        (
            "/support/new (empty)",
            client.post("/support/new", data={"csrf_token": token, "service": "mail"}),
        )
    )
    if role == "user":
        # A transfer code is shown once on the page that creates it, then listed.
        created = client.post("/account/export/transfer-codes", data={"csrf_token": token})
        assert created.status_code == 200, created.status_code
        pages.append(("/account/export/transfer-codes (the new code)", created))
        pages.append(("/ (a transfer code listed)", client.get("/")))
        pages.append(("/account/export (a transfer code listed)", client.get("/account/export")))
    if role == "staff":
        pages.append(
            (
                "/staff/incidents/new (empty)",
                client.post("/staff/incidents/new", data={"csrf_token": token}),
            )
        )
    return pages
