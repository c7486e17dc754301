"""iCalendar and vCard for the `dav` export: calendars merged into one file each, vCards.

Each calendar becomes one VCALENDAR holding every object's components (each time zone
once), written while the server's answer arrives.
"""

from __future__ import annotations

PRODID = "-//chatons-panel//data export//EN"


def _ical_text(value: str) -> str:
    """An iCalendar TEXT value (RFC 5545 3.3.11)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without cutting a UTF-8 character (RFC 5545 3.1)."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line + "\r\n"
    pieces: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode("utf-8")) > limit:
            pieces.append(current)
            current = " "
            limit = 75
        current += char
    pieces.append(current)
    return "\r\n".join(pieces) + "\r\n"


def _lines(text: str) -> list[str]:
    """Content lines as sent, without their line ends (XML turned CRLF into LF)."""
    return [line.rstrip("\r") for line in text.split("\n") if line.strip("\r")]


def _unfolded_value(lines: list[str], name: str) -> str | None:
    """The value of the first property `name` among `lines` (folded lines joined)."""
    joined: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and joined:
            joined[-1] += line[1:]
        else:
            joined.append(line)
    for line in joined:
        head, _sep, value = line.partition(":")
        if head.split(";", 1)[0].upper() == name:
            return value
    return None


class CalendarMerger:
    """Components of many VCALENDAR objects written as one, each VTIMEZONE once."""

    def __init__(self) -> None:
        self.time_zones: set[str] = set()

    def header(self, name: str) -> bytes:
        text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + _fold(f"PRODID:{PRODID}")
        text += "CALSCALE:GREGORIAN\r\n" + _fold(f"X-WR-CALNAME:{_ical_text(name)}")
        return text.encode("utf-8")

    @staticmethod
    def footer() -> bytes:
        return b"END:VCALENDAR\r\n"

    def components(self, calendar_object: str) -> bytes:
        """The components of one object (events, to-dos, time zones not yet written)."""
        out: list[str] = []
        current: list[str] = []
        depth = 0
        for line in _lines(calendar_object):
            upper = line.upper()
            if upper.startswith("BEGIN:"):
                depth += 1
            if depth >= 2:
                current.append(line)
            if upper.startswith("END:"):
                depth -= 1
                if depth == 1 and current:
                    out.extend(self._keep(current))
                    current = []
        return "".join(line + "\r\n" for line in out).encode("utf-8")

    def _keep(self, component: list[str]) -> list[str]:
        if component[0].upper() != "BEGIN:VTIMEZONE":
            return component
        tzid = _unfolded_value(component, "TZID") or ""
        if tzid in self.time_zones:
            return []
        self.time_zones.add(tzid)
        return component


def vcards(address_data: str) -> bytes:
    """One or more vCards with CRLF line ends (RFC 6350 3.2)."""
    return "".join(line + "\r\n" for line in _lines(address_data)).encode("utf-8")
