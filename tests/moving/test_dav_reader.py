"""The .ics and .vcf readers of moving house: the inverse of the `dav` export, one item per UID."""

from __future__ import annotations

import hashlib
import io
import time

import icalendar
import pytest

from app.connectors.dav import CalendarMerger, _fold, vcards
from app.connectors.importing import ImportItem, Malformed
from app.moving.readers import dav as reader

PARIS = """\
BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
"""
NEW_YORK = PARIS.replace("Europe/Paris", "America/New_York")


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def calendar_object(body: str, zones: str = PARIS) -> str:
    """One object as a CalDAV server answers it (a VCALENDAR of its own)."""
    return crlf("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//server//EN\n" + zones + body
                + "END:VCALENDAR\n")  # fmt: skip


WEEKLY = """\
BEGIN:VEVENT
UID:weekly@example.org
DTSTAMP:20240101T000000Z
DTSTART;TZID=Europe/Paris:20240108T100000
DURATION:PT1H
SUMMARY:Réunion d'équipe, avec un titre assez long pour être plié en plusieurs lignes
RRULE:FREQ=WEEKLY;COUNT=10
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:Rappel
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:weekly@example.org
DTSTAMP:20240101T000000Z
RECURRENCE-ID;TZID=Europe/Paris:20240115T100000
DTSTART;TZID=Europe/Paris:20240115T110000
DURATION:PT1H
SUMMARY:Réunion déplacée
END:VEVENT
"""
TODO = """\
BEGIN:VTODO
UID:todo-1
DTSTAMP:20240101T000000Z
SUMMARY:Acheter du pain
STATUS:NEEDS-ACTION
END:VTODO
"""
NY = """\
BEGIN:VEVENT
UID:ny-1
DTSTAMP:20240101T000000Z
DTSTART;TZID="America/New_York":20240301T090000
SUMMARY:Call
END:VEVENT
"""


def export_of(objects: list[str], name: str = "Travail & réunions") -> bytes:
    """What the dav export writes for a calendar holding these objects."""
    merger = CalendarMerger()
    return merger.header(name) + b"".join(merger.components(o) for o in objects) + (
        merger.footer())  # fmt: skip


def read(data: bytes, name: str = "Agenda") -> list[ImportItem | Malformed]:
    return list(reader.read_calendar(io.BytesIO(data), name))


def props(component: icalendar.cal.Component) -> list[tuple[str, str]]:
    items = component.property_items(recursive=False)
    return sorted((k, text(v.to_ical() if hasattr(v, "to_ical") else v))
                  for k, v in items if k not in ("BEGIN", "END"))  # fmt: skip


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def test_export_then_read_gives_one_item_per_uid_with_every_property() -> None:
    objects = [
        calendar_object(WEEKLY),
        calendar_object(TODO, zones=""),
        calendar_object(NY, zones=NEW_YORK),
    ]
    items = read(export_of(objects))
    assert all(isinstance(i, ImportItem) for i in items), items
    assert [i.key for i in items] == ["weekly@example.org", "todo-1", "ny-1"]
    assert [i.name for i in items] == ["Agenda/weekly@example.org", "Agenda/todo-1", "Agenda/ny-1"]
    for item, original in zip(items, objects, strict=True):
        assert isinstance(item, ImportItem) and item.data is not None
        assert item.size == len(item.data)
        got = icalendar.Calendar.from_ical(item.data)
        want = icalendar.Calendar.from_ical(original)
        # The same components, properties and alarms; the time zones it uses, once.
        assert [(c.name, props(c)) for c in got.walk() if c.name != "VCALENDAR"] == [
            (c.name, props(c)) for c in want.walk() if c.name != "VCALENDAR"
        ]
        assert "X-WR-CALNAME" not in got and "METHOD" not in got
    weekly = icalendar.Calendar.from_ical(items[0].data)  # type: ignore[union-attr]
    assert len(weekly.walk("VEVENT")) == 2 and len(weekly.walk("VTIMEZONE")) == 1
    assert icalendar.Calendar.from_ical(items[1].data).walk("VTIMEZONE") == []  # type: ignore[union-attr]


def test_the_export_merges_time_zones_and_the_reader_gives_each_item_its_own() -> None:
    second = WEEKLY.replace("weekly@example.org", "other@example.org")
    data = export_of([calendar_object(WEEKLY), calendar_object(second)])
    assert data.count(b"BEGIN:VTIMEZONE") == 1  # written once by the export
    items = read(data)
    assert [i.key for i in items] == ["weekly@example.org", "other@example.org"]
    for item in items:
        assert isinstance(item, ImportItem) and item.data is not None
        assert item.data.count(b"BEGIN:VTIMEZONE") == 1


