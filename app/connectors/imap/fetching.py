"""Reading messages: the metadata of a folder (table.py), whole batches for the support
mailbox, and the export's FETCH responses parsed as they arrive."""

from __future__ import annotations

import imaplib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from app.connectors.imap.mbox import WRITE_CHUNK
from app.connectors.imap.table import SEQUENCE, MessageInfo, MessageTable, meta_of

if TYPE_CHECKING:
    from app.connectors.imap.client import ImapClient

# fetch_messages() holds a whole batch in memory (imaplib reads the whole response): small.
BATCH_BYTES = 8 * 1024 * 1024  # one FETCH brings at most this much (plus one message)
BATCH_COUNT = 500
# The export reads each FETCH response as it arrives, message bytes straight into the mbox
# buffer, so its batches only bound the length of the command and the work redone after a
# failure, not memory: large batches keep Dovecot streaming without round trips.
STREAM_BATCH_BYTES = 64 * 1024 * 1024
STREAM_BATCH_COUNT = 2000
INDEX_BATCH = 5000  # messages per metadata FETCH (UID, size, date)
LINE_LIMIT = 1_000_000  # as imaplib's _MAXLINE: a longer response line is a broken server

FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_START = re.compile(rb"^\* (\d+) FETCH ")
_LITERAL_END = re.compile(rb"\{(\d+)\}\r?\n$")
_BODY_QUOTED = re.compile(rb'BODY\[\] "((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    data: bytes


@dataclass(frozen=True)
class StreamedMessage:
    """A message whose bytes are still on the wire: read exactly `size` bytes through
    `read_into` before asking for the next message (what is left is skipped)."""

    sequence: int
    uid: int | None  # None when the server sends the UID after the message's bytes
    size: int
    read_into: Callable[[memoryview], int]


def uid_set(uids: Iterable[int]) -> str:
    """`[1, 2, 3, 7]` -> `1:3,7`."""
    ranges: list[str] = []
    start = previous = None
    for uid in sorted(set(uids)):
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            ranges.append(f"{start}:{previous}" if start != previous else str(start))
        start = previous = uid
    if start is not None:
        ranges.append(f"{start}:{previous}" if start != previous else str(start))
    return ",".join(ranges)


# Metadata -----------------------------------------------------------------------------------


def message_index(client: ImapClient, folder: str) -> list[MessageInfo]:
    """UID, size and arrival date of every message of a folder (no bodies)."""
    count = client.select(folder)
    if not count:
        return []
    found: list[MessageInfo] = []
    for first in range(1, count + 1, INDEX_BATCH):
        which = f"{first}:{min(first + INDEX_BATCH - 1, count)}"
        data = client._call(
            f"FETCH {folder}",
            partial(client._conn.fetch, which, "(UID RFC822.SIZE INTERNALDATE)"),
        )
        for line in data:
            if not isinstance(line, bytes):
                continue
            uid, size, received, _flags = meta_of(line)
            if uid is not None:
                found.append(MessageInfo(uid, size or 0, received))
    return found


def message_table(client: ImapClient, folder: str) -> MessageTable:
    """What message_index() gives, for the export: flat arrays, no object a message."""
    count = client.select(folder)
    table = MessageTable(count)
    for first in range(1, count + 1, INDEX_BATCH):
        which = f"{first}:{min(first + INDEX_BATCH - 1, count)}"
        data = client._call(
            f"FETCH {folder}",
            partial(client._conn.fetch, which, "(UID RFC822.SIZE INTERNALDATE FLAGS)"),
        )
        for line in data:
            if not isinstance(line, bytes) or not (number := SEQUENCE.match(line)):
                continue
            uid, size, received, flags = meta_of(line)
            stamp = int(received.timestamp()) if received is not None else -1
            table.set(int(number[1]), uid or 0, size or 0, stamp, flags)
        del data
    return table


# Whole messages (imaplib reads each response) -------------------------------------------------


def fetch_messages(
    client: ImapClient, folder: str, messages: list[MessageInfo], *, batch_bytes: int
) -> Iterator[FetchedMessage]:
    """The full bytes of the given messages, in batches of at most `batch_bytes`
    (one larger message makes its own batch); never marks them as read."""
    if client.selected != folder:
        client.select(folder)
    batch: list[int] = []
    size = 0
    for info in messages:
        if batch and (size + info.size > batch_bytes or len(batch) >= BATCH_COUNT):
            yield from _fetch_batch(client, folder, batch)
            batch, size = [], 0
        batch.append(info.uid)
        size += info.size
    if batch:
        yield from _fetch_batch(client, folder, batch)


def _fetch_batch(client: ImapClient, folder: str, uids: list[int]) -> Iterator[FetchedMessage]:
    data = client._call(
        f"FETCH {folder}",
        lambda: client._conn.uid("FETCH", uid_set(uids), "(UID BODY.PEEK[])"),
    )
    pending: bytes | None = None
    for item in data:
        if isinstance(item, tuple):
            head, body = item
            found = FETCH_UID.search(head)
            if found:
                yield FetchedMessage(int(found[1]), body)
            else:  # the UID comes after the literal on some servers
                pending = body
        elif pending is not None and isinstance(item, bytes):
            found = FETCH_UID.search(item)
            if found:
                yield FetchedMessage(int(found[1]), pending)
            pending = None


# Messages read as they arrive (the export) ----------------------------------------------------


def stream_messages(
    client: ImapClient, folder: str, messages: MessageTable, *, batch_bytes: int
) -> Iterator[StreamedMessage]:
    """The given messages with their bytes read as they arrive, never marked as read.

    imaplib reads a whole FETCH response (every message of the batch) into memory
    before returning it; here the response is parsed line by line and each message's
    literal is handed to the caller, who reads it into its own buffer. Memory no longer
    depends on the batch or the message size.
    """
    if client.selected != folder:
        client.select(folder)
    batch: list[int] = []
    size = 0
    for uid, message_size in messages.entries():
        if batch and (size + message_size > batch_bytes or len(batch) >= STREAM_BATCH_COUNT):
            yield from _stream_batch(client, folder, batch)
            batch, size = [], 0
        batch.append(uid)
        size += message_size
    if batch:
        yield from _stream_batch(client, folder, batch)


def _stream_batch(client: ImapClient, folder: str, uids: list[int]) -> Iterator[StreamedMessage]:
    what = f"FETCH {folder}"
    conn = client._conn
    file: io.BufferedReader = conn.file  # type: ignore[assignment]  # makefile("rb")
    try:
        # imaplib's own command writer (tags, state checks); the response is read here.
        tag = conn._command("UID", "FETCH", uid_set(uids), "(UID BODY.PEEK[])")
    except (imaplib.IMAP4.error, OSError) as exc:
        raise client._failure(what, exc) from None
    client._unread = True

    def readline() -> bytes:
        try:
            line = file.readline(LINE_LIMIT + 1)
        except OSError as exc:
            raise client._failure(what, exc) from None
        if not line:
            raise client._failure(what, EOFError())
        if len(line) > LINE_LIMIT:
            raise client._refused(what, "response line too long")
        return line

    def skip(count: int) -> None:
        while count:
            try:
                data = file.read(min(count, WRITE_CHUNK))
            except OSError as exc:
                raise client._failure(what, exc) from None
            if not data:
                raise client._failure(what, EOFError())
            count -= len(data)

    def finish(line: bytes) -> None:
        """Read the rest of a response whose line ended with a literal."""
        while (literal := _LITERAL_END.search(line)) is not None:
            skip(int(literal[1]))
            line = readline()

    while True:
        line = readline()
        if line.startswith(tag + b" "):
            status, _sep, reason = line[len(tag) + 1 :].partition(b" ")
            conn.tagged_commands.pop(tag, None)
            client._unread = False
            if status != b"OK":
                raise client._refused(what, reason.decode("utf-8", "replace"))
            return
        started = _FETCH_START.match(line)
        if started is None or b"BODY[]" not in line:
            if line.startswith(b"* BYE"):
                raise client._failure(what, EOFError())
            finish(line)  # EXISTS, EXPUNGE, flag updates...: not ours
            continue
        found = FETCH_UID.search(line)
        uid = int(found[1]) if found else None
        literal = _LITERAL_END.search(line)
        if literal is None:  # BODY[] "" (an empty message) or NIL (gone meanwhile)
            quoted = _BODY_QUOTED.search(line)
            if quoted is not None:
                data = re.sub(rb"\\(.)", rb"\1", quoted[1])
                yield StreamedMessage(int(started[1]), uid, len(data), io.BytesIO(data).readinto)
            continue
        left = int(literal[1])

        def read_into(view: memoryview) -> int:
            nonlocal left
            if not left:
                return 0
            try:
                count = file.readinto(view[:left])
            except OSError as exc:
                raise client._failure(what, exc) from None
            if not count:
                raise client._failure(what, EOFError())
            left -= count
            return count

        yield StreamedMessage(int(started[1]), uid, left, read_into)
        skip(left)  # what the caller did not read
        left = 0
        finish(readline())  # ")" or " UID 7)"
