"""The closing plan: the notice on the pages, reminders on their dates, where to go next."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from federation_server import Federation, serve_federation
from flask import Flask

from app import mail
from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.disclosure import federation
from app.disclosure.closing import due_stage
from helpers import do_login

TODAY = date.today()


@pytest.fixture
def test_federation(tmp_path: Path) -> Iterator[Federation]:
    yield from serve_federation(tmp_path / "federation")


@pytest.fixture
def closing_app(
    app_with_profile: Callable[..., Flask],
    demo_data: dict[str, Any],
    tmp_path: Path,
) -> Callable[..., Flask]:
    """The demo with its cloud (Nextcloud) closing in 40 days."""

    def build(**config: Any) -> Flask:
        cloud = next(s for s in demo_data["services"] if s["slug"] == "cloud")
        cloud["closing"] = {
            "date": TODAY + timedelta(days=40),
            "message": {
                "fr": "Le cloud ferme faute de bénévoles.",
                "en": "The cloud closes for lack of volunteers.",
            },
        }
        config.setdefault("FEDERATION_CACHE_FILE", str(tmp_path / "federation.json"))
        return app_with_profile(demo_data, **config)

    return build


def test_reminder_stages_follow_the_calendar() -> None:
    day = date(2027, 3, 31)
    assert due_stage(day, day - timedelta(days=60)) == "notice"
    assert due_stage(day, day - timedelta(days=30)) == "month"
    assert due_stage(day, day - timedelta(days=8)) == "month"
    assert due_stage(day, day - timedelta(days=7)) == "week"
    assert due_stage(day, day) == "day"
    assert due_stage(day, day + timedelta(days=1)) is None


def test_the_notice_is_on_every_page_a_person_uses_with_the_export_one_click_away(
    closing_app: Callable[..., Flask],
) -> None:
    client = closing_app().test_client()
    for path in ("/", "/services", "/incidents?service=cloud", "/hosting"):
        page = client.get(path).get_data(as_text=True)
        assert "Le service Cloud ferme le" in page, path
        assert "Le cloud ferme faute de bénévoles." in page, path
        assert 'href="/closing"' in page, path
    assert do_login(client, "alice", "demo").status_code == 302
    for path in ("/", "/account/data", "/account/export", "/services", "/support"):
        page = client.get(path).get_data(as_text=True)
        assert "Le service Cloud ferme le" in page, path
        assert 'href="/account/export"' in page, path
    client.get("/language/en")
    page = client.get("/").get_data(as_text=True)
    assert "The service Cloud closes on" in page
    assert "The cloud closes for lack of volunteers." in page


def test_no_notice_without_a_closing(client: Any) -> None:
    assert "closing-notice" not in client.get("/services").get_data(as_text=True)


def test_where_to_go_next_lists_open_members_running_the_same_software(
    closing_app: Callable[..., Flask], test_federation: Federation
) -> None:
    app = closing_app(FEDERATION_URL=test_federation.url)
    result = app.test_cli_runner().invoke(args=["chatonsinfos", "federation"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    client.get("/language/en")
    page = client.get("/closing").get_data(as_text=True)
    assert "Alpha Cloud" in page and 'href="https://cloud.alpha.example/"' in page
    assert "Open to anyone, free account" in page and "For members only" in page
    # Full, or not saying it takes new accounts, or another software: not proposed.
    assert "Alpha Pad" not in page and "Beta Cloud" not in page
    assert "1 member file could not be read" in page


def test_without_the_federation_the_page_still_answers(
    closing_app: Callable[..., Flask],
) -> None:
    client = closing_app().test_client()
    page = client.get("/closing").get_data(as_text=True)
    assert "Trouver un hébergeur sur le site des CHATONS" in page
    assert 'href="https://www.chatons.org/"' in page


def _people(app: Flask) -> None:
    with app.app_context(), session_scope(app) as session:
        for uid, language in (("alice", "fr"), ("bob", "en"), ("nomail", "fr")):
            session.add(
                Account(
                    uid=uid,
                    dn=f"uid={uid},ou=people,dc=demo",
                    display_name=uid,
                    email=None if uid == "nomail" else f"{uid}@demo.chatons.org",
                    language=language,
                )
            )


def test_reminders_are_mailed_on_their_dates_in_each_persons_language(
    closing_app: Callable[..., Flask], smtp: Any
) -> None:
    app = closing_app(SMTP_URL=smtp.url, MAIL_FROM="panel@demo.chatons.org")
    _people(app)
    day = TODAY + timedelta(days=40)
    runner = app.test_cli_runner()
    outcomes = {}
    for offset in (-40, -35, -30, -10, -7, -1, 0, 1):
        when = (day + timedelta(days=offset)).isoformat()
        result = runner.invoke(args=["closing", "remind", "--today", when])
        assert result.exit_code == 0, result.output
        outcomes[offset] = result.output.strip()
    assert outcomes[-40] == "cloud: notice → 2 mails queued"
    assert outcomes[-30] == "cloud: month → 2 mails queued"
    assert outcomes[-7] == "cloud: week → 2 mails queued"
    assert outcomes[0] == "cloud: day → 2 mails queued"
    for offset in (-35, -10, -1, 1):
        assert outcomes[offset] == "No reminder due today.", offset
    sent, failed = mail.send_queued(app, limit=100)
    assert (sent, failed) == (8, 0)
    by_person: dict[str, list[Any]] = {}
    for message in smtp.messages:
        by_person.setdefault(str(message["To"]), []).append(message)
    assert sorted(by_person) == ["alice@demo.chatons.org", "bob@demo.chatons.org"]
    french = [m["Subject"] for m in by_person["alice@demo.chatons.org"]]
    english = [m["Subject"] for m in by_person["bob@demo.chatons.org"]]
    assert sum("Cloud ferme le" in s for s in french) == 3
    assert sum("Cloud ferme aujourd'hui" in s for s in french) == 1
    assert sum("Cloud closes on" in s for s in english) == 3
    body = by_person["bob@demo.chatons.org"][0].get_content()
    assert "The cloud closes for lack of volunteers." in body
    assert "http://localhost/account/export" in body
    assert "http://localhost/closing" in body
    assert by_person["bob@demo.chatons.org"][0]["Precedence"] == "bulk"


def test_staff_see_the_closing_in_counts_and_their_files_checked(
    closing_app: Callable[..., Flask],
) -> None:
    app = closing_app()
    _people(app)
    app.test_cli_runner().invoke(args=["closing", "remind"])
    with app.app_context(), session_scope(app) as session:
        alice = session.query(Account).filter_by(uid="alice").one()
        later = utcnow() + timedelta(seconds=1)
        for _ in range(2):  # twice by the same person: one person
            session.add(
                AuditEvent(
                    action="export.downloaded", account_id=alice.id, created_at=later, details="{}"
                )
            )
    client = app.test_client()
    assert do_login(client, "camille", "demo").status_code == 302
    client.get("/language/en")
    page = client.get("/staff/federation").get_data(as_text=True)
    assert "No error." in page
    assert "organization-metrics.properties" in page
    assert "At the notice: 2" in page
    row = page.split("At the notice: 2", 1)[1].split("</tr>", 1)[0]
    assert ">1</td>" in row
    assert "PANEL_FEDERATION_URL is not set" in page


def test_the_federation_cache_survives_an_unreadable_file(tmp_path: Path, make_app: Any) -> None:
    app = make_app(FEDERATION_CACHE_FILE=str(tmp_path / "federation.json"))
    (tmp_path / "federation.json").write_text("{not json", encoding="utf-8")
    assert federation.load_cache(app) is None
    cache = federation.FederationCache(fetched_at=datetime.now(UTC).isoformat(), source="x")
    federation.save_cache(app, cache)
    loaded = federation.load_cache(app)
    assert loaded is not None and loaded.members == []


def test_one_click_stops_the_reminders_of_that_person_only(
    closing_app: Callable[..., Flask], smtp: Any
) -> None:
    app = closing_app(SMTP_URL=smtp.url, MAIL_FROM="panel@demo.chatons.org")
    _people(app)
    day = TODAY + timedelta(days=40)
    runner = app.test_cli_runner()
    runner.invoke(args=["closing", "remind", "--today", (day - timedelta(days=40)).isoformat()])
    assert mail.send_queued(app, limit=100) == (2, 0)
    bob = next(m for m in smtp.messages if m["To"] == "bob@demo.chatons.org")
    assert bob["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = bob["List-Unsubscribe"].strip("<>")
    assert link in bob.get_content()
    path = link.removeprefix("http://localhost")
    client = app.test_client()
    # Opening the link (a link scanner) stops nothing; the mail client's POST does.
    assert "Stop the reminders" in client.get(path, headers={"Accept-Language": "en"}).text
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(path.replace("/unsubscribe/", "/unsubscribe/x")).status_code == 404
    result = runner.invoke(
        args=["closing", "remind", "--today", (day - timedelta(days=30)).isoformat()]
    )
    assert result.output.strip() == "cloud: month → 1 mails queued"
    smtp.messages.clear()
    mail.send_queued(app, limit=100)
    assert [m["To"] for m in smtp.messages] == ["alice@demo.chatons.org"]
    # The choice is the person's data: on /account/data and in the export, gone with them.
    from app.disclosure.closing import ClosingMailSection
    from app.disclosure.models import ClosingOptOut

    with app.app_context(), session_scope(app) as session:
        account = session.query(Account).filter_by(uid="bob").one()
        section = ClosingMailSection()
        assert len(section.inventory(session, account)) == 1
        entries = list(section.export(session, account))
        assert entries[0].path == "panel/closing.json"
        section.delete(session, account)
    with app.app_context(), session_scope(app) as session:
        assert session.query(ClosingOptOut).count() == 0


def test_the_public_json_says_what_closes_and_when(closing_app: Callable[..., Flask]) -> None:
    document = closing_app().test_client().get("/hosting.json").get_json()
    cloud = next(s for s in document["services"] if s["slug"] == "cloud")
    assert cloud["closing"] == {
        "date": (TODAY + timedelta(days=40)).isoformat(),
        "message": "Le cloud ferme faute de bénévoles.",
    }
    assert cloud["registration_load"] == "OPEN"
    assert document["organisation"]["closing"] is None
