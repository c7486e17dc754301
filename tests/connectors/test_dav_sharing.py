"""Only what is the person's, on real CalDAV/CardDAV servers with sharing (issue 20).

sabre/dav (Baïkal's library, Basic and Digest) shares bob's calendar with alice through its
sharing plugin: it then lies in alice's calendar home with bob as its DAV:owner, and a
DELETE there would delete bob's calendar. Radicale and Xandikos have no sharing: bob's
collections lie beside alice's home (Radicale lets alice read them through its rights).
On each, alice's export holds only her data, her deletion completes, and bob's items are
checked byte by byte to be as they were.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import icalendar
import pytest
import requests
from connectors.conftest import build, collect, person, toml_table
from connectors.test_end_to_end import service
from flask import Flask
from flask_babel import force_locale

import connector_servers as servers
from app.connectors import dav
from app.connectors.base import ConnectorError, KeptItem
from app.connectors.dav import DavConnector
from app.connectors.dav.connector import NOTE_PRINCIPALS, SHARED_BY
from app.deletion.outcomes import describe_outcome_text
from helpers import csrf_token, do_login, profile_without_local_servers


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "dav.secret"
    path.write_text(servers.ADMIN_PASSWORD + "\n")
    return path


def connector(server: servers.Process, password_file: Path, **kw: Any) -> DavConnector:
    options = {"url": server.url + "/", "admin_user": servers.ADMIN_USER,
               "password_file": str(password_file), **kw}  # fmt: skip
    agenda: DavConnector = build(dav, "agenda", options)
    return agenda


def summaries(ics: bytes) -> set[str]:
    return {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(ics).walk("VEVENT")}


# sabre/dav ------------------------------------------------------------------------------------


@pytest.fixture
def sabre_shared(sabredav: servers.Process) -> dict[str, dict[str, bytes]]:
    """alice and bob each have a calendar and an address book; bob shares his calendar."""
    servers.seed_dav(sabredav, "alice", "/calendars/alice/perso/", "/addressbooks/alice/carnet/")
    servers.seed_dav(sabredav, "bob", "/calendars/bob/work/", "/addressbooks/bob/team/",
                     summary="Bob's secret")  # fmt: skip
    servers.share_sabredav_calendar(sabredav, "bob", "work", "alice")
    return {
        path: servers.dav_items(sabredav, "bob", path)
        for path in ("/calendars/bob/work/", "/addressbooks/bob/team/")
    }


def test_sabredav_shared_calendar_is_listed_as_bobs_not_exported_as_hers(
    sabredav: servers.Process, sabre_shared: dict[str, dict[str, bytes]], password_file: Path
) -> None:
    # The shared calendar really is in alice's home, with bob as its owner.
    listing = requests.request(
        "PROPFIND", f"{sabredav.url}/calendars/alice/", headers={"Depth": "1"},
        auth=servers.person_auth(sabredav, "alice"), timeout=10,
    )  # fmt: skip
    assert "/calendars/alice/shared-work/" in listing.text
    agenda = connector(sabredav, password_file)
    files, skipped = collect(agenda.export(person()))
    assert skipped == {}
    assert sorted(files) == [
        "services/agenda/calendars/Agenda de alice.ics",
        "services/agenda/contacts/Contacts de alice.vcf",
    ]
    assert summaries(files["services/agenda/calendars/Agenda de alice.ics"]) == {
        "Réunion de alice",
        "Dentist",
    }
    assert b"Bob's secret" not in b"".join(files.values())
    kinds = [item.kind for item in agenda.inventory(person())]
    assert kinds == [
        "Events and tasks in 1 calendar",
        "Contacts in 1 address book",
        "1 calendar or address book shared with you by others stays theirs",
    ]


def test_sabredav_plan_counts_her_collections_and_keeps_the_shared_one(
    sabredav: servers.Process, sabre_shared: dict[str, dict[str, bytes]], password_file: Path
) -> None:
    plan = connector(sabredav, password_file).plan(person())
    assert [(item.name, item.count) for item in plan.delete] == [
        ("Agenda de alice", 2),
        ("Contacts de alice", 2),
    ]
    assert all(item.size and item.size > 100 for item in plan.delete)
    assert plan.keep == (KeptItem("Agenda de bob", SHARED_BY, (("owner", "bob"),)),)
    assert plan.notes == (NOTE_PRINCIPALS,)


def test_sabredav_deletion_completes_and_leaves_bobs_shared_calendar_untouched(
    sabredav: servers.Process, sabre_shared: dict[str, dict[str, bytes]], password_file: Path
) -> None:
    result = connector(sabredav, password_file).delete(person())
    assert result.ok, result.detail
    assert result.detail == (
        "Calendars and address books deleted: 'Agenda de alice', 'Contacts de alice'."
    )
    assert any("principal" in line and "/principals/alice/" in line for line in result.kept)
    # Her own collections are gone; the shared one is still there, and bob's items are
    # exactly as before, one by one.
    assert servers.dav_items(sabredav, "alice", "/calendars/alice/perso/") == {}
    assert servers.dav_items(sabredav, "alice", "/addressbooks/alice/carnet/") == {}
    for path, items in sabre_shared.items():
        assert servers.dav_items(sabredav, "bob", path) == items
    assert len(sabre_shared["/calendars/bob/work/"]) == 2
    assert servers.dav_items(sabredav, "alice", "/calendars/alice/shared-work/") == {
        href.replace("/bob/work/", "/alice/shared-work/"): body
        for href, body in sabre_shared["/calendars/bob/work/"].items()
    }
    # The principal itself was never asked to go.
    principal = requests.request(
        "PROPFIND", f"{sabredav.url}/principals/alice/", headers={"Depth": "0"},
        auth=servers.person_auth(sabredav, "alice"), timeout=10,
    )  # fmt: skip
    assert principal.status_code == 207
    again = connector(sabredav, password_file).delete(person())
    assert again.ok and again.detail == "Nothing held for this person.", again.detail


def test_sabredav_a_forced_scheme_the_server_does_not_speak_is_named_in_the_refusal(
    sabredav: servers.Process, password_file: Path
) -> None:
    spoken = sabredav.env["SABRE_AUTH"]
    other = "basic" if spoken == "digest" else "digest"
    agenda = connector(sabredav, password_file, auth=other)
    with pytest.raises(ConnectorError) as caught:
        list(agenda.export(person()))
    message = str(caught.value)
    assert "refused the panel's credentials (HTTP 401)" in message
    assert f"asks for {spoken.title()}" in message and f"sent {other.title()}" in message
    assert servers.ADMIN_PASSWORD not in message
    # Chosen from the challenge, or forced to the right one, it signs in.
    assert connector(sabredav, password_file, auth=spoken).check().endswith("signed in as panel")
    assert connector(sabredav, password_file).check().endswith("signed in as panel")


# Radicale: no sharing; alice may read bob's collections through the rights --------------------


def test_radicale_bob_collections_alice_may_read_stay_out_of_her_export_and_deletion(
    radicale: servers.Process, password_file: Path
) -> None:
    servers.seed_radicale(radicale, "alice")
    servers.seed_radicale(radicale, "bob")
    before = {p: servers.dav_items(radicale, "bob", p) for p in ("/bob/work/", "/bob/contacts/")}
    # alice can read bob's calendar: it is reachable, and still not hers.
    assert servers.dav_items(radicale, "alice", "/bob/work/") == before["/bob/work/"]
    files, _ = collect(connector(radicale, password_file).export(person()))
    assert sorted(files) == [
        "services/agenda/calendars/Travail & réunions.ics",
        "services/agenda/contacts/Contacts.vcf",
    ]
    plan = connector(radicale, password_file).plan(person())
    assert [(i.name, i.count) for i in plan.delete] == [
        ("Travail & réunions", 2),
        ("Contacts", 2),
    ]
    assert plan.keep == ()
    assert connector(radicale, password_file).delete(person()).ok
    after = {p: servers.dav_items(radicale, "bob", p) for p in ("/bob/work/", "/bob/contacts/")}
    assert after == before and all(len(items) == 2 for items in after.values())


# Xandikos: one principal, DELETE of it answers 500 -----------------------------------------------


def seed_xandikos(server: servers.Process) -> dict[str, bytes]:
    """alice's calendar and address book; bob's beside her home (no sharing in Xandikos)."""
    servers.seed_dav(server, "alice", "/alice/calendars/perso/", "/alice/contacts/carnet/")
    for folder in ("/bob/", "/bob/calendars/", "/bob/contacts/"):
        assert requests.request("MKCOL", server.url + folder, timeout=10).status_code == 201
    servers.seed_dav(server, "bob", "/bob/calendars/work/", "/bob/contacts/team/",
                     summary="Bob's secret")  # fmt: skip
    return {
        **servers.dav_items(server, "bob", "/bob/calendars/work/"),
        **servers.dav_items(server, "bob", "/bob/contacts/team/"),
    }


def test_xandikos_export_holds_only_alices_collections(
    xandikos: servers.Process, password_file: Path
) -> None:
    seed_xandikos(xandikos)
    files, skipped = collect(connector(xandikos, password_file).export(person()))
    assert skipped == {}
    # Xandikos's --defaults made an empty calendar and address book for her too.
    assert sorted(files) == [
        "services/agenda/calendars/Agenda de alice.ics",
        "services/agenda/calendars/calendar.ics",
        "services/agenda/contacts/Contacts de alice.vcf",
        "services/agenda/contacts/addressbook.vcf",
    ]
    assert b"Bob's secret" not in b"".join(files.values())


def test_xandikos_deletion_completes_and_the_principal_stays(
    xandikos: servers.Process, password_file: Path
) -> None:
    bobs = seed_xandikos(xandikos)
    result = connector(xandikos, password_file).delete(person())
    assert result.ok, result.detail
    lines = result.detail.splitlines()
    assert lines[0].startswith("Calendars and address books deleted: ")
    assert f"The emptied home folder {xandikos.url}/alice/calendars/ was deleted too." in lines
    assert any(line.startswith(f"The principal {xandikos.url}/alice/ ") for line in result.kept)
    after = {
        **servers.dav_items(xandikos, "bob", "/bob/calendars/work/"),
        **servers.dav_items(xandikos, "bob", "/bob/contacts/team/"),
    }
    assert after == bobs and len(after) == 4
    again = connector(xandikos, password_file).delete(person())
    assert again.ok, again.detail


def test_a_home_the_server_answers_500_for_stays_and_the_step_is_done(
    xandikos: servers.Process, password_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a home is the principal's own folder (Xandikos's /alice/), its DELETE gives 500."""
    seed_xandikos(xandikos)
    agenda = connector(xandikos, password_file)
    real_remove = agenda.session.remove

    def remove(url: str) -> Any:
        # The calendar home stands for a home the server will not remove: the real
        # server's answer to a DELETE of alice's principal folder.
        if url.endswith("/alice/calendars/"):
            return real_remove(xandikos.url + "/alice/")
        return real_remove(url)

    monkeypatch.setattr(agenda.session, "remove", remove)
    result = agenda.delete(person())
    assert result.ok, result.detail
    assert any(
        line.startswith(f"The empty home folder {xandikos.url}/alice/calendars/ stays")
        and "HTTP 500" in line
        for line in result.kept
    ), result.kept
    # The principal folder, which the real server refused to remove, is still there.
    assert requests.request("PROPFIND", xandikos.url + "/alice/", timeout=10).status_code == 207


