"""mboxrd (RFC 4155): the export's format for a folder, written into one reused buffer."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


WRITE_CHUNK = 512 * 1024
_FROM_LINE = re.compile(rb"\n>*From ")  # a line that mboxrd quotes (after its line end)


# mboxrd ---------------------------------------------------------------------------------------


def mbox_from_line(received: datetime | None) -> bytes:
    when = (received or datetime(1970, 1, 1, tzinfo=UTC)).astimezone(UTC)
    return b"From MAILER-DAEMON " + when.strftime("%a %b %d %H:%M:%S %Y").encode() + b"\n"


def quote_from_lines(data: bytes) -> bytes:
    """mboxrd: one more `>` before every line that matches `>*From `.

    Searched with bytes.find (memchr speed) rather than a multi-line regex, which tries
    every position of multi-megabyte attachments.
    """
    cuts: list[int] = []
    at = data.find(b"From ")
    while at != -1:
        start = at
        while start > 0 and data[start - 1] == 0x3E:  # '>'
            start -= 1
        if start == 0 or data[start - 1] == 0x0A:  # at the start of a line
            cuts.append(start)
        at = data.find(b"From ", at + 5)
    if not cuts:
        return data
    pieces: list[bytes] = []
    previous = 0
    for cut in cuts:
        pieces += (data[previous:cut], b">")
        previous = cut
    pieces.append(data[previous:])
    return b"".join(pieces)


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

    def begin(self, received: datetime | None) -> None:
        self._write(mbox_from_line(received))
        self._open = self._pos
        self._last = -1

    def end(self) -> None:
        self._open = None  # a message's last line, cut short, is no From line
        self._write(b"\n" if self._last == 0x0A else b"\n\n")

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
        cuts = [found.start() + 1 for found in _FROM_LINE.finditer(buf, start, end)]
        for cut in reversed(cuts):
            buf[cut:cut] = b">"
        end += len(cuts)
        self._pos = end
        last_end = buf.rfind(b"\n", start, end)
        if last_end != -1 and self._verdict(last_end + 1, end) is None:
            self._open = last_end + 1


def mboxrd_message(data: bytes, received: datetime | None) -> bytes:
    """One message as mboxrd: a From line, `>`-quoted From lines, a blank line after."""
    body = quote_from_lines(data)
    end = b"\n" if body.endswith(b"\n") else b"\n\n"
    return mbox_from_line(received) + body + end
