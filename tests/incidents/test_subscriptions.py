"""Incident mail: double opt-in for visitors, one click for users, grouped news, RFC 8058."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.db import session_scope, utcnow
from app.incidents import subscriptions as subs
from app.incidents.mailing import notify, purge
from app.mail import OutgoingMail
from helpers import CSRF_RE


def _token(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _link(body: str, fragment: str) -> str:
    match = re.search(r"(http://\S*" + re.escape(fragment) + r"\S*)", body)
    assert match, f"no link with {fragment} in:\n{body}"
    return match.group(1).replace("http://127.0.0.1:5000", "")


def visitor_subscribes(client: Any, email: str, services: list[str], lang: str = "fr") -> Any:
    page = client.get(
        "/incidents/subscribe?" + "&".join(f"service={s}" for s in services),
        headers={"Accept-Language": lang},
    )
    assert page.status_code == 200
    return client.post(
        "/incidents/subscribe",
        data={
            "csrf_token": _token(page.get_data(as_text=True)),
            "email": email,
            "services": services,
        },
        headers={"Accept-Language": lang},
    )


def subscribers(app: Flask) -> int:
    with session_scope(app) as session:
        return subs.count_confirmed(session)


def test_a_visitor_subscribes_confirms_gets_french_news_and_unsubscribes_in_one_click(
    make_app: Any, smtp: Any, journal_for: Any
) -> None:
    app = make_app(SMTP_URL=smtp.url, INCIDENTS_MAIL_GROUP_MINUTES=5)
    journal = journal_for(app)
    visitor = app.test_client()
    # The journal itself gives a visitor no cookie; only the form does.
    assert "Set-Cookie" not in visitor.get("/incidents?service=mail").headers
    answer = visitor_subscribes(visitor, "Lea@Example.org", ["mail"])
    assert answer.status_code == 200
    assert "Vérifiez votre boîte" in answer.get_data(as_text=True)
    [confirm_mail] = smtp.messages
    assert confirm_mail["To"] == "lea@example.org"
    assert subscribers(app) == 0  # kept unconfirmed only
    confirm = _link(confirm_mail.get_content(), "/incidents/subscription/confirm/")

    # Opening the link (a mail scanner does) confirms nothing; the button does.
    stranger = app.test_client()
    page = stranger.get(confirm, headers={"Accept-Language": "fr"})
    assert subscribers(app) == 0
    done = stranger.post(confirm, data={"csrf_token": _token(page.get_data(as_text=True))})
    assert done.status_code == 302
    assert subscribers(app) == 1

    incident = journal.open(title="La messagerie ne répond plus", services_=("mail",))
    journal.open(title="Pad slow", services_=("pad",))  # not a chosen service
    queued, sent, failed = notify(app)
    assert (queued, sent, failed) == (1, 1, 0)
    news = smtp.messages[-1]
    assert "La messagerie ne répond plus" in news["Subject"]
    body = news.get_content()
    assert "Nouvelles d'un incident sur" in body
    assert "Se désabonner en un clic" in body
    assert f"/incidents/{incident}" in body
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = news["List-Unsubscribe"].strip("<>").replace("http://127.0.0.1:5000", "")

    # RFC 8058: the mail client POSTs without cookie nor CSRF token; the token decides.
    assert app.test_client().post("/incidents/unsubscribe/forged-token").status_code == 404
    gone = app.test_client().post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 200
    assert subscribers(app) == 0
    journal.update(incident, body="Toujours en panne.")
    assert notify(app) == (0, 0, 0)


def test_updates_close_together_make_one_mail_and_the_first_leaves_at_once(
    app: Flask, journal: Any, smtp: Any, login_as: Any, post_form: Any
) -> None:
    app.config["SMTP_URL"] = smtp.url
    login_as("bob")
    response = post_form("/incidents/subscribe", {}, token_from="/incidents")
    assert response.status_code == 302
    assert smtp.messages == []  # a signed-in person needs no confirmation mail
    incident = journal.open(title="Cloud down", services_=("cloud",))
    assert notify(app)[0] == 1
    journal.update(incident, body="Found the disk.", status="identified")
    journal.update(incident, body="Replaced the disk.", status="monitoring")
    assert notify(app)[0] == 0  # within the grouping window
    assert notify(app, now=utcnow() + timedelta(minutes=6))[0] == 1
    first, grouped = smtp.messages
    assert first["To"] == "bob@demo.chatons.org" and "Cloud down" in first["Subject"]
    text = grouped.get_content()
    assert "Found the disk." in text and "Replaced the disk." in text


def test_planned_maintenance_is_mailed_when_announced_and_when_it_starts(
    app: Flask, journal: Any, smtp: Any, login_as: Any, post_form: Any
) -> None:
    app.config["SMTP_URL"] = smtp.url
    login_as("bob")
    post_form("/incidents/subscribe", {}, token_from="/incidents")
    start = utcnow() + timedelta(hours=1)
    journal.maintenance(title="Pad upgrade", start=start)
    notify(app)
    assert notify(app, now=start + timedelta(minutes=1))[0] == 1
    assert notify(app, now=start + timedelta(minutes=30))[0] == 0
    announced, starting = smtp.messages
    assert "Pad upgrade" in announced["Subject"]
    assert "begins now" in starting.get_content()


def test_visitor_form_refuses_a_bad_address_and_mails_an_address_at_most_once_an_hour(
    make_app: Any, smtp: Any
) -> None:
    app = make_app(SMTP_URL=smtp.url)
    client = app.test_client()
    bad = visitor_subscribes(client, "not an address", [], lang="en")
    assert bad.status_code == 422 and "like name@example.org" in bad.get_data(as_text=True)
    for _ in range(3):
        assert visitor_subscribes(client, "lea@example.org", [], lang="en").status_code == 200
    assert len(smtp.messages) == 1


def test_unconfirmed_addresses_are_deleted_after_48_hours(app: Flask) -> None:
    with session_scope(app) as session:
        subs.request_subscription(
            session,
            email="old@example.org",
            services=[],
            known_services=["mail"],
            language="fr",
            now=utcnow() - timedelta(hours=49),
        )
        subs.request_subscription(
            session, email="new@example.org", services=[], known_services=["mail"], language="fr"
        )
    assert purge(app) == 1
    with session_scope(app) as session:
        left = session.scalars(select(subs.IncidentSubscription.email)).all()
    assert left == ["new@example.org"]


def test_a_users_subscription_shows_in_their_data_and_goes_with_their_account(
    app: Flask, login_as: Any, post_form: Any, client: Any
) -> None:
    login_as("alice")
    post_form("/incidents/subscribe", {"services": ["mail"]}, token_from="/incidents")
    page = client.get("/account/data").get_data(as_text=True)
    assert "alice@demo.chatons.org" in page
    with session_scope(app) as session:
        from app.accounts.models import Account

        account = session.scalars(select(Account).where(Account.uid == "alice")).one()
        from app.incidents.mailing import IncidentMailSection

        section = IncidentMailSection()
        [entry] = list(section.export(session, account))
        assert b'"mail"' in b"".join(entry.chunks)
        section.delete(session, account)
    with session_scope(app) as session:
        assert session.scalar(select(func.count(subs.IncidentSubscription.id))) == 0


def test_stats_count_subscribers_and_hide_small_numbers(app: Flask, client: Any) -> None:
    with session_scope(app) as session:
        for n in range(3):
            row = subs.request_subscription(
                session,
                email=f"p{n}@example.org",
                services=[],
                known_services=[],
                language="en",
            )
            assert row is not None
            subs.confirm_subscription(session, row)
    page = client.get("/stats", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "People who receive incident mail" in page
    assert "&lt; 5" in page or "< 5" in page
    with session_scope(app) as session:
        assert session.scalar(select(func.count(OutgoingMail.id))) == 0


def test_a_staff_change_wakes_the_worker_and_sends_nothing_in_the_request(
    make_app: Any, smtp: Any, tmp_path: Any
) -> None:
    from app import tasks
    from helpers import do_login

    app = make_app(SMTP_URL=smtp.url, QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    with session_scope(app) as session:
        row = subs.request_subscription(
            session, email="lea@example.org", services=[], known_services=[], language="fr"
        )
        assert row is not None
        subs.confirm_subscription(session, row)
    staff = app.test_client()
    do_login(staff, "camille", "demo")
    page = staff.get("/staff/incidents/new").get_data(as_text=True)
    response = staff.post(
        "/staff/incidents/new",
        data={
            "csrf_token": _token(page),
            "title": "Mail down",
            "services": ["mail"],
            "impact": "major",
            "visibility": "public",
        },
    )
    assert response.status_code == 302
    assert smtp.messages == []
    names = [t.name for t in tasks.queue(app).pending()]
    assert "incidents.notify" in names
    tasks.queue(app).flush()  # the worker's job, then:
    assert notify(app)[1] == 1
    assert smtp.messages[0]["To"] == "lea@example.org"


def test_each_service_offers_its_incident_mail_without_a_cookie(client: Any) -> None:
    response = client.get("/services", headers={"Accept-Language": "en"})
    assert "Set-Cookie" not in response.headers
    page = response.get_data(as_text=True)
    assert 'href="/incidents/subscribe?service=mail"' in page
    form = client.get("/incidents/subscribe?service=mail").get_data(as_text=True)
    assert re.search(r'value="mail"[^>]*checked|checked[^>]*value="mail"', form)


def test_large_lists_are_sent_at_a_throttled_pace(
    make_app: Any, smtp: Any, journal_for: Any
) -> None:
    app = make_app(SMTP_URL=smtp.url, INCIDENTS_MAIL_PER_RUN=2)
    with session_scope(app) as session:
        for n in range(3):
            row = subs.request_subscription(
                session, email=f"p{n}@example.org", services=[], known_services=[], language="en"
            )
            assert row is not None
            subs.confirm_subscription(session, row)
    journal_for(app).open(title="Everything is down")
    assert notify(app) == (3, 2, 0)
    assert notify(app) == (0, 1, 0)
    assert sorted(m["To"] for m in smtp.messages) == [
        "p0@example.org",
        "p1@example.org",
        "p2@example.org",
    ]


def test_a_visitors_confirmation_mail_leaves_from_the_worker_not_the_request(
    make_app: Any, smtp: Any, tmp_path: Any
) -> None:
    """Sending inside the request would make a new address answer more slowly than one
    already subscribed (a timing oracle): both answers only wake the worker."""
    from app import tasks

    app = make_app(SMTP_URL=smtp.url, QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    for _ in range(2):  # a new address, then the same one again (nothing more to send)
        answer = visitor_subscribes(app.test_client(), "lea@example.org", [])
        assert answer.status_code == 200
    assert smtp.messages == []
    huey = tasks.queue(app)
    waiting = huey.pending()
    assert [t.name for t in waiting] == ["mail.send_now", "mail.send_now"]
    for task in waiting:  # the worker's job
        huey.execute(task)
    [confirm] = smtp.messages
    assert confirm["To"] == "lea@example.org"
    assert "/incidents/subscription/confirm/" in confirm.get_content()
