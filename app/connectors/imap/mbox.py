"""mboxrd (RFC 4155): the export's format for a folder, written into one reused buffer."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

WRITE_CHUNK = 512 * 1024


# mboxrd ---------------------------------------------------------------------------------------


def mbox_from_line(received: datetime | None) -> bytes:
    when = (received or datetime(1970, 1, 1, tzinfo=UTC)).astimezone(UTC)
    return b"From MAILER-DAEMON " + when.strftime("%a %b %d %H:%M:%S %Y").encode() + b"\n"


# Flags, as mutt, Dovecot's mbox and Python's mailbox write them -----------------------------
#
# Right after its From line, each exported message gets a block of three header lines
# that carry its IMAP flags: `Status: RO` (R: \Seen; O: not new), `X-Status: AF` (A:
# \Answered, F: \Flagged, T: \Draft, D: \Deleted) and `X-Keywords: $Label1 todo`.
# Always the three, always in this order and with CRLF, so that the import (moving house)
# takes them off again and gets the message back byte for byte.

_STATUS_LETTERS = (("\\Answered", "A"), ("\\Flagged", "F"), ("\\Draft", "T"), ("\\Deleted", "D"))
FLAG_BLOCK = re.compile(
    rb"Status: (?P<status>R?O)\r\nX-Status:(?: (?P<x>[AFTD]+))?\r\n"
    rb"X-Keywords:(?: (?P<keywords>[!#$&'+-Z^-z|~ ]*))?\r\n"
)
_ATOM = re.compile(r"[!#$&'+-Z^-z|~]+")  # an IMAP atom (RFC 3501), no backslash: a keyword


def flag_block(flags: Iterable[str]) -> bytes:
    """The three header lines that carry a message's flags in the export."""
    given = {flag.lower() for flag in flags}
    status = b"RO" if "\\seen" in given else b"O"
    letters = "".join(letter for flag, letter in _STATUS_LETTERS if flag.lower() in given)
    keywords = " ".join(
        flag for flag in flags if not flag.startswith("\\") and _ATOM.fullmatch(flag)
    )
    x_status = b"X-Status: " + letters.encode() if letters else b"X-Status:"
    keyword_line = b"X-Keywords: " + keywords.encode() if keywords else b"X-Keywords:"
    return b"Status: " + status + b"\r\n" + x_status + b"\r\n" + keyword_line + b"\r\n"


def flags_of_block(
    status: bytes, x_status: bytes | None, keywords: bytes | None
) -> tuple[str, ...]:
    """The IMAP flags a flag block (or a foreign mbox's own headers) stands for."""
    found: list[str] = []
    if b"R" in status:
        found.append("\\Seen")
    letters = (x_status or b"").decode("ascii", "replace")
    found += [flag for flag, letter in _STATUS_LETTERS if letter in letters]
    for word in (keywords or b"").decode("ascii", "replace").replace(",", " ").split():
        if _ATOM.fullmatch(word) and word not in found:
            found.append(word)
    return tuple(found)


# What "already there" is matched on, the same for the archive and the server -----------------

_MESSAGE_ID = re.compile(rb"(?im)^message-id[ \t]*:(?P<value>[^\n]*(?:\n[ \t][^\n]*)*)")
_ANGLE = re.compile(rb"<[^<>\s]+>")


def header_section(data: bytes) -> bytes:
    """The header of a message (up to its first empty line)."""
    end = data.find(b"\r\n\r\n")
    bare = data.find(b"\n\n", 0, len(data) if end == -1 else end)  # a header with bare LF
    if bare != -1:
        end = bare
    return data if end == -1 else data[:end]


def message_id_key(header: bytes) -> str | None:
    """The Message-ID of a message's header, as `<left@right>` without folding or spaces;
    None when it has none that could name it."""
    found = _MESSAGE_ID.search(header)
    if found is None:
        return None
    value = found["value"]
    angle = _ANGLE.search(value)
    if angle is not None:
        text = angle[0]
    else:
        text = value.strip()
        if not text or b" " in text or b"\t" in text:
            return None
        text = b"<" + text + b">"
    return text.decode("utf-8", "replace") if len(text) <= 998 else None


