"""The mbox reader of moving house: the exact inverse of the export's writer."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime

from app.connectors.imap.mbox import MboxrdBuffer, mboxrd_message, message_digest
from app.connectors.importing import ImportItem, Malformed
from app.moving.readers import mbox as reader
from app.moving.readers.mbox import read_mbox
from mail_samples import samples

WHEN = datetime(2024, 3, 9, 8, 5, 7, tzinfo=UTC)


class Trickle(io.RawIOBase):
    """A stream that hands out a few bytes at a time, as a ZIP member may."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.at, self.step = data, 0, step
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        chunk = self.data[self.at : self.at + min(self.step, size if size > 0 else self.step)]
        self.at += len(chunk)
        return chunk


def items(data: bytes, folder: str = "INBOX") -> list[ImportItem | Malformed]:
    return list(read_mbox(io.BytesIO(data), folder))


def written(messages: list[tuple[bytes, datetime | None, tuple[str, ...]]]) -> bytes:
    """The mbox as the export writes it (the streaming buffer, in small pieces)."""
    out = MboxrdBuffer(7)
    chunks: list[bytes] = []
    for data, when, flags in messages:
        out.begin(when, flags)
        out.feed(data)
        out.end()
        while out.full:
            chunks.append(out.take())
    chunks.append(out.take())
    return b"".join(chunks)


def test_every_sample_message_comes_back_byte_for_byte_with_its_date_and_flags():
    messages = [m for folder in samples().values() for m in folder]
    flags = [("\\Seen",), (), ("$Label1", "\\Answered", "\\Flagged", "\\Seen"), ("\\Draft",)]
    given = [(m, WHEN, flags[n % len(flags)]) for n, m in enumerate(messages)]
    got = items(written(given), "Archives/2024")
    assert [item.data for item in got] == messages  # type: ignore[union-attr]
    for item, (_data, _when, its_flags) in zip(got, given, strict=True):
        assert isinstance(item, ImportItem)
        assert item.mtime == WHEN
        assert sorted(item.flags) == sorted(its_flags)
        assert item.size == len(item.data or b"")
    assert got[0].name.startswith("Archives/2024 #1 (")


def test_awkward_messages_round_trip_however_the_stream_is_cut():
    """From lines, quoted From lines, no final line end, CRLF and LF, a flag block
    look-alike inside a message: what the writer wrote is what the reader gives back."""
    rng = random.Random(23)
    for _ in range(400):
        messages = []
        for _n in range(rng.randint(1, 4)):
            body = bytes(rng.choice(b"F>rom \n\rxS") for _ in range(rng.randint(0, 60)))
            body = body.replace(b"x", b"From ").replace(b"S", b"Status: RO\r\n")
            data = b"Subject: t\r\nMessage-ID: <" + str(rng.random()).encode() + b"@x>\r\n"
            flags = ("\\Seen",) if rng.random() < 0.5 else ()
            messages.append((data + b"\r\n" + body, WHEN, flags))
        mbox = b"".join(mboxrd_message(*m) for m in messages)
        assert mbox == written(messages)
        got = list(read_mbox(Trickle(mbox, rng.choice([1, 3, 64, 10_000])), "x"))  # type: ignore[arg-type]
        assert [i.data for i in got] == [m[0] for m in messages], mbox  # type: ignore[union-attr]
        assert [i.flags for i in got] == [m[2] for m in messages]  # type: ignore[union-attr]


def test_the_key_is_the_message_id_or_the_digest_of_a_message_without_one():
    with_id = b"Message-ID:\r\n  <Abc.1@Example.org> (comment)\r\nSubject: a\r\n\r\nbody\r\n"
    without = b"Subject: b\r\n\r\nbody\r\n"
    bare = b"Message-Id: abc@x\r\n\r\nbody\r\n"
    got = items(b"".join(mboxrd_message(m, WHEN, ()) for m in (with_id, without, bare)))
    assert [i.key for i in got] == [  # type: ignore[union-attr]
        "<Abc.1@Example.org>",
        message_digest(without),
        "<abc@x>",
    ]
    # The same message stored with LF (Dovecot's maildir) is the same message.
    assert message_digest(without) == message_digest(without.replace(b"\r\n", b"\n"))


def test_a_foreign_mbox_keeps_its_bytes_and_gives_its_flags():
    mbox = (
        b"From alice@example.org Sat Jan  6 10:00:00 2024\n"
        b"Subject: old\nStatus: RO\nX-Status: F\nX-Keywords: $Label1\n\nHello\n\n"
        b"From bob Sun Jan  7 11:00:00 2024\nSubject: new\n\n>From here\n"
    )
    first, second = items(mbox)
    assert isinstance(first, ImportItem) and isinstance(second, ImportItem)
    assert first.data == b"Subject: old\nStatus: RO\nX-Status: F\nX-Keywords: $Label1\n\nHello\n"
    assert set(first.flags) == {"\\Seen", "\\Flagged", "$Label1"}
    assert first.mtime == datetime(2024, 1, 6, 10, 0, tzinfo=UTC)
    assert second.data == b"Subject: new\n\nFrom here"
    assert second.flags == () and second.mtime == datetime(2024, 1, 7, 11, 0, tzinfo=UTC)


def test_broken_messages_are_named_one_by_one_and_the_rest_is_read():
    mbox = (
        b"garbage before any From line\n\n"
        + mboxrd_message(b"Subject: one\r\n\r\nok\r\n", WHEN, ())
        + mboxrd_message(b"", WHEN, ())
        + mboxrd_message(b"no header at all\r\n", WHEN, ())
        + mboxrd_message(b"Subject: two\r\n\r\nok\r\n", None, ("\\Seen",))
    )
    got = items(mbox, "Envoyés")
    assert [(type(i).__name__, i.name) for i in got] == [
        ("Malformed", "Envoyés #0"),
        ("ImportItem", "Envoyés #1 (one)"),
        ("Malformed", "Envoyés #2"),
        ("Malformed", "Envoyés #3"),
        ("ImportItem", "Envoyés #4 (two)"),
    ]
    assert [i.reason for i in got if isinstance(i, Malformed)] == [
        reader.NO_FROM_LINE,
        reader.EMPTY_MESSAGE,
        reader.NO_HEADER,
    ]
    assert got[-1].mtime == datetime(1970, 1, 1, tzinfo=UTC)  # type: ignore[union-attr]
    assert items(b"") == []


def test_a_big_mbox_is_read_a_chunk_at_a_time_never_whole():
    message = b"Subject: big\r\n\r\n" + b"x" * 5000 + b"\r\n"
    mbox = b"".join(mboxrd_message(message, WHEN, ()) for _ in range(2000))  # 10 MB
    stream = Trickle(mbox, 1 << 30)
    got = read_mbox(stream, "INBOX")  # type: ignore[arg-type]
    first = next(got)
    assert isinstance(first, ImportItem) and first.data == message
    assert stream.reads == 1 and stream.at == reader.READ_CHUNK  # one megabyte read, not ten
    assert sum(1 for _ in got) == 1999
