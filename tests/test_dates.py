"""Times in the reader's time zone when their browser says it differs from the hoster's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask_babel import force_locale

from app import dates
from app.db import session_scope
from app.incidents import operations as incidents
from helpers import csrf_token, do_login

NOON_UTC = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 13:00 in Paris, 07:00 in Montreal


def shown(app: Any, cookie: str | None, language: str = "fr") -> tuple[str, str, str]:
    headers = {"Cookie": f"panel_tz={cookie}"} if cookie is not None else {}
    with app.test_request_context("/", headers=headers), force_locale(language):
        return (
            dates.human_datetime(NOON_UTC),
            dates.human_time(NOON_UTC),
            dates.human_date(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)),
        )


def test_without_a_zone_times_are_the_hosters_without_offset(app: Any):
    assert shown(app, None) == ("30 novembre 2026 à 13:00", "13:00", "1 décembre 2026")


def test_a_reader_in_the_hosters_offset_sees_no_offset(app: Any):
    assert shown(app, "Europe/Paris")[0] == "30 novembre 2026 à 13:00"
    assert shown(app, "Europe/Brussels")[0] == "30 novembre 2026 à 13:00"


def test_a_reader_elsewhere_sees_their_time_with_the_offset(app: Any):
    assert shown(app, "America/Montreal") == (
        "30 novembre 2026 à 07:00 UTC-05:00",
        "07:00 UTC-05:00",
        "1 décembre 2026",  # calendar days stay the hoster's
    )
    assert shown(app, "America/Montreal", "en")[0] == "November 30, 2026 at 7:00 AM GMT-05:00"


@pytest.mark.parametrize(
    "cookie", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "fixed", "x" * 200, ""]
)
def test_an_unknown_or_pinned_zone_is_ignored(app: Any, cookie: str):
    assert shown(app, cookie)[0] == "30 novembre 2026 à 13:00"


def test_mail_is_in_the_hosters_zone_whatever_the_reader_sending_it(app: Any):
    headers = {"Cookie": "panel_tz=America/Montreal"}
    with app.test_request_context("/", headers=headers), force_locale("fr"):
        with dates.hoster_time():
            # Mail is read anywhere: its times name their zone.
            assert dates.human_datetime(NOON_UTC) == "30 novembre 2026 à 13:00 (Europe/Paris)"
            assert dates.human_time(NOON_UTC) == "13:00 (Europe/Paris)"
        assert dates.human_datetime(NOON_UTC).endswith("UTC-05:00")


def test_times_in_a_mail_carry_their_zone(make_app: Any, smtp: Any):
    app = make_app(SMTP_URL=smtp.url, DELETION_GRACE_DAYS=7)
    client = app.test_client()
    client.set_cookie("panel_tz", "America/Montreal")  # the sender's zone, not the reader's
    do_login(client, "alice", "demo")
    token = csrf_token(client, "/account/deletion")
    client.post(
        "/account/deletion",
        data={"confirm_login": "alice", "receipt_to": "alice@example.net", "csrf_token": token},
    )
    body = next(m for m in smtp.messages if "suppression" in m["Subject"]).get_content()
    assert "(Europe/Paris)" in body
    assert "UTC-05:00" not in body


def test_the_account_page_pins_the_hosters_zone_and_unpins_it(client: Any):
    do_login(client, "alice", "demo")
    client.set_cookie("panel_tz", "America/Montreal")
    page = client.get("/").get_data(as_text=True)
    assert "America/Montreal" in page
    token = csrf_token(client, "/")
    response = client.post("/account/timezone", data={"csrf_token": token, "zone": "hoster"})
    assert response.status_code == 302
    assert client.get_cookie("panel_tz").value == "fixed"
    page = client.get("/").get_data(as_text=True)
    assert "fuseau horaire de l'hébergeur (Europe/Paris)" in page
    client.post("/account/timezone", data={"csrf_token": token, "zone": "device"})
    assert client.get_cookie("panel_tz") is None
    bad = client.post(
        "/account/timezone", data={"csrf_token": token, "zone": "Mars"}, follow_redirects=True
    )
    assert "Choisissez dans la liste comment afficher les heures" in bad.get_data(as_text=True)
    assert client.get_cookie("panel_tz") is None


@pytest.mark.browser
@pytest.mark.parametrize(
    ("zone", "expected", "offset"),
    [("America/Montreal", "07:00", True), ("Europe/Paris", "13:00", False)],
)
def test_chromium_shows_times_in_the_readers_zone(
    app: Any, live_server: Any, chromium: Any, zone: str, expected: str, offset: bool
):
    with app.test_request_context(), session_scope(app) as session:
        incident = incidents.open_incident(
            session,
            title="Mail is slow",
            services=["mail"],
            impact="minor",
            visibility="public",
            started_at=NOON_UTC,
            body="Messages take an hour to arrive.",
            known_services=["mail"],
            actor=incidents.CLI,
            now=NOON_UTC,
        )
        incident_id = incident.id
    context = chromium.new_context(locale="fr", timezone_id=zone)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/incidents/{incident_id}")  # the script sets the cookie
        # Only a reader outside the hoster's zone gets the cookie (Chromium's ICU names
        # Montreal's zone by its canonical city, America/Toronto).
        assert ("panel_tz" in {c["name"] for c in context.cookies()}) is offset
        page.reload()
        text = page.locator(f"time[datetime='{NOON_UTC.isoformat()}']").first.inner_text()
        assert f"30 novembre 2026 à {expected}" in text
        assert ("UTC-05:00" in text) is offset
    finally:
        context.close()