def test_folded_lines_are_kept_as_they_were_and_non_ascii_survives() -> None:
    folded = _fold("DESCRIPTION:" + "Ordre du jour : budget, été, comptes. " * 5)
    items = read(export_of([calendar_object(WEEKLY.replace("DURATION", folded + "DURATION"))]))
    data = items[0].data  # type: ignore[union-attr]
    assert folded.encode() in data
    event = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]
    assert str(event["SUMMARY"]).startswith("Réunion d'équipe")
    assert str(event["DESCRIPTION"]).startswith("Ordre du jour : budget, été")


def test_a_broken_event_is_refused_by_name_and_the_others_are_read() -> None:
    broken = TODO.replace("VTODO", "VEVENT").replace("todo-1", "broken-1")
    broken = broken.replace("SUMMARY", "DTSTART:not-a-date\nSUMMARY")
    cut = "BEGIN:VEVENT\nUID:cut-1\nSUMMARY:never ends\n"
    text = crlf("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\n" + PARIS + WEEKLY + broken + NY
                + "END:VCALENDAR\n" + "BEGIN:VCALENDAR\nVERSION:2.0\n" + TODO + cut)  # fmt: skip
    items = read(text.encode())
    outcomes = [(i.name, type(i).__name__) for i in items]
    assert outcomes == [
        ("Agenda/weekly@example.org", "ImportItem"),
        ("Agenda/broken-1", "Malformed"),
        ("Agenda/ny-1", "ImportItem"),
        ("Agenda/todo-1", "ImportItem"),
        ("Agenda/cut-1", "Malformed"),
    ]
    assert items[1].reason == reader.INVALID_CALENDAR  # type: ignore[union-attr]
    assert items[4].reason in (reader.CUT_OFF, reader.UNBALANCED)  # type: ignore[union-attr]


def test_mismatched_end_lines_refuse_that_object_only() -> None:
    text = crlf("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:a\nDTSTART:20240101T000000Z\n"
                "BEGIN:VALARM\nEND:VEVENT\n" + NY + "END:VCALENDAR\n")  # fmt: skip
    items = read(text.encode())
    assert [(i.name, type(i).__name__) for i in items] == [
        ("Agenda/a", "Malformed"),
        ("Agenda/ny-1", "ImportItem"),
    ]


def test_an_object_too_big_is_refused_without_holding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_OBJECT_BYTES", 10_000)
    big = (
        "BEGIN:VEVENT\nUID:big\nDTSTART:20240101T000000Z\n" + "COMMENT:x\n" * 5000 + "END:VEVENT\n"
    )
    items = read(crlf("BEGIN:VCALENDAR\nVERSION:2.0\n" + big + NY + "END:VCALENDAR\n").encode())
    assert [(i.name, getattr(i, "reason", None)) for i in items] == [
        ("Agenda/big", reader.TOO_BIG), ("Agenda/ny-1", None)]  # fmt: skip


def test_an_endless_line_is_refused_and_reading_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1000)
    text = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:long\r\nDESCRIPTION:" + "y" * 5000
            + "\r\nEND:VEVENT\r\n" + crlf(NY) + "END:VCALENDAR\r\n")  # fmt: skip
    items = read(text.encode())
    assert [(i.name, getattr(i, "reason", None)) for i in items] == [
        ("Agenda/long", reader.TOO_BIG), ("Agenda/ny-1", None)]  # fmt: skip


def test_components_of_one_uid_far_apart_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "WINDOW_UIDS", 2)
    others = "".join(NY.replace("ny-1", f"n{i}") for i in range(4))
    override = WEEKLY[WEEKLY.index("BEGIN:VEVENT", 10) :]
    head = WEEKLY[: WEEKLY.index("BEGIN:VEVENT", 10)]
    text = crlf("BEGIN:VCALENDAR\nVERSION:2.0\n" + PARIS + head + others + override
                + "END:VCALENDAR\n")  # fmt: skip
    items = read(text.encode())
    assert ("Agenda/weekly@example.org", reader.SCATTERED) in [
        (i.name, getattr(i, "reason", None)) for i in items
    ]
    assert sum(1 for i in items if isinstance(i, ImportItem)) == 5


def test_an_event_without_uid_is_keyed_by_its_digest() -> None:
    text = crlf("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nDTSTAMP:20240101T000000Z\n"
                "DTSTART:20240101T100000Z\nSUMMARY:no uid\nEND:VEVENT\n"
                "END:VCALENDAR\n")  # fmt: skip
    (item,) = read(text.encode())
    assert isinstance(item, ImportItem) and item.key.startswith("sha256:")
    assert read(text.encode())[0].key == item.key  # type: ignore[union-attr]


def test_text_outside_any_calendar_is_named_once() -> None:
    text = (
        b"hello\r\nworld\r\n"
        + crlf("BEGIN:VCALENDAR\nVERSION:2.0\n" + NY + "END:VCALENDAR\n").encode()
    )
    items = read(text)
    assert [(i.name, getattr(i, "reason", None)) for i in items] == [
        ("Agenda #1", reader.OUTSIDE), ("Agenda/ny-1", None)]  # fmt: skip


# Contacts ----------------------------------------------------------------------------------------

