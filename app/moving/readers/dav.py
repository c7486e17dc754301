"""Calendars (.ics) and address books (.vcf) of an archive cut into items, one per UID.

The inverse of the `dav` export (app/connectors/dav/connector.py `_calendar`,
`_address_book` and calendar.py): an export's calendar is one VCALENDAR holding every
object's components, each VTIMEZONE once; an address book is the vCards one after another.

- `read_calendar` gives one item per UID: every VEVENT, VTODO or VJOURNAL with that UID
  (the recurring event and its RECURRENCE-ID overrides), with the VTIMEZONEs they use,
  wrapped in a VCALENDAR, ready for a CalDAV PUT. Its key is the UID.
- `read_contacts` gives one item per VCARD; its key is the UID, or "sha256:<digest>" of the
  card when it has none (the importer then gives it that UID).

Memory stays bounded whatever the file's size: the stream is read line by line (folded
lines joined, RFC 5545 3.1), cut on BEGIN/END at the top level, and each object is checked
with the icalendar library on its own. Components of one UID are grouped while they are
near each other in the file (the export writes them together); an object too big, cut off,
or that the library cannot read becomes a `Malformed` with a plain reason, and the reading
goes on with the next one. The original lines are kept as they were (no re-folding).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from app.connectors.base import N_
from app.connectors.importing import ImportItem, Malformed

# One object (an event with its overrides, a vCard with its photo) is at most this big.
MAX_OBJECT_BYTES = 16 * 1024 * 1024
# A physical line longer than this is not iCalendar (lines are folded at 75 octets).
MAX_LINE_BYTES = 1024 * 1024
# Components of one UID are grouped while at most this many other UIDs (or bytes) wait.
WINDOW_UIDS = 64
WINDOW_BYTES = 8 * 1024 * 1024

TOO_BIG = N_("the object is bigger than 16 MiB")
CUT_OFF = N_("the object is cut off (the file ends before its END line)")
UNBALANCED = N_("the object's BEGIN and END lines do not match")
INVALID_CALENDAR = N_("invalid calendar data")
INVALID_CARD = N_("invalid contact data (vCard)")
NOT_UTF8 = N_("the object is not UTF-8 text")
SCATTERED = N_(
    "the parts of this event are far apart in the file: the later ones were not imported"
)
OUTSIDE = N_("text outside any calendar or vCard")
NO_VERSION = N_("the vCard has no VERSION")
REASONS = (
    TOO_BIG, CUT_OFF, UNBALANCED, INVALID_CALENDAR, INVALID_CARD, NOT_UTF8, SCATTERED,
    OUTSIDE, NO_VERSION,
)  # fmt: skip

# Calendar properties an item keeps from its file; METHOD has no place in CalDAV (RFC 4791
# 4.1) and X-WR-CALNAME names the calendar, which the collection's display name does.
_KEPT_CALENDAR_PROPERTIES = ("VERSION", "PRODID", "CALSCALE")
_TZID_PARAMETER = re.compile(rb';TZID=(?:"([^"]*)"|([^;:]*))', re.IGNORECASE)
_OBJECTS = (b"VEVENT", b"VTODO", b"VJOURNAL", b"VFREEBUSY", b"VAVAILABILITY")


# Lines -----------------------------------------------------------------------------------------


@dataclass
class _Line:
    """One logical (unfolded) line and the physical lines it came from."""

    logical: bytes  # without its line end
    raw: list[bytes]  # each without its line end
    overlong: bool = False

    @property
    def size(self) -> int:
        return sum(len(r) + 2 for r in self.raw)

    def name(self) -> bytes:
        """The property name, upper case, without its group ("item1.TEL" → b"TEL")."""
        head = re.split(rb"[;:]", self.logical, maxsplit=1)[0]
        return head.rsplit(b".", 1)[-1].strip().upper()

    def value(self) -> bytes:
        """The value after the first colon outside quotes."""
        quoted = False
        for i, byte in enumerate(self.logical):
            if byte == 0x22:  # "
                quoted = not quoted
            elif byte == 0x3A and not quoted:  # :
                return self.logical[i + 1 :]
        return b""


def _physical(stream: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """(line without its end, was longer than MAX_LINE_BYTES) of the stream, in order."""
    first = True
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if first:  # a byte order mark, as some desktop programs write
            line, first = line.removeprefix(b"\xef\xbb\xbf"), False
        overlong = False
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            overlong = True
            line = line[:MAX_LINE_BYTES]
            while True:  # drop the rest of the line, a chunk at a time
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line.rstrip(b"\r\n"), overlong


def _lines(stream: IO[bytes]) -> Iterator[_Line]:
    """Logical lines: a physical line starting with a space or a tab continues the last.

    The pieces of a long folded value (a vCard's photo) are joined once, at its end.
    """
    pieces: list[bytes] = []
    raw_lines: list[bytes] = []
    length = 0
    overlong = False
    for raw, too_long in _physical(stream):
        if raw[:1] in (b" ", b"\t") and raw_lines:
            length += len(raw) - 1
            if length <= MAX_OBJECT_BYTES:
                pieces.append(raw[1:])
                raw_lines.append(raw)
            else:
                overlong = True
            overlong = overlong or too_long
            continue
        if raw_lines:
            yield _Line(b"".join(pieces), raw_lines, overlong)
        pieces, raw_lines, length, overlong = [raw], [raw], len(raw), too_long
    if raw_lines:
        yield _Line(b"".join(pieces), raw_lines, overlong)


def _begin(line: _Line) -> bytes | None:
    if line.logical[:6].upper() == b"BEGIN:":
        return line.logical[6:].strip().upper()
    return None


def _end(line: _Line) -> bytes | None:
    if line.logical[:4].upper() == b"END:":
        return line.logical[4:].strip().upper()
    return None


# Objects ----------------------------------------------------------------------------------------


@dataclass
class _Object:
    """One top-level component being read: its lines, its UID and what is wrong with it."""

    kind: bytes
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    uid: str | None = None
    tzids: set[str] = field(default_factory=set)
    problem: str | None = None
    stack: list[bytes] = field(default_factory=list)

    def add(self, line: _Line) -> None:
        if line.overlong:
            self.problem = self.problem or TOO_BIG
        self.size += line.size
        if self.size > MAX_OBJECT_BYTES:
            self.problem = self.problem or TOO_BIG
            self.lines = []
        if self.problem != TOO_BIG:
            self.lines.extend(line.raw)


def _objects(
    stream: IO[bytes], container: bytes | None, calendar_props: list[bytes]
) -> Iterator[_Object | Malformed]:
    """Each component at the top level (inside `container` when given), as read.

    `calendar_props` receives the container's own property lines (VERSION, PRODID…).
    """
    depth = 0 if container else 1  # 1: inside the (implicit) container
    current: _Object | None = None
    outside = False
    for line in _lines(stream):
        if not line.logical.strip():
            continue
        begin, end = _begin(line), _end(line)
        if current is not None:
            current.add(line)
            if begin is not None:
                current.stack.append(begin)
            elif end is not None:
                if end not in current.stack:
                    current.problem = current.problem or UNBALANCED
                    if container is not None and end == container:
                        # The container closes: the object was never closed.
                        yield current
                        current, depth = None, 0
                    continue
                while current.stack and current.stack[-1] != end:
                    current.stack.pop()
                    current.problem = current.problem or UNBALANCED
                current.stack.pop()
                if not current.stack:
                    yield current
                    current = None
            elif len(current.stack) == 1:
                name = line.name()
                if name == b"UID":
                    current.uid = _text(line.value()).strip() or None
                elif current.kind == b"VTIMEZONE" and name == b"TZID":
                    current.tzids.add(_text(line.value()).strip())
            if current is not None and current.kind != b"VTIMEZONE":
                for quoted, plain in _TZID_PARAMETER.findall(line.logical.split(b":", 1)[0]):
                    current.tzids.add(_text(quoted or plain).strip())
            continue
        if container is not None and depth == 0:
            if begin == container:
                depth = 1
                calendar_props.clear()
                outside = False
            elif not outside:
                outside = True
                yield Malformed("", OUTSIDE)
            continue
        if container is not None and end == container:
            depth = 0
            continue
        if begin is not None:
            current = _Object(begin, stack=[begin])
            current.add(line)
            outside = False
        elif end is not None:
            if not outside:
                outside = True
                yield Malformed("", UNBALANCED)
        elif container is not None:
            if line.name().decode("ascii", "replace") in _KEPT_CALENDAR_PROPERTIES:
                calendar_props.append(b"\r\n".join(line.raw))
        elif not outside:
            outside = True
            yield Malformed("", OUTSIDE)
    if current is not None:
        current.problem = current.problem or CUT_OFF
        yield current


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


# Calendars ---------------------------------------------------------------------------------------


@dataclass
class _Group:
    uid: str
    objects: list[_Object] = field(default_factory=list)
    size: int = 0
    problem: str | None = None


def read_calendar(stream: IO[bytes], name: str) -> Iterator[ImportItem | Malformed]:
    """One ImportItem per UID of an .ics file (see the module's docstring)."""
    calendar_props: list[bytes] = []
    time_zones: dict[str, bytes] = {}
    pending: dict[str, _Group] = {}
    done: set[str] = set()
    anonymous = 0
    for found in _objects(stream, b"VCALENDAR", calendar_props):
        if isinstance(found, Malformed):
            anonymous += 1
            yield Malformed(f"{name} #{anonymous}", found.reason)
            continue
        if found.kind == b"VTIMEZONE":
            zone = b"\r\n".join(found.lines) + b"\r\n"
            # Checked once here, not with each object that uses it.
            if found.problem is None and _check_time_zone(zone):
                for tzid in found.tzids:
                    time_zones.setdefault(tzid, zone)
            continue
        if found.uid is None:
            # Nothing to group it with: an item of its own, named by its digest.
            group = _Group("", [found], found.size, found.problem)
            yield _calendar_item(name, group, calendar_props, time_zones)
            continue
        if found.uid in done:
            yield Malformed(f"{name}/{found.uid}", SCATTERED)
            continue
        group = pending.setdefault(found.uid, _Group(found.uid))
        group.objects.append(found)
        group.size += found.size
        group.problem = group.problem or found.problem
        while len(pending) > WINDOW_UIDS or (
            len(pending) > 1 and sum(g.size for g in pending.values()) > WINDOW_BYTES
        ):
            oldest = pending.pop(next(iter(pending)))
            done.add(oldest.uid)
            yield _calendar_item(name, oldest, calendar_props, time_zones)
    for group in pending.values():
        yield _calendar_item(name, group, calendar_props, time_zones)


def _calendar_item(
    name: str, group: _Group, calendar_props: list[bytes], time_zones: dict[str, bytes]
) -> ImportItem | Malformed:
    body = b"".join(b"\r\n".join(o.lines) + b"\r\n" for o in group.objects)
    key = group.uid or "sha256:" + hashlib.sha256(body).hexdigest()
    label = f"{name}/{group.uid or key}"
    if group.problem is not None:
        return Malformed(label, group.problem)
    if group.size > MAX_OBJECT_BYTES:
        return Malformed(label, TOO_BIG)
    tzids = sorted({t for o in group.objects for t in o.tzids})
    head = [b"BEGIN:VCALENDAR"]
    props = {re.split(rb"[;:]", p, maxsplit=1)[0].upper(): p for p in calendar_props}
    head.append(props.get(b"VERSION", b"VERSION:2.0"))
    head.append(props.get(b"PRODID", b"PRODID:-//chatons-panel//moving house//EN"))
    if b"CALSCALE" in props:
        head.append(props[b"CALSCALE"])
    start = b"\r\n".join(head) + b"\r\n"
    problem = _check_calendar(start + body + b"END:VCALENDAR\r\n")
    if problem is not None:
        return Malformed(label, problem)
    zones = b"".join(time_zones[t] for t in tzids if t in time_zones)
    data = start + zones + body + b"END:VCALENDAR\r\n"
    return ImportItem(name=label, key=key, size=len(data), data=data)


def _check_time_zone(zone: bytes) -> bool:
    """True when the library reads the VTIMEZONE without an error."""
    return _check_calendar(b"BEGIN:VCALENDAR\r\n" + zone + b"END:VCALENDAR\r\n", zone=True) is None


def _check_calendar(data: bytes, *, zone: bool = False) -> str | None:
    """None when the icalendar library reads the object without an error."""
    # Loaded here: only the worker that imports a calendar pays for it.
    import icalendar

    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, KeyError, IndexError, TypeError):
        return INVALID_CALENDAR
    for component in calendar.walk():
        if getattr(component, "errors", None):
            return INVALID_CALENDAR
        if component.name in ("VEVENT", "VTODO", "VJOURNAL"):
            try:
                for prop in ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "DTSTAMP"):
                    if prop in component:
                        component.decoded(prop)
            except (ValueError, KeyError, TypeError):
                return INVALID_CALENDAR
    if not zone and not any((c.name or "").encode() in _OBJECTS for c in calendar.subcomponents):
        return INVALID_CALENDAR
    return None


