"""The `dav` connector against a real Radicale (CalDAV/CardDAV) and a real wsgidav (files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject
from connectors.conftest import build, collect, person

import connector_servers as servers
from app.connectors import dav
from app.connectors.base import ArchiveEntry, ConnectorError
from app.connectors.dav import CalendarMerger, DavConnector, _fold
from app.connectors.web import HttpFailure
from app.profile.model import ProfileError

STAMP = 1_700_000_000


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


@pytest.fixture
def alice_calendars(radicale: servers.Process) -> servers.Process:
    servers.seed_radicale(radicale, "alice")
    servers.seed_radicale(radicale, "bob")
    return radicale


# Calendars and contacts --------------------------------------------------------------------


def test_export_gives_one_ics_per_calendar_and_one_vcf_per_address_book(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    files, skipped = collect(connector(alice_calendars, password_file).export(person()))
    assert skipped == {}
    assert sorted(files) == [
        "services/agenda/calendars/Travail & réunions.ics",
        "services/agenda/contacts/Contacts.vcf",
    ]
    calendar = icalendar.Calendar.from_ical(
        files["services/agenda/calendars/Travail & réunions.ics"]
    )
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"Réunion d'équipe", "Dentist"}
    assert "FREQ=WEEKLY" in events["Réunion d'équipe"]["RRULE"].to_ical().decode()
    assert events["Dentist"]["DTSTART"].dt.tzinfo is not None
    # Both objects carried the same time zone: the merged calendar has it once.
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert str(calendar["X-WR-CALNAME"]) == "Travail & réunions"
    cards = list(vobject.readComponents(files["services/agenda/contacts/Contacts.vcf"].decode()))
    assert sorted(c.fn.value for c in cards) == ["Sam Martin", "Zoé Lefèvre"]


def test_inventory_counts_calendars_and_address_books(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    kinds = [i.kind for i in connector(alice_calendars, password_file).inventory(person())]
    assert kinds == ["Events and tasks in 1 calendar", "Contacts in 1 address book"]


def test_export_can_leave_out_contacts(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    files, _ = collect(connector(alice_calendars, password_file, carddav=False).export(person()))
    assert list(files) == ["services/agenda/calendars/Travail & réunions.ics"]


def _methods_sent(agenda: DavConnector, refuse: str | None = None) -> list[str]:
    """Record the methods the connector sends to the real server; `refuse` answers 405."""
    sent: list[str] = []
    real = agenda.client.request

    def request(method: str, url: str, **kw: Any) -> Any:
        sent.append(method)
        if method == refuse:
            raise HttpFailure(f"{method} not allowed", 405)
        return real(method, url, **kw)

    agenda.client.request = request  # type: ignore[method-assign]
    return sent


def _calendar_and_cards(files: dict[str, bytes]) -> tuple[set[str], set[str], list[str]]:
    calendar = icalendar.Calendar.from_ical(
        files["services/agenda/calendars/Travail & réunions.ics"]
    )
    events = {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}
    zones = [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")]
    text = files["services/agenda/contacts/Contacts.vcf"].decode()
    return events, {c.fn.value for c in vobject.readComponents(text)}, zones


def test_report_false_reads_each_object_with_propfind_and_get(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    agenda = connector(alice_calendars, password_file, report=False)
    sent = _methods_sent(agenda)
    files, skipped = collect(agenda.export(person()))
    assert skipped == {}
    assert "REPORT" not in sent and sent.count("GET") == 4  # 2 events, 2 contacts
    events, cards, zones = _calendar_and_cards(files)
    assert events == {"Réunion d'équipe", "Dentist"}
    assert cards == {"Sam Martin", "Zoé Lefèvre"}
    assert zones == ["Europe/Paris"]


def test_a_server_refusing_report_is_read_object_by_object(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    agenda = connector(alice_calendars, password_file)
    sent = _methods_sent(agenda, refuse="REPORT")
    files, _ = collect(agenda.export(person()))
    assert sent.count("REPORT") == 2 and sent.count("GET") == 4
    events, cards, _zones = _calendar_and_cards(files)
    assert events == {"Réunion d'équipe", "Dentist"}
    assert cards == {"Sam Martin", "Zoé Lefèvre"}


def test_a_person_without_collections_exports_nothing(
    radicale: servers.Process, password_file: Path
) -> None:
    assert collect(connector(radicale, password_file).export(person("nobody"))) == ({}, {})


def test_wrong_credentials_are_refused_without_showing_the_password(
    radicale: servers.Process, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")
    agenda = connector(radicale, wrong)
    with pytest.raises(ConnectorError, match="refused the panel's credentials") as caught:
        list(agenda.export(person()))
    assert "not-the-password" not in str(caught.value)
    result = agenda.delete(person())
    assert not result.ok and "refused" in result.detail
    assert "not-the-password" not in result.detail


def test_a_server_stopped_mid_export_gives_an_error(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    stream = connector(alice_calendars, password_file, timeout=5).export(person())
    first = next(stream)
    assert isinstance(first, ArchiveEntry)
    assert b"BEGIN:VEVENT" in b"".join(first.chunks)
    alice_calendars.stop()
    try:
        with pytest.raises(ConnectorError, match="cannot be reached"):
            for entry in stream:
                if isinstance(entry, ArchiveEntry):
                    b"".join(entry.chunks)
    finally:
        alice_calendars.start()


def test_delete_removes_every_collection_keeps_the_principal_and_can_run_again(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    assert len(servers.dav_children(alice_calendars, "alice")) == 2
    result = connector(alice_calendars, password_file).delete(person())
    assert result.ok, result.detail
    assert result.detail.splitlines() == [
        "Calendars and address books deleted: 'Travail & réunions', 'Contacts'.",
    ]
    # Radicale's home is the principal itself: never deleted, said to stay.
    assert result.kept == (
        f"The principal {alice_calendars.url}/alice/ (the person's account on the DAV server) "
        "stays: the panel never deletes it; the server's own administration removes the "
        "account.",
    )
    storage = alice_calendars.home / "collections" / "collection-root"
    assert list((storage / "alice").iterdir()) == []
    assert servers.dav_children(alice_calendars, "alice") == []
    assert len(servers.dav_children(alice_calendars, "bob")) == 2  # bob keeps his
    again = connector(alice_calendars, password_file).delete(person())
    assert again.ok and again.detail == "Nothing held for this person.", again.detail


def test_an_explicit_principal_template_is_used(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    files, _ = collect(
        connector(alice_calendars, password_file, principal="/{login}/").export(person("bob"))
    )
    assert len(files) == 2


# Files (wsgidav) -----------------------------------------------------------------------------


def seed_files(server: servers.Process, uid: str, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = server.home / "files" / uid / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (STAMP, STAMP))


def files_connector(server: servers.Process, password_file: Path) -> DavConnector:
    return connector(server, password_file, caldav=False, carddav=False, files=True,
                     files_path="files/{login}/")  # fmt: skip


def test_files_are_exported_with_folders_and_modification_times(
    wsgidav: servers.Process, password_file: Path
) -> None:
    big = os.urandom(2 * 1024 * 1024 + 3)
    seed_files(wsgidav, "carol", {"Photos/été 2024.jpg": big, "notes.txt": b"hello\n"})
    times = {}
    files = {}
    for entry in files_connector(wsgidav, password_file).export(person("carol")):
        assert isinstance(entry, ArchiveEntry)
        files[entry.path] = b"".join(entry.chunks)
        times[entry.path] = entry.mtime.timestamp() if entry.mtime else None
    assert files == {"services/agenda/files/Photos/été 2024.jpg": big,
                     "services/agenda/files/notes.txt": b"hello\n"}  # fmt: skip
    assert set(times.values()) == {STAMP}


def test_files_delete_leaves_nothing_on_the_server(
    wsgidav: servers.Process, password_file: Path
) -> None:
    seed_files(wsgidav, "dave", {"a/b/c.txt": b"c", "top.txt": b"t"})
    seed_files(wsgidav, "erin", {"keep.txt": b"k"})
    result = files_connector(wsgidav, password_file).delete(person("dave"))
    assert result.ok, result.detail
    assert list((wsgidav.home / "files" / "dave").iterdir()) == []
    assert (wsgidav.home / "files" / "erin" / "keep.txt").exists()
    assert files_connector(wsgidav, password_file).delete(person("dave")).ok


# Options and formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"admin_user": "p", "password_env": "HOME"}, "connector.url is missing"),
        ({"url": "https://x", "password_env": "HOME"}, "connector.admin_user is missing"),
        ({"url": "https://x", "admin_user": "p"}, "connector.password_file is missing"),
        ({"url": "https://x", "admin_user": "p", "password": "pw"},
         "password: secrets do not belong in hoster.toml"),
        ({"url": "https://x", "admin_user": "p", "password_env": "HOME", "files": "yes"},
         "connector.files must be true or false"),
        ({"url": "https://x", "admin_user": "p", "password_env": "HOME", "login": "bob"},
         "connector.login must contain {uid} or {email}"),
        ({"url": "https://x", "admin_user": "p", "password_env": "HOME", "login": "{user}"},
         "connector.login: '{user}' may only use {uid}, {email}"),
        ({"url": "https://x", "admin_user": "p", "password_env": "HOME", "calendars": True},
         "calendars is not a known key of this connector"),
        ({"url": "https://x", "admin_user": "p", "password_env": "HOME", "caldav": False,
          "carddav": False}, "nothing to do"),
    ],
)  # fmt: skip
def test_options_are_checked_at_start_with_the_key_named(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        build(dav, "agenda", options)
    assert message in str(caught.value)


def test_long_lines_are_folded_without_cutting_a_character() -> None:
    folded = _fold("X-WR-CALNAME:" + "é" * 80)
    lines = folded.encode().split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert folded.replace("\r\n ", "") == "X-WR-CALNAME:" + "é" * 80 + "\r\n"


def test_calendar_merge_keeps_todos_and_each_time_zone_once() -> None:
    merger = CalendarMerger()
    one = (
        "BEGIN:VCALENDAR\nVERSION:2.0\n"
        + servers.VTIMEZONE_PARIS
        + "BEGIN:VTODO\nUID:1\nDTSTAMP:20240101T000000Z\nEND:VTODO\nEND:VCALENDAR\n"
    )
    text = merger.header("x") + merger.components(one) + merger.components(one) + merger.footer()
    calendar = icalendar.Calendar.from_ical(text)
    assert len(calendar.walk("VTIMEZONE")) == 1
    assert len(calendar.walk("VTODO")) == 2


def test_discovery_follows_the_well_known_redirect_on_the_same_server(
    alice_calendars: servers.Process, password_file: Path
) -> None:
    agenda = build(dav, "agenda", {"url": alice_calendars.url + "/.well-known/caldav",
                                   "admin_user": servers.ADMIN_USER,
                                   "password_file": str(password_file)})  # fmt: skip
    files, _ = collect(agenda.export(person()))
    assert sorted(files) == [
        "services/agenda/calendars/Travail & réunions.ics",
        "services/agenda/contacts/Contacts.vcf",
    ]