ZOE = (
    "BEGIN:VCARD\nVERSION:3.0\nUID:zoe-1\nFN:Zoé Lefèvre\nN:Lefèvre;Zoé;;;\n"
    "item1.EMAIL;TYPE=INTERNET:zoe@example.org\nEND:VCARD\n"
)
SAM = (
    "BEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:5b8a\nFN:Sam\n"
    'TEL;VALUE=uri;TYPE="voice,home":tel:+33-1\nEND:VCARD\n'
)
NO_UID = "BEGIN:VCARD\nVERSION:3.0\nFN:Anonyme\nEND:VCARD\n"


def contacts(data: bytes) -> list[ImportItem | Malformed]:
    return list(reader.read_contacts(io.BytesIO(data), "Contacts"))


def test_export_then_read_gives_each_vcard_as_it_was() -> None:
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 400 + "\n"
    zoe = ZOE.replace("END:VCARD", photo + "END:VCARD")
    exported = vcards(zoe) + vcards(SAM.replace("\n", "\r\n"))  # as _address_book writes them
    items = contacts(exported)
    assert [(i.name, i.key) for i in items] == [  # type: ignore[union-attr]
        ("Contacts/zoe-1", "zoe-1"), ("Contacts/urn:uuid:5b8a", "urn:uuid:5b8a")]  # fmt: skip
    assert b"".join(i.data for i in items) == exported  # type: ignore[union-attr, misc]


def test_a_vcard_without_uid_gets_its_digest_as_key() -> None:
    (item,) = contacts(crlf(NO_UID).encode())
    assert isinstance(item, ImportItem)
    assert item.key == "sha256:" + hashlib.sha256(crlf(NO_UID).encode()).hexdigest()


def test_broken_vcards_are_refused_one_by_one() -> None:
    no_colon = "BEGIN:VCARD\nVERSION:3.0\nUID:bad-1\nFN Missing colon\nEND:VCARD\n"
    no_version = "BEGIN:VCARD\nUID:bad-2\nFN:x\nEND:VCARD\n"
    latin1 = crlf("BEGIN:VCARD\nVERSION:3.0\nUID:bad-3\nFN:Zo\xe9\nEND:VCARD\n").encode("latin-1")
    cut = "BEGIN:VCARD\nVERSION:3.0\nUID:bad-4\nFN:cut\n"
    data = crlf(ZOE + no_colon + no_version).encode() + latin1 + crlf(SAM + cut).encode()
    got = [(i.name, getattr(i, "reason", None)) for i in contacts(data)]
    assert got == [
        ("Contacts/zoe-1", None),
        ("Contacts/bad-1", reader.INVALID_CARD),
        ("Contacts/bad-2", reader.NO_VERSION),
        ("Contacts/bad-3", reader.NOT_UTF8),
        ("Contacts/urn:uuid:5b8a", None),
        ("Contacts/bad-4", reader.CUT_OFF),
    ]


def test_a_nested_agent_vcard_stays_inside_its_card() -> None:
    agent = ZOE.replace("END:VCARD\n", "BEGIN:VCARD\nVERSION:3.0\nFN:Agent\nEND:VCARD\nEND:VCARD\n")
    items = contacts(crlf(agent + SAM).encode())
    assert [i.key for i in items] == ["zoe-1", "urn:uuid:5b8a"]  # type: ignore[union-attr]


def test_reading_a_large_calendar_holds_one_window_at_a_time() -> None:
    """2 000 events stream through; the reader never keeps more than its window."""
    body = "".join(NY.replace("ny-1", f"e{i}") for i in range(2_000))
    data = crlf("BEGIN:VCALENDAR\nVERSION:2.0\n" + PARIS + body + "END:VCALENDAR\n").encode()
    count = 0
    for item in reader.read_calendar(io.BytesIO(data), "Big"):
        assert isinstance(item, ImportItem)
        count += 1
    assert count == 2_000


def test_a_card_with_a_big_folded_photo_is_read_in_linear_time() -> None:
    photo = _fold("PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 1_000_000)  # 4 MB, 53 000 lines
    card = crlf(ZOE).replace("END:VCARD", photo + "END:VCARD").encode()
    started = time.process_time()
    (item,) = contacts(card)
    assert isinstance(item, ImportItem) and item.data == card
    assert time.process_time() - started < 20  # quadratic joining would take minutes


def test_a_byte_order_mark_and_bare_line_feeds_are_read() -> None:
    text = "\ufeffBEGIN:VCALENDAR\nVERSION:2.0\n" + NY + "END:VCALENDAR\n"
    (item,) = read(text.encode("utf-8"))
    assert isinstance(item, ImportItem) and item.key == "ny-1"
    assert item.data is not None and b"\r\nUID:ny-1\r\n" in item.data
    (card,) = contacts(("\ufeff" + ZOE).encode("utf-8"))
    assert isinstance(card, ImportItem) and card.key == "zoe-1"
