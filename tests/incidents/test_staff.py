"""Staff pages: open, update, correct, resolve, schedule, edit, post-mortem; access and errors."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from flask.testing import FlaskClient

ATOM = "{http://www.w3.org/2005/Atom}"
EN = {"Accept-Language": "en"}


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def state_of(page: str, slug: str) -> str:
    match = re.search(rf'<h3 id="state-{slug}">(.*?)</h3>', page, flags=re.DOTALL)
    assert match
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def open_incident(post_form: Any, **fields: Any) -> Any:
    data = {
        "title": "Mail is down",
        "services": ["mail"],
        "impact": "major",
        "visibility": "public",
    }
    data.update(fields)
    return post_form("/staff/incidents/new", data, token_from="/staff/incidents/new", headers=EN)


def test_staff_pages_are_for_staff_only(english: FlaskClient, login_as: Any) -> None:
    client = english
    assert client.get("/staff/incidents").status_code == 302  # anonymous: to the login page
    login_as("alice")
    for path in ("/staff/incidents", "/staff/incidents/new", "/staff/incidents/maintenance/new"):
        assert client.get(path).status_code == 403, path


def test_done_when_a_visitor_follows_an_incident_from_open_to_resolved(
    app: Any, english: FlaskClient, login_as: Any, post_form: Any
) -> None:
    """The issue's acceptance scenario, end to end through the pages."""
    login_as("camille")
    response = open_incident(post_form, body="Mail is not delivered.")
    assert response.status_code == 302
    manage = response.headers["Location"]
    incident_id = int(manage.rsplit("/", 1)[1])

    visitor = app.test_client()
    during = text(visitor.get("/incidents", headers=EN))
    assert "Partial outage" in state_of(during, "mail")

    for body, status in (("The disk is full.", "identified"), ("Space freed.", "monitoring")):
        posted = post_form(
            f"/staff/incidents/{incident_id}/updates",
            {"update-body": body, "update-status": status},
            token_from=manage,
        )
        assert posted.status_code == 302
    resolved = post_form(
        f"/staff/incidents/{incident_id}/resolve",
        {"resolve-body": "Mail flows again."},
        token_from=manage,
    )
    assert resolved.status_code == 302

    after = text(visitor.get("/incidents", headers=EN))
    assert "Operational" in state_of(after, "mail")
    detail = text(visitor.get(f"/incidents/{incident_id}", headers=EN))
    timeline = detail[detail.index("Timeline") :]
    positions = [
        timeline.index(t)
        for t in (
            "Mail is not delivered.",
            "The disk is full.",
            "Space freed.",
            "Mail flows again.",
        )
    ]
    assert positions == sorted(positions)
    feed = ET.fromstring(visitor.get("/incidents.atom").data)  # noqa: S314 - our own feed
    titles = [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]
    assert titles == ["Mail is down"]


def test_opening_with_bad_input_shows_the_message_next_to_the_field(
    staff_client: FlaskClient, post_form: Any
) -> None:
    response = open_incident(post_form, title="  ", services=[])
    assert response.status_code == 422
    page = text(response)
    assert "Give the incident a title." in page or "Choose at least one" in page
    assert 'class="error"' in page
    assert "/staff/incidents/1" not in page


def test_an_unknown_service_is_refused_by_the_form(
    staff_client: FlaskClient, post_form: Any
) -> None:
    response = open_incident(post_form, services=["jabber"])
    assert response.status_code == 422


def test_maintenance_is_scheduled_and_a_reversed_window_is_refused(
    staff_client: FlaskClient, post_form: Any, client: FlaskClient
) -> None:
    path = "/staff/incidents/maintenance/new"
    bad = post_form(
        path,
        {
            "title": "Upgrade",
            "services": ["pad"],
            "window_start": "2030-05-01T22:00",
            "window_end": "2030-05-01T20:00",
            "visibility": "public",
        },
        token_from=path,
        headers=EN,
    )
    assert bad.status_code == 422
    assert "ends before it starts" in text(bad)
    good = post_form(
        path,
        {
            "title": "Upgrade",
            "services": ["pad"],
            "window_start": "2030-05-01T20:00",
            "window_end": "2030-05-01T22:00",
            "visibility": "public",
        },
        token_from=path,
    )
    assert good.status_code == 302
    page = text(client.get("/incidents", headers=EN))
    assert "Upgrade" in page
    # 20:00 in Paris in May is 18:00 UTC.
    assert 'datetime="2030-05-01T18:00:00+00:00"' in page


def test_an_empty_update_is_refused_with_a_message(
    staff_client: FlaskClient, post_form: Any, journal: Any
) -> None:
    incident_id = journal.open()
    manage = f"/staff/incidents/{incident_id}"
    response = post_form(
        f"{manage}/updates",
        {"update-body": " ", "update-status": ""},
        token_from=manage,
        headers=EN,
    )
    assert response.status_code == 422
    assert "the update is empty" in text(response)


