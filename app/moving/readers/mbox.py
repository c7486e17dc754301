"""An exported mail folder (mboxrd, RFC 4155) read back one message at a time: the inverse
of the export's writer (app/connectors/imap/mbox.py).

Each message comes out as the export fetched it from the server: the From line gives its
internal date, the flag block after it (Status / X-Status / X-Keywords) its flags and is
taken off, one `>` comes off every `>+From ` line, and the one line end the writer adds
after each message comes off too. A foreign mbox (mutt, Thunderbird, an older export) has
no flag block: its messages stay as they are and their own Status headers give the flags.

The stream is read in chunks of a megabyte; only the message being cut out is held.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from typing import IO

from app.connectors.base import N_
from app.connectors.imap.mbox import (
    FLAG_BLOCK,
    flags_of_block,
    header_section,
    message_digest,
    message_id_key,
    unquote_from_lines,
)
from app.connectors.importing import ImportItem, Malformed

READ_CHUNK = 1024 * 1024
FROM_LINE_LIMIT = 1000  # a longer "From " line is no mbox separator but a broken file
_SEPARATOR = b"\nFrom "
_HEADER_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")  # a field name (RFC 5322 §2.2), then ':'
_STATUS = re.compile(rb"(?im)^status:[ \t]*([A-Z]*)")
_X_STATUS = re.compile(rb"(?im)^x-status:[ \t]*([A-Z]*)")
_X_KEYWORDS = re.compile(rb"(?im)^x-keywords:[ \t]*([^\r\n]*)")
_SUBJECT = re.compile(rb"(?im)^subject[ \t]*:(?P<value>[^\n]*(?:\n[ \t][^\n]*)*)")

NO_FROM_LINE = N_("text before the first message: this file does not start like an mbox")
FROM_LINE_TOO_LONG = N_("a “From ” line too long to separate messages: the file is damaged")
EMPTY_MESSAGE = N_("an empty message")
NO_HEADER = N_("this message has no header (sender, date, subject…)")
READER_MESSAGES = (NO_FROM_LINE, FROM_LINE_TOO_LONG, EMPTY_MESSAGE, NO_HEADER)


def from_line_date(line: bytes) -> datetime | None:
    """The date of a From line (`From sender Mon Dec  7 02:54:56 2026`), in UTC."""
    words = line.decode("ascii", "replace").split()
    # Sender, then the asctime date: weekday month day time year; some writers add a zone.
    for start in range(2, min(len(words), 4)):
        text = " ".join(words[start : start + 5])
        try:
            return datetime.strptime(text, "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _subject(header: bytes) -> str:
    found = _SUBJECT.search(header)
    if found is None:
        return ""
    raw = found["value"].replace(b"\r", b"").replace(b"\n", b"").strip()
    try:
        text = str(make_header(decode_header(raw.decode("utf-8", "replace"))))
    except (ValueError, LookupError, UnicodeError):
        text = raw.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _foreign_flags(header: bytes) -> tuple[str, ...]:
    """Flags of a message from another program's mbox, from its own headers."""
    status = _STATUS.search(header)
    x_status = _X_STATUS.search(header)
    keywords = _X_KEYWORDS.search(header)
    return flags_of_block(
        status[1] if status else b"",
        x_status[1] if x_status else None,
        keywords[1] if keywords else None,
    )


def _message(
    folder: str, number: int, buf: bytearray, start: int, end: int, line: bytes
) -> ImportItem | Malformed:
    """One message cut out of the mbox (quoted, without its From line and last line end):
    buf[start:end], copied once out of the reader's buffer."""
    name = f"{folder} #{number}"
    block = FLAG_BLOCK.match(buf, start, end)
    flags: tuple[str, ...] | None = None
    if block is not None:
        flags = flags_of_block(block["status"], block["x"], block["keywords"])
        start = block.end()
    del block
    data = unquote_from_lines(buf, start, end)
    if not data.strip():
        return Malformed(name, EMPTY_MESSAGE)
    if not _HEADER_FIELD.match(data):
        return Malformed(name, NO_HEADER)
    header = header_section(data)
    if flags is None:
        flags = _foreign_flags(header)
    subject = _subject(header)
    return ImportItem(
        name=f"{name} ({subject})" if subject else name,
        key=message_id_key(header) or message_digest(data),
        size=len(data),
        data=data,
        mtime=from_line_date(line),
        flags=flags,
    )


def read_mbox(stream: IO[bytes], folder: str) -> Iterator[ImportItem | Malformed]:
    """The messages of one mbox, in file order; a broken one as Malformed, by number."""
    buf = bytearray()
    at = 0  # where the current From line starts in buf
    eof = False

    def more() -> bool:
        """Read another chunk (dropping what was already handed out); False at the end."""
        nonlocal at, eof
        if eof:
            return False
        if at:
            del buf[:at]
            at = 0
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            eof = True
            return False
        buf.extend(chunk)
        return True

    while len(buf) < 5 and more():
        pass
    if not buf:
        return
    number = 0
    if not buf.startswith(b"From "):
        # Text before the first From line: reported once, then read from that line on.
        while (found := buf.find(_SEPARATOR)) == -1 and more():
            pass
        yield Malformed(f"{folder} #0", NO_FROM_LINE)
        if found == -1:
            return
        at = found + 1
    while at < len(buf) or more():
        number += 1
        # The From line.
        while (line_end := buf.find(b"\n", at)) == -1 and len(buf) - at <= FROM_LINE_LIMIT:
            if not more():
                break
        if line_end == -1 or line_end - at > FROM_LINE_LIMIT:
            yield Malformed(f"{folder} #{number}", FROM_LINE_TOO_LONG)
            return
        line = bytes(buf[at:line_end])
        # Up to the next From line (its line end belongs to this message), or the end.
        # Offsets from `at`: reading more moves what is kept to the start of the buffer.
        start = line_end + 1 - at
        search = start - 1
        while (found := buf.find(_SEPARATOR, at + search)) == -1:
            search = max(start - 1, len(buf) - at - len(_SEPARATOR) + 1)
            if not more():
                break
        end = len(buf) if found == -1 else found + 1
        # Without the line end the writer adds after each message.
        stop = end - 1 if end > at + start and buf[end - 1] == 0x0A else end
        item = _message(folder, number, buf, at + start, stop, line)
        at = end
        yield item
