"""ChatonsInfos as StatoolInfos reads it: complete `file.*`, statuses, optional fields, metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.disclosure import checker, federation, metrics, publication
from app.incidents import operations as incidents
from app.profile.model import ProfileError
from app.profile.parsing import parse_profile

PREFIX = "/.well-known/chatonsinfos/"
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def _props(client: Any, name: str) -> dict[str, str]:
    response = client.get(PREFIX + name)
    assert response.status_code == 200, name
    return checker.parse_properties(response.get_data(as_text=True))


def _own_reports(app: Flask) -> list[checker.FileReport]:
    with app.app_context(), session_scope(app) as session:
        start = app.url_for("hosting.organization_properties", _external=True)
        return checker.crawl(start, publication.own_fetcher(session))


def test_the_panels_own_files_have_no_error_for_the_checker(app: Flask) -> None:
    reports = _own_reports(app)
    classes = sorted(r.file_class or "" for r in reports)
    # The organisation, three services, their metrics and the organisation's metrics.
    assert classes == ["metrics"] * 4 + ["organization"] + ["service"] * 3
    assert checker.count(reports)[0] == 0, [(r.url, r.findings) for r in reports if r.errors]
    result = app.test_cli_runner().invoke(args=["chatonsinfos", "check", "--language", "en"])
    assert result.exit_code == 0, result.output
    assert "8 files, 0 errors" in result.output


def test_the_checker_reads_the_files_over_http_as_the_crawler_does(
    app: Flask, live_server: Any
) -> None:
    reports = checker.crawl(
        f"{live_server.url}{PREFIX}organization.properties", federation.fetch_text
    )
    assert len(reports) == 8
    assert checker.count(reports)[0] == 0


def test_every_file_has_a_complete_file_section_with_its_own_address(
    app: Flask, client: Any
) -> None:
    for name in (
        "organization.properties",
        "organization-metrics.properties",
        "mail.properties",
        "mail-metrics.properties",
    ):
        props = _props(client, name)
        assert props["file.url"] == "http://localhost" + PREFIX + name
        assert props["file.protocol"] == "ChatonsInfos-0.5"
        assert props["file.generator"] == "chatons-panel"
        assert OFFSET.match(props["file.datetime"]), props["file.datetime"]
    assert _props(client, "mail.properties")["subs.metrics"].endswith("/mail-metrics.properties")
    assert _props(client, "organization.properties")["subs.metrics"].endswith(
        "/organization-metrics.properties"
    )


def test_metrics_series_have_their_full_length(client: Any) -> None:
    for name in ("mail-metrics.properties", "organization-metrics.properties"):
        props = _props(client, name)
        series = {k: v for k, v in props.items() if checker.METRIC_SERIES.match(k)}
        assert len(series) >= 9
        for key, value in series.items():
            match = checker.METRIC_SERIES.match(key)
            assert match is not None
            year, unit = int(match[1]), match[2]
            expected = {
                "months": 12,
                "weeks": metrics.weeks_in_year(year),
                "days": (date(year + 1, 1, 1) - date(year, 1, 1)).days,
            }[unit]
            assert len(value.split(",")) == expected, key


def test_periods_follow_the_calendar_in_the_hosters_time_zone() -> None:
    zone = ZoneInfo("Europe/Paris")
    assert metrics.weeks_in_year(2026) == 53 and metrics.weeks_in_year(2025) == 52
    assert len(metrics.periods(2024, "days", zone)) == 366
    first_day = metrics.periods(2026, "days", zone)[0]
    assert first_day[0] == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


def test_small_counts_are_never_published_as_such() -> None:
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    march = [datetime(2026, 3, d, 10, tzinfo=UTC) for d in (1, 2, 3)]
    april = [datetime(2026, 4, d, 10, tzinfo=UTC) for d in range(1, 7)]
    zone = ZoneInfo("Europe/Paris")
    months = metrics.periods(2026, "months", zone)
    about_people = metrics.event_counts(march + april, now, hide_small=True)
    assert [about_people(*m) for m in months[2:4]] == ["", "6"]
    about_nobody = metrics.event_counts(march + april, now, hide_small=False)
    assert [about_nobody(*m) for m in months[2:4]] == ["3", "6"]
    # Months to come are not zero: they are not known yet.
    assert about_nobody(*months[11]) == ""
    people = metrics.distinct_people([(1, t) for t in april] + [(2, april[0])], now)
    assert people(*months[3]) == ""  # two people: below the threshold


def test_organisation_metrics_hide_small_counts_of_people_but_not_incidents(
    app: Flask, client: Any
) -> None:
    now = utcnow()
    with app.app_context(), session_scope(app) as session:
        for _ in range(3):
            session.add(AuditEvent(action="export.downloaded", created_at=now, details="{}"))
        for title in ("Slow", "Down"):
            incidents.open_incident(
                session,
                title=title,
                services=["mail"],
                impact="minor",
                known_services=["mail", "cloud", "pad"],
                actor=incidents.CLI,
            )
    props = _props(client, "organization-metrics.properties")
    month = now.astimezone(ZoneInfo("Europe/Paris")).month
    year = now.astimezone(ZoneInfo("Europe/Paris")).year
    exports = props[f"metrics.organization.exports.{year}.months"].split(",")
    published = props[f"metrics.organization.incidents.{year}.months"].split(",")
    assert exports[month - 1] == ""
    assert published[month - 1] == "2"


def test_metrics_are_served_with_an_etag(client: Any) -> None:
    first = client.get(PREFIX + "mail-metrics.properties")
    assert first.headers["ETag"]
    again = client.get(
        PREFIX + "mail-metrics.properties", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert client.get(PREFIX + "forge-metrics.properties").status_code == 404


def test_a_service_status_follows_the_incident_journal(app: Flask, client: Any) -> None:
    assert _props(client, "mail.properties")["service.status.level"] == "OK"
    with app.app_context(), session_scope(app) as session:
        incidents.open_incident(
            session,
            title="Mail down",
            services=["mail"],
            impact="critical",
            known_services=["mail", "cloud", "pad"],
            actor=incidents.CLI,
        )
    assert _props(client, "mail.properties")["service.status.level"] == "ERROR"
    assert _props(client, "cloud.properties")["service.status.level"] == "OK"


def _closing(day: date) -> dict[str, Any]:
    return {"date": day, "message": {"fr": "Nous arrêtons.", "en": "We stop."}}


def test_statuses_dates_and_load_come_from_hoster_toml(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    today = date.today()
    org = demo_data["organisation"]
    org["status"] = "IDLE"
    org["status_description"] = {"fr": "En pause cet été.", "en": "Paused this summer."}
    services = {s["slug"]: s for s in demo_data["services"]}
    services["mail"]["closing"] = _closing(today + timedelta(days=40))
    services["pad"]["end_date"] = today - timedelta(days=1)
    services["cloud"]["registration_load"] = "FULL"
    client = app_with_profile(demo_data).test_client()
    organisation = _props(client, "organization.properties")
    assert organisation["organization.status.level"] == "IDLE"
    assert organisation["organization.status.description"] == "En pause cet été."
    mail = _props(client, "mail.properties")
    assert mail["service.enddate"] == (today + timedelta(days=40)).isoformat()
    assert mail["service.registration.load"] == "FULL"  # a closing service takes nobody new
    assert mail["service.status.description"] == "Nous arrêtons."
    assert _props(client, "pad.properties")["service.status.level"] == "OVER"
    assert _props(client, "cloud.properties")["service.registration.load"] == "FULL"


def test_a_closed_organisation_is_away_with_its_end_date(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    day = date.today() - timedelta(days=2)
    demo_data["organisation"]["closing"] = _closing(day)
    client = app_with_profile(demo_data).test_client()
    props = _props(client, "organization.properties")
    assert props["organization.status.level"] == "AWAY"
    assert props["organization.enddate"] == day.isoformat()


def test_optional_fields_are_written_where_hoster_toml_has_them(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    org = demo_data["organisation"]
    org["guide_user_url"] = "https://docs.demo.chatons.org"
    org["social_networks"] = {"mastodon": "https://mastodon.example/@demo"}
    org["chat_rooms"] = {"matrix": "https://matrix.to/#/#demo:example.org"}
    org["funding"] = {"liberapay": "https://liberapay.com/demo"}
    org["geolocation"] = {"latitude": 45.764, "longitude": 4.8357, "address": "Lyon"}
    demo_data["services"][0]["guide_technical_url"] = "https://docs.demo.chatons.org/admin/mail"
    app = app_with_profile(demo_data)
    client = app.test_client()
    props = _props(client, "organization.properties")
    assert props["organization.guide.user"] == "https://docs.demo.chatons.org/"
    assert props["organization.socialnetworks.mastodon"] == "https://mastodon.example/@demo"
    assert props["organization.chatrooms.matrix"] == "https://matrix.to/#/#demo:example.org"
    assert props["organization.funding.liberapay"] == "https://liberapay.com/demo"
    assert props["organization.geolocation.latitude"] == "45.764"
    assert props["organization.geolocation.longitude"] == "4.8357"
    assert props["organization.geolocation.address"] == "Lyon"
    mail = _props(client, "mail.properties")
    assert mail["service.guide.technical"] == "https://docs.demo.chatons.org/admin/mail"
    assert checker.count(_own_reports(app))[0] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["services"][0].update(registration_load="HALF"), "registration load"),
        (lambda d: d["services"][0].update(closing={"message": "Bye"}), "closing.date"),
        (lambda d: d["organisation"].update(status="SLEEPING"), "organisation.status"),
        (
            lambda d: d["organisation"].update(social_networks={"mastodon": "not-a-url"}),
            "social_networks.mastodon",
        ),
        (
            lambda d: d["organisation"].update(geolocation={"latitude": 123}),
            "geolocation.latitude",
        ),
    ],
)
def test_wrong_new_keys_are_refused_naming_them(
    demo_data: dict[str, Any], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    change(demo_data)
    with pytest.raises(ProfileError, match=re.escape(message)):
        parse_profile(demo_data)