def test_the_receipt_says_what_stays_in_her_language(
    sabredav: servers.Process,
    sabre_shared: dict[str, dict[str, bytes]],
    password_file: Path,
    app: Flask,
) -> None:
    result = connector(sabredav, password_file).delete(person())
    assert result.ok, result.detail
    with app.test_request_context(), force_locale("fr"):
        kept = describe_outcome_text("\n".join(result.kept))
        done = describe_outcome_text(result.detail)
    assert f"Le principal {sabredav.url}/principals/alice/ (le compte de la personne" in kept
    assert f"Le dossier personnel {sabredav.url}/calendars/alice/ reste" in kept
    # French puts a no-break space before the colon.
    assert done.replace("\u00a0", " ").replace("\u202f", " ") == (
        "Agendas et carnets d'adresses supprimés : 'Agenda de alice', 'Contacts de alice'."
    )


def test_in_the_panel_her_data_page_and_export_hold_only_hers_and_doctor_is_content(
    sabredav: servers.Process,
    sabre_shared: dict[str, dict[str, bytes]],
    password_file: Path,
    make_app: Callable[..., Flask],
    tmp_path: Path,
) -> None:
    table = {"type": "dav", "url": sabredav.url + "/", "admin_user": servers.ADMIN_USER,
             "password_file": str(password_file)}  # fmt: skip
    path = tmp_path / "hoster.toml"
    path.write_text(
        profile_without_local_servers()
        + service("agenda", "Baïkal", "[services.connector]\n" + toml_table(table)),
        encoding="utf-8",
    )
    app = make_app(HOSTER_FILE=str(path))
    doctor = app.test_cli_runner().invoke(args=["doctor"]).output
    assert re.search(r"^ok +connector agenda: .* signed in as panel$", doctor, re.M), doctor
    client = app.test_client()
    assert do_login(client, "alice", "demo").status_code == 302
    page = client.get("/account/data").get_data(as_text=True)
    assert "1 agenda ou carnet d&#39;adresses que d&#39;autres partagent avec vous" in page
    response = client.post(
        "/account/export", data={"csrf_token": csrf_token(client, "/account/export")}
    )
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.get_data())).namelist()
    assert sorted(n for n in names if n.startswith("services/agenda/")) == [
        "services/agenda/calendars/Agenda de alice.ics",
        "services/agenda/contacts/Contacts de alice.vcf",
    ]
