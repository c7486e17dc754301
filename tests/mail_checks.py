"""Mail read raw, as a mail client reads it (RFC 5322, 2369, 8058): the tests' checks."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
ANGLE_LIST = re.compile(r"<[^<>\s]+>(?:\s*,\s*<[^<>\s]+>)*")
# Headers a client reads as written: never RFC 2047 encoded-words.
AS_WRITTEN = ("list-unsubscribe", "list-unsubscribe-post", "list-id", "message-id", "references")


def raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """The header fields of a raw message, unfolded, in order, values as sent."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    fields: list[tuple[str, str]] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, (value + " " + line.strip()).strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name, value.strip()))
    return fields


def problems(raw: bytes) -> list[str]:
    """What a mail client would read wrong in this message; empty when it reads right."""
    found: list[str] = []
    fields = raw_headers(raw)
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name.lower(), []).append(value)
    for name in ("date", "message-id", "from", "to", "subject"):
        if len(values.get(name, [])) != 1:
            found.append(f"{name}: {len(values.get(name, []))} fields, not one")
    for value in values.get("date", []):
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            found.append(f"Date {value!r} cannot be read")
        else:
            if when.tzinfo is None:
                found.append(f"Date {value!r} has no zone")
    for value in values.get("message-id", []):
        if not MESSAGE_ID.fullmatch(value):
            found.append(f"Message-ID {value!r} is not <left@domain>")
    for name in AS_WRITTEN:
        for value in values.get(name, []):
            if "=?" in value:
                found.append(f"{name} is encoded as RFC 2047 words: {value[:80]!r}")
    for value in values.get("list-unsubscribe", []):
        if not ANGLE_LIST.fullmatch(value) or not value.startswith(("<https://", "<http://")):
            found.append(f"List-Unsubscribe {value!r} is not <https://…>")
        if values.get("list-unsubscribe-post") != ["List-Unsubscribe=One-Click"]:
            found.append("List-Unsubscribe without List-Unsubscribe-Post: One-Click (RFC 8058)")
    for line in raw.split(b"\n"):
        if len(line.rstrip(b"\r")) > 998:
            found.append("a line longer than 998 characters")
            break
    return found
