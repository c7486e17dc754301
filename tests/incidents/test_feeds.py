"""Atom and JSON feeds: valid structure, correct updated times, cheap conditional requests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from app.db import utcnow

ATOM = "{http://www.w3.org/2005/Atom}"


def parse_atom(client: FlaskClient, path: str = "/incidents.atom") -> ET.Element:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    return ET.fromstring(response.data)  # noqa: S314 - the panel's own feed


def entries(feed: ET.Element) -> list[ET.Element]:
    return feed.findall(f"{ATOM}entry")


def when(element: ET.Element, tag: str) -> datetime:
    found = element.find(f"{ATOM}{tag}")
    assert found is not None and found.text
    return datetime.fromisoformat(found.text)


def test_the_atom_feed_has_every_required_element(client: FlaskClient, journal: Any) -> None:
    journal.open(title="Mail is down", body="Looking into it.")
    feed = parse_atom(client)
    assert feed.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{tag}") is not None, tag
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    (entry,) = entries(feed)
    for tag in ("id", "title", "updated", "content", "summary"):
        assert entry.find(f"{ATOM}{tag}") is not None, tag
    assert entry.findtext(f"{ATOM}title") == "Mail is down"
    link = entry.find(f"{ATOM}link[@rel='alternate']")
    assert link is not None and link.get("href", "").endswith("/incidents/1")
    assert "Looking into it." in (entry.findtext(f"{ATOM}content") or "")
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["mail"]


def test_entries_carry_the_time_of_their_latest_update(client: FlaskClient, journal: Any) -> None:
    opened = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    first = journal.open(title="Old", started_at=opened, now=opened)
    journal.resolve(first, resolved_at=opened + timedelta(hours=1), now=opened + timedelta(hours=2))
    second = journal.open(title="Newer")
    later = utcnow() + timedelta(seconds=1)
    journal.update(second, "Found it.", status="identified", now=later)
    feed = parse_atom(client)
    by_title = {e.findtext(f"{ATOM}title"): e for e in entries(feed)}
    assert when(by_title["Old"], "updated") == opened + timedelta(hours=2)
    assert when(by_title["Old"], "published") == opened
    assert when(by_title["Newer"], "updated") == later
    assert when(feed, "updated") == later
    assert [e.findtext(f"{ATOM}title") for e in entries(feed)] == ["Newer", "Old"]


def test_feeds_never_show_hosted_users_only_incidents(
    client: FlaskClient, journal: Any, login_as: Any
) -> None:
    journal.open(title="Internal trouble", visibility="users", impact="critical")
    journal.open(title="Public trouble", services_=("cloud",))
    login_as("alice")  # even a signed-in reader gets the public feeds
    feed = parse_atom(client)
    assert [e.findtext(f"{ATOM}title") for e in entries(feed)] == ["Public trouble"]
    document = client.get("/incidents.json").get_json()
    assert [i["title"] for i in document["incidents"]] == ["Public trouble"]
    mail = next(s for s in document["services"] if s["slug"] == "mail")
    assert mail["status"] == "operational"


def test_the_atom_feed_filters_by_service(client: FlaskClient, journal: Any) -> None:
    journal.open(title="Mail thing")
    journal.open(title="Pad thing", services_=("pad",))
    feed = parse_atom(client, "/incidents.atom?service=pad")
    assert [e.findtext(f"{ATOM}title") for e in entries(feed)] == ["Pad thing"]
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href", "").endswith("service=pad")


def test_the_json_feed_gives_current_status_and_incidents(
    client: FlaskClient, journal: Any
) -> None:
    incident_id = journal.open(title="Cloud slow", services_=("cloud",), impact="minor")
    journal.update(incident_id, "Found it.", status="identified")
    journal.maintenance(title="Pad upgrade")
    response = client.get("/incidents.json")
    assert response.mimetype == "application/json"
    document = json.loads(response.data)
    assert document["version"] == 1
    assert datetime.fromisoformat(document["generated_at"]).tzinfo is not None
    statuses = {s["slug"]: s for s in document["services"]}
    assert set(statuses) == {"mail", "cloud", "pad"}
    assert statuses["cloud"]["status"] == "degraded"
    assert statuses["cloud"]["ongoing_incidents"] == [incident_id]
    assert statuses["pad"]["status"] == "operational"
    assert statuses["mail"]["availability_90_days"] == 1.0
    incident = next(i for i in document["incidents"] if i["id"] == incident_id)
    assert incident["kind"] == "incident" and incident["status"] == "identified"
    assert incident["ongoing"] is True and incident["services"] == ["cloud"]
    assert [u["status"] for u in incident["updates"]] == ["investigating", "identified"]
    assert incident["updated_at"] == incident["updates"][-1]["at"]
    assert incident["url"].endswith(f"/incidents/{incident_id}")
    planned = next(i for i in document["incidents"] if i["kind"] == "maintenance")
    assert planned["ongoing"] is False and planned["scheduled_start"] is not None


def test_pollers_get_304_while_nothing_changed_and_200_after_a_change(
    client: FlaskClient, journal: Any
) -> None:
    incident_id = journal.open()
    first = client.get("/incidents.atom")
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = client.get("/incidents.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get(
        "/incidents.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status_code == 304
    journal.update(incident_id, "News.", now=utcnow() + timedelta(seconds=2))
    changed = client.get("/incidents.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "News." in changed.get_data(as_text=True)


def test_the_json_feed_answers_conditional_requests_too(
    app: Any, client: FlaskClient, journal: Any
) -> None:
    app.config["INCIDENTS_CACHE_SECONDS"] = 86_400  # no time bucket boundary between the two
    journal.open()
    first = client.get("/incidents.json")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get("/incidents.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_an_empty_journal_still_gives_valid_feeds(client: FlaskClient) -> None:
    feed = parse_atom(client)
    assert entries(feed) == []
    document = client.get("/incidents.json").get_json()
    assert document["incidents"] == [] and len(document["services"]) == 3


def test_a_weak_validator_from_a_proxy_still_gets_304(
    app: Any, client: FlaskClient, journal: Any
) -> None:
    app.config["INCIDENTS_CACHE_SECONDS"] = 86_400
    journal.open()
    for path in ("/incidents.atom", "/incidents.json"):
        etag = client.get(path).headers["ETag"]
        assert etag.startswith('"')
        weak = client.get(path, headers={"If-None-Match": f'W/{etag}, "other"'})
        assert weak.status_code == 304, path