def test_reopening_needs_the_box_ticked(
    staff_client: FlaskClient, post_form: Any, journal: Any
) -> None:
    incident_id = journal.open()
    journal.resolve(incident_id)
    manage = f"/staff/incidents/{incident_id}"
    data = {"update-body": "It is back.", "update-status": "investigating"}
    refused = post_form(f"{manage}/updates", data, token_from=manage, headers=EN)
    assert refused.status_code == 422 and "reopen it explicitly" in text(refused)
    accepted = post_form(f"{manage}/updates", {**data, "update-reopen": "y"}, token_from=manage)
    assert accepted.status_code == 302


def test_staff_correct_an_update_from_the_manage_page(
    staff_client: FlaskClient, post_form: Any, journal: Any, client: FlaskClient
) -> None:
    incident_id = journal.open()
    wrong = journal.update(incident_id, "Wrong cause.")
    manage = f"/staff/incidents/{incident_id}"
    response = post_form(
        f"{manage}/updates",
        {"update-body": "The real cause.", "update-corrects_id": str(wrong)},
        token_from=manage,
    )
    assert response.status_code == 302
    page = text(client.get(manage, headers=EN))
    assert "Wrong cause." in page and "The real cause." in page
    assert "This update was corrected" in page
    assert "monitoring (command line)" in page  # staff see who wrote each entry


def test_resolving_before_the_start_shows_a_message(
    staff_client: FlaskClient, post_form: Any, journal: Any
) -> None:
    incident_id = journal.open()
    manage = f"/staff/incidents/{incident_id}"
    response = post_form(
        f"{manage}/resolve",
        {"resolve-resolved_at": "2001-01-01T10:00"},
        token_from=manage,
        headers=EN,
    )
    assert response.status_code == 422
    assert "cannot be before the start" in text(response)


def test_details_and_post_mortem_are_saved(
    staff_client: FlaskClient, post_form: Any, journal: Any, client: FlaskClient
) -> None:
    incident_id = journal.open(impact="minor")
    manage = f"/staff/incidents/{incident_id}"
    response = post_form(
        f"{manage}/details",
        {
            "details-title": "Mail and cloud are down",
            "details-services": ["mail", "cloud"],
            "details-impact": "critical",
            "details-visibility": "users",
        },
        token_from=manage,
    )
    assert response.status_code == 302
    response = post_form(
        f"{manage}/postmortem",
        {"postmortem-postmortem": "## What happened\n\nA full disk."},
        token_from=manage,
    )
    assert response.status_code == 302
    page = text(client.get(f"/incidents/{incident_id}", headers=EN))
    assert "Mail and cloud are down" in page and "Critical" in page
    assert "<h3>What happened</h3>" in page
    client.post(
        "/logout",
        data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)},
    )  # type: ignore[union-attr]
    assert client.get(f"/incidents/{incident_id}").status_code == 302  # now users-only


def test_the_staff_list_shows_open_ones_first_and_the_queue_counts_them(
    staff_client: FlaskClient, journal: Any
) -> None:
    journal.resolve(journal.open(title="Closed one"))
    journal.open(title="Open one")
    page = text(staff_client.get("/staff/incidents", headers=EN))
    assert page.index("Open one") < page.index("Closed one")
    home = text(staff_client.get("/staff/", headers=EN))
    assert "Open incidents and planned maintenance" in home
    assert re.search(r"Open incidents and planned maintenance</a></td><td>1<", home)


def test_an_unknown_incident_is_not_found_on_staff_pages(staff_client: FlaskClient) -> None:
    assert staff_client.get("/staff/incidents/42").status_code == 404


def test_staff_actions_appear_in_the_staff_member_activity(
    staff_client: FlaskClient, post_form: Any
) -> None:
    open_incident(post_form)
    page = text(staff_client.get("/account/activity", headers=EN))
    assert "Opened an incident in the journal" in page


def test_staff_move_the_window_of_a_planned_maintenance(
    staff_client: FlaskClient, post_form: Any, journal: Any
) -> None:
    maintenance_id = journal.maintenance(title="Pad upgrade")
    manage = f"/staff/incidents/{maintenance_id}"
    response = post_form(
        f"{manage}/details",
        {
            "details-title": "Pad upgrade, moved",
            "details-services": ["pad"],
            "details-window_start": "2031-02-03T21:00",
            "details-window_end": "2031-02-03T23:30",
            "details-visibility": "public",
        },
        token_from=manage,
    )
    assert response.status_code == 302, text(response)[:2000]
    page = text(staff_client.get(f"/incidents/{maintenance_id}"))
    assert "Pad upgrade, moved" in page
    assert 'datetime="2031-02-03T20:00:00+00:00"' in page  # 21:00 in Paris in winter