def message_digest(data: bytes) -> str:
    """`sha256:<hex>` of a message, its line ends made LF first: servers that store LF
    (Dovecot's maildir) give back CRLF, and the message is still the same one."""
    return "sha256:" + hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def message_key(data: bytes) -> str:
    """What the import matches a message on: its Message-ID, else its digest."""
    return message_id_key(header_section(data)) or message_digest(data)


# mboxrd quoting ------------------------------------------------------------------------------


FROM_WINDOW = 16 * 1024  # searched for `From ` after each space found (see below)


def from_positions(data: bytes | bytearray, start: int, end: int) -> list[int]:
    """Where `From ` occurs in `data[start:end]`, as `data.find` would find them in turn.

    Most of the bytes of mail are base64 attachments, which hold no space: each space is
    found with memchr (`find` of one byte, about 8 times faster than `find` of `From `,
    whose skips are at most 6 bytes), and `From ` is only searched for in the window that
    follows it (issue 22: the search was as costly as SHA-256 of every byte).
    """
    found: list[int] = []
    find = data.find
    pos = start
    while True:
        space = find(b" ", pos, end)
        if space == -1:
            return found
        pos = max(pos, space - 4)  # the earliest `From ` that can hold this space
        stop = min(end, pos + FROM_WINDOW)
        at = find(b"From ", pos, stop)
        while at != -1:
            found.append(at)
            at = find(b"From ", at + 5, stop)
        if stop == end:
            return found
        pos = stop - 4  # one straddling the window's end starts at most 4 bytes before it


def quote_from_lines(data: bytes) -> bytes:
    """mboxrd: one more `>` before every line that matches `>*From `.

    Only the `From ` that from_positions() finds are looked at backwards, rather than a
    multi-line regex trying every position of multi-megabyte attachments.
    """
    cuts: list[int] = []
    for at in from_positions(data, 0, len(data)):
        start = at
        while start > 0 and data[start - 1] == 0x3E:  # '>'
            start -= 1
        if start == 0 or data[start - 1] == 0x0A:  # at the start of a line
            cuts.append(start)
    if not cuts:
        return data
    pieces: list[bytes] = []
    previous = 0
    for cut in cuts:
        pieces += (data[previous:cut], b">")
        previous = cut
    pieces.append(data[previous:])
    return b"".join(pieces)


def unquote_from_lines(data: bytes | bytearray, start: int = 0, end: int | None = None) -> bytes:
    """The inverse of quote_from_lines: one `>` less before every line matching `>+From `.

    Works on `data[start:end]` in place (the reader's buffer): the message is copied once.
    """
    stop = len(data) if end is None else end
    cuts: list[int] = []
    at = data.find(b">From ", start, stop)
    while at != -1:
        line = at
        while line > start and data[line - 1] == 0x3E:  # '>'
            line -= 1
        if line == start or data[line - 1] == 0x0A:
            cuts.append(line)
        at = data.find(b">From ", at + 6, stop)
    with memoryview(data) as whole:
        if not cuts:
            return whole[start:stop].tobytes()
        pieces: list[memoryview] = []
        previous = start
        for cut in cuts:
            pieces.append(whole[previous:cut])
            previous = cut + 1
        pieces.append(whole[previous:stop])
        joined = b"".join(pieces)
        for piece in pieces:
            piece.release()
        return joined