# Address books ----------------------------------------------------------------------------------


def read_contacts(stream: IO[bytes], name: str) -> Iterator[ImportItem | Malformed]:
    """One ImportItem per vCard of a .vcf file (see the module's docstring)."""
    anonymous = 0
    for found in _objects(stream, None, []):
        if isinstance(found, Malformed):
            anonymous += 1
            yield Malformed(f"{name} #{anonymous}", found.reason)
            continue
        data = b"\r\n".join(found.lines) + b"\r\n"
        key = found.uid or "sha256:" + hashlib.sha256(data).hexdigest()
        label = f"{name}/{found.uid or key}"
        problem = found.problem
        if problem is None and found.kind != b"VCARD":
            problem = INVALID_CARD
        if problem is None:
            problem = _check_card(data)
        if problem is not None:
            yield Malformed(label, problem)
            continue
        yield ImportItem(name=label, key=key, size=len(data), data=data)


def _check_card(data: bytes) -> str | None:
    """None when every content line of the card is one (RFC 6350 3.3) and it has VERSION."""
    from icalendar.parser import Contentline  # see _check_calendar

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8
    version = False
    unfolded = re.sub(r"\r\n[ \t]", "", text)
    for line in unfolded.split("\r\n"):
        if not line:
            continue
        colon = _value_start(line)
        if colon < 0:
            return INVALID_CARD
        try:
            # The name and parameters only: a value may be megabytes of photo, parsed by
            # the library a character at a time, and any text is a value.
            prop, _params, _value = Contentline(line[:colon] + ":").parts()
        except ValueError:
            return INVALID_CARD
        version = version or prop.rsplit(".", 1)[-1].upper() == "VERSION"
    return None if version else NO_VERSION


def _value_start(line: str) -> int:
    """The index of the colon that ends a content line's name and parameters, or -1."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return i
    return -1