class MboxrdBuffer:
    """Messages written as mboxrd (RFC 4155) into one reused buffer, handed out in chunks.

    Message bytes are read straight into the buffer (no copy of their own) and quoted
    there: a line gets one more `>` when it turns out to match `>*From `. A line is
    decided once its first bytes are known; the few bytes of a line still undecided when
    a chunk is handed out (`>>Fro` at the end of a read) stay for the next chunk.
    """

    def __init__(self, chunk: int = WRITE_CHUNK) -> None:
        self._chunk = chunk
        self._buf = bytearray(chunk)
        self._pos = 0
        self._open: int | None = None  # start of the line not decided yet
        self._last = -1  # last byte of the current message, -1 while it is empty

    @property
    def full(self) -> bool:
        return self._pos >= self._chunk

    def begin(self, received: datetime | None, flags: Iterable[str] | None = None) -> None:
        """A new message; with `flags` (the export), its flag block after the From line."""
        self._write(mbox_from_line(received))
        if flags is not None:
            self._write(flag_block(flags))
        self._open = self._pos
        self._last = -1

    def end(self) -> None:
        # One line end after every message: the empty line before the next From line, or
        # the end of the last line of a message that had none, so that reading it back
        # takes exactly one off and gets the message byte for byte.
        self._open = None  # a message's last line, cut short, is no From line
        self._write(b"\n")

    def feed(self, data: bytes) -> None:
        """Message bytes given as bytes (tests, quoted strings) rather than read in."""
        source = io.BytesIO(data)
        left = len(data)
        while left:
            left -= self.fill(source.readinto, left)

    def fill(self, read_into: Callable[[memoryview], int], limit: int) -> int:
        """Read at most `limit` message bytes into the buffer; returns how many."""
        if self._pos >= len(self._buf):  # one undecided line fills it (a flood of '>')
            self._buf.extend(bytes(self._chunk))
        start = self._pos
        with memoryview(self._buf) as whole:
            room = whole[start : start + min(limit, len(self._buf) - start)]
            try:
                count = read_into(room)
            finally:
                room.release()
        if count:
            self._pos = start + count
            self._last = self._buf[self._pos - 1]
            self._quote(start)
        return count

    def take(self) -> bytes:
        """What is ready, as one chunk (empty when nothing is decided yet)."""
        cut = self._pos if self._open is None else self._open
        if not cut:
            return b""
        with memoryview(self._buf) as whole:
            data = whole[:cut].tobytes()
        rest = self._pos - cut
        if rest:
            self._buf[:rest] = self._buf[cut : self._pos]
        self._pos = rest
        if self._open is not None:
            self._open -= cut
        return data

    def _write(self, data: bytes) -> None:
        end = self._pos + len(data)
        self._buf[self._pos : end] = data
        self._pos = end

    def _verdict(self, line: int, end: int) -> bool | None:
        """Whether the line starting at `line` matches `>*From `; None: not known yet."""
        buf = self._buf
        at = line
        while at < end and buf[at] == 0x3E:  # '>'
            at += 1
        if at + 5 <= end:
            return buf[at : at + 5] == b"From "
        return None if b"From ".startswith(buf[at:end]) else False

    def _quote(self, start: int) -> None:
        """Quote the From lines among the bytes read since `start`."""
        buf = self._buf
        end = self._pos
        if self._open is not None:
            verdict = self._verdict(self._open, end)
            if verdict is None:
                return  # the new bytes hold no line end either
            if verdict:
                buf[self._open : self._open] = b">"
                start += 1
                end += 1
            self._open = None
        # Every other line starting among the new bytes follows a line end among them.
        # from_positions() finds the few "From " rather than a regex trying every line
        # (issue 22: 14% of the export's time); only those are looked at backwards.
        cuts: list[int] = []
        for at in from_positions(buf, start, end):
            line = at
            while line > start and buf[line - 1] == 0x3E:  # '>'
                line -= 1
            if line > start and buf[line - 1] == 0x0A:  # the line end is among the new bytes
                cuts.append(line)
        for cut in reversed(cuts):
            buf[cut:cut] = b">"
        end += len(cuts)
        self._pos = end
        last_end = buf.rfind(b"\n", start, end)
        if last_end != -1 and self._verdict(last_end + 1, end) is None:
            self._open = last_end + 1


def mboxrd_message(
    data: bytes, received: datetime | None, flags: Iterable[str] | None = None
) -> bytes:
    """One message as mboxrd: a From line, its flag block when `flags` are given,
    `>`-quoted From lines, and one line end (an empty line after a whole last line)."""
    block = flag_block(flags) if flags is not None else b""
    return mbox_from_line(received) + block + quote_from_lines(data) + b"\n"
