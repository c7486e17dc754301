"""The panel's only IMAP client: sign-in through master/proxy authentication, folders,
namespaces, messages read as they arrive; errors that never hold a secret."""

from __future__ import annotations

import imaplib
import io
import logging
import re
import socket
import ssl
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from app.connectors.base import (
    N_,
    ConnectorError,
    ServiceUnreachable,
    scrub,
)
from app.connectors.imap import namespaces as ns
from app.connectors.imap.mbox import WRITE_CHUNK
from app.connectors.imap.names import decode_mailbox_name, quote_mailbox
from app.connectors.secrets import Secret
from app.connectors.web import SYSTEM_REASONS

if TYPE_CHECKING:
    from app.connectors.options import ConnectorOptions

log = logging.getLogger(__name__)

# imaplib knows no ID command (RFC 2971); the server kind is read from its answer.
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))

DEFAULT_TIMEOUT = 30.0
# fetch_messages() holds a whole batch in memory (imaplib reads the whole response): small.
BATCH_BYTES = 8 * 1024 * 1024  # one FETCH brings at most this much (plus one message)
BATCH_COUNT = 500
# The export reads each FETCH response as it arrives, message bytes straight into the mbox
# buffer, so its batches only bound the length of the command and the work redone after a
# failure, not memory: large batches keep Dovecot streaming without round trips.
STREAM_BATCH_BYTES = 64 * 1024 * 1024
STREAM_BATCH_COUNT = 2000
PREFETCH_CHUNKS = (
    1  # mbox chunk (half a megabyte) read ahead of the archive, besides the one being filled
)
INDEX_BATCH = 5000  # messages per metadata FETCH (UID, size, date)
LINE_LIMIT = 1_000_000  # as imaplib's _MAXLINE: a longer response line is a broken server

_FETCH_META = re.compile(
    rb"UID (?P<uid>\d+)|RFC822\.SIZE (?P<size>\d+)|INTERNALDATE \"(?P<date>[^\"]+)\""
    rb"|FLAGS \((?P<flags>[^)]*)\)"
)
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_START = re.compile(rb"^\* (\d+) FETCH ")
_SEQUENCE = re.compile(rb"^(\d+) \(")  # imaplib's FETCH lines, without the "* "
_LITERAL_END = re.compile(rb"\{(\d+)\}\r?\n$")
_BODY_QUOTED = re.compile(rb'BODY\[\] "((?:[^"\\]|\\.)*)"')
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')

# The client ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImapSettings:
    """Where and how to sign in; `secret` is the admin (master) user's password."""

    host: str
    port: int
    security: str  # "tls" (imaps), "starttls" or "none"
    admin_user: str
    secret: Secret
    timeout: float = DEFAULT_TIMEOUT
    ca_file: Path | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_options(cls, options: ConnectorOptions) -> ImapSettings:
        url = options.url("url", ("imap", "imaps"))
        starttls = options.boolean("starttls", default=False)
        if url.scheme == "imaps" and starttls:
            raise options.error("starttls", " is for imap:// addresses; imaps:// is TLS already.")
        security = "tls" if url.scheme == "imaps" else ("starttls" if starttls else "none")
        secret = options.secret("password")
        assert secret is not None
        return cls(
            host=url.hostname or "",
            port=url.port or (993 if url.scheme == "imaps" else 143),
            security=security,
            admin_user=options.required_text("admin_user", '"panel"'),
            secret=secret,
            timeout=options.seconds("timeout", default=DEFAULT_TIMEOUT),
            ca_file=options.file("ca_file"),
        )


@dataclass(frozen=True)
class Folder:
    name: str  # as the server spells it (modified UTF-7)
    delimiter: str | None
    flags: tuple[str, ...]

    @property
    def display_name(self) -> str:
        return decode_mailbox_name(self.name)

    @property
    def selectable(self) -> bool:
        return not {"\\noselect", "\\nonexistent"} & {f.lower() for f in self.flags}

    @property
    def is_inbox(self) -> bool:
        return self.name.upper() == "INBOX"


@dataclass(frozen=True)
class MessageInfo:
    uid: int
    size: int
    received: datetime | None


class MessageTable:
    """UID, size and arrival time of every message of a folder, in sequence order, in
    flat arrays: 24 bytes a message instead of about 500 for MessageInfo objects and the
    dictionaries to find them (a folder of 100 000 messages: 2.4 instead of 50 MB)."""

    def __init__(self, count: int) -> None:
        self.uids = array("Q", bytes(8 * count))  # 0: expunged before its line came
        self.sizes = array("Q", bytes(8 * count))
        self.stamps = array("q", bytes(8 * count))  # seconds since 1970 (UTC); -1: unknown
        # Flags: the index of the message's set among the few different sets of the folder.
        self.flag_ids = array("I", bytes(4 * count))
        self.flag_sets: list[tuple[str, ...]] = [()]
        self._flag_index: dict[tuple[str, ...], int] = {(): 0}

    def __len__(self) -> int:
        return len(self.uids) - self.uids.count(0)

    def set(
        self, sequence: int, uid: int, size: int, stamp: int, flags: tuple[str, ...] = ()
    ) -> None:
        if 1 <= sequence <= len(self.uids):
            self.uids[sequence - 1] = uid
            self.sizes[sequence - 1] = size
            self.stamps[sequence - 1] = stamp
            index = self._flag_index.get(flags)
            if index is None:
                index = self._flag_index[flags] = len(self.flag_sets)
                self.flag_sets.append(flags)
            self.flag_ids[sequence - 1] = index

    def entries(self) -> Iterator[tuple[int, int]]:
        """(uid, size) of each message, in UID order."""
        for uid, size in zip(self.uids, self.sizes, strict=True):
            if uid:
                yield uid, size

    def uid_at(self, sequence: int) -> int | None:
        if 1 <= sequence <= len(self.uids) and self.uids[sequence - 1]:
            return self.uids[sequence - 1]
        return None

    def _position(self, uid: int | None) -> int | None:
        """Where a UID is (UIDs grow with sequence numbers: a binary search)."""
        if uid is None:
            return None
        at = bisect_left(self.uids, uid)
        if at == len(self.uids) or self.uids[at] != uid:
            try:  # a message expunged meanwhile left a 0 that breaks the order
                at = self.uids.index(uid)
            except ValueError:
                return None
        return at

    def received(self, uid: int | None) -> datetime | None:
        """Arrival time of a message."""
        at = self._position(uid)
        if at is None:
            return None
        stamp = self.stamps[at]
        return datetime.fromtimestamp(stamp, UTC) if stamp >= 0 else None

    def flags(self, uid: int | None) -> tuple[str, ...]:
        """A message's flags (\\Recent left out: no one can set it back)."""
        at = self._position(uid)
        return () if at is None else self.flag_sets[self.flag_ids[at]]

    def newest(self) -> datetime | None:
        stamp = max(self.stamps, default=-1)
        return datetime.fromtimestamp(stamp, UTC) if stamp >= 0 else None


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


# Commands about the selected folder: a refusal names that folder.
_ON_SELECTED = frozenset({"STORE", "EXPUNGE", "SEARCH", "MOVE", "COPY", "CLOSE", "FETCH"})


class ImapError(ConnectorError):
    """The server refused a command: the message names the command and the folder, the
    server's own words are in `server_answer` (scrubbed of the panel's secrets)."""


def _text(data: Any) -> str:
    if isinstance(data, list) and data:
        data = data[-1]
    if isinstance(data, tuple):
        data = data[0]
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


def _uid_set(uids: Iterable[int]) -> str:
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


def _internaldate(raw: bytes) -> datetime | None:
    try:
        return datetime.strptime(raw.decode(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


class ImapClient:
    """One signed-in IMAP session. Every socket operation has the settings' timeout.

    Errors come out as ServiceUnreachable (cannot connect, timed out, connection lost) or
    ImapError (the server said no); neither ever holds a password.
    """

    def __init__(self, conn: imaplib.IMAP4, settings: ImapSettings, login: str) -> None:
        self._conn = conn
        self.settings = settings
        self.login = login
        self.selected: str | None = None
        self._unread = False  # a streamed FETCH response stopped halfway: LOGOUT would wait

    # Sign-in ----------------------------------------------------------------------------

    @classmethod
    def connect(cls, settings: ImapSettings, login: str | None = None) -> ImapClient:
        """Sign in as `login` through the admin user (master auth), or as the admin user."""
        conn = cls._open(settings)
        authzid = login or ""
        password = settings.secret.reveal()

        def plain(_challenge: bytes) -> bytes:
            return f"{authzid}\0{settings.admin_user}\0{password}".encode()

        try:
            conn.authenticate("PLAIN", plain)
        except imaplib.IMAP4.abort as exc:
            _close_quietly(conn)
            raise ServiceUnreachable(_(CLOSED_BY_SERVER, address=settings.address)) from exc
        except imaplib.IMAP4.error as exc:
            _close_quietly(conn)
            who = f"{login} (via {settings.admin_user})" if login else settings.admin_user
            answer = _scrubbed(settings, exc)
            log.debug("%s refused the sign-in as %s: %s", settings.address, who, answer)
            raise ConnectorError(_(SIGN_IN_REFUSED, who=who), server_answer=answer) from None
        except OSError as exc:
            _close_quietly(conn)
            raise _unreachable(settings, exc) from None
        client = cls(conn, settings, login or settings.admin_user)
        client._refresh_capabilities()
        return client

    def _refresh_capabilities(self) -> None:
        """Servers announce more once signed in (Dovecot: NAMESPACE, STATUS=SIZE…), and
        imaplib keeps the list it read before."""
        try:
            typ, data = self._conn.capability()
        except (imaplib.IMAP4.error, OSError) as exc:
            self.close()
            raise self._failure("CAPABILITY", exc) from None
        if typ == "OK" and data and data[-1]:
            self._conn.capabilities = tuple(_text(data).upper().split())

    @staticmethod
    def _open(settings: ImapSettings) -> imaplib.IMAP4:
        context = None
        if settings.security != "none":
            context = ssl.create_default_context(
                cafile=str(settings.ca_file) if settings.ca_file else None
            )
        try:
            if settings.security == "tls":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    settings.host, settings.port, ssl_context=context, timeout=settings.timeout
                )
            else:
                conn = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
                if settings.security == "starttls":
                    try:
                        conn.starttls(ssl_context=context)
                    except BaseException:
                        _close_quietly(conn)
                        raise
        except (OSError, imaplib.IMAP4.error) as exc:
            raise _unreachable(settings, exc) from None
        return conn

    def close(self) -> None:
        _close_quietly(self._conn, logout=not self._unread)

    def __enter__(self) -> ImapClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Commands ---------------------------------------------------------------------------

    def _failure(self, what: str, exc: BaseException) -> ConnectorError:
        """What a failed command or read becomes (never with a password in it)."""
        if isinstance(exc, imaplib.IMAP4.abort | EOFError):
            return ServiceUnreachable(
                _(
                    BROKE,
                    address=self.settings.address,
                    what=what,
                )
            )
        if isinstance(exc, imaplib.IMAP4.error):
            return self._refused(what, _server_reason(exc))
        return _unreachable(self.settings, exc)

    def _refused(self, what: str, answer: str) -> ImapError:
        """`what` is the command, then the folder it was about ("SELECT Archives")."""
        command, _sep, folder = what.partition(" ")
        if not folder and command in _ON_SELECTED:
            folder = self.selected or ""
        scrubbed = scrub(answer, self._secrets())
        log.debug("%s refused %s: %s", self.settings.address, what, scrubbed)
        if folder:
            message = _(REFUSED_ON, command=command, folder=decode_mailbox_name(folder))
        else:
            message = _(REFUSED, command=command)
        return ImapError(message, server_answer=scrubbed)

    def _secrets(self) -> tuple[str, ...]:
        return _secrets_of(self.settings)

    def _call(self, what: str, command: Callable[[], tuple[str, Any]]) -> Any:
        try:
            typ, data = command()
        except (imaplib.IMAP4.error, OSError) as exc:
            raise self._failure(what, exc) from (
                exc if isinstance(exc, imaplib.IMAP4.abort) else None
            )
        if typ != "OK":
            raise self._refused(what, _text(data))
        return data

    # What the server is and what is the person's -----------------------------------------

    @property
    def greeting(self) -> str:
        welcome = getattr(self._conn, "welcome", b"")
        return welcome.decode("utf-8", "replace") if isinstance(welcome, bytes) else ""

    def identity(self) -> str:
        """The server's ID answer (RFC 2971), or "" when it has none."""
        if "ID" not in self.capabilities():
            return ""
        try:
            typ, data = self._conn._simple_command("ID", "NIL")
            if typ != "OK":
                return ""
            _typ, found = self._conn._untagged_response(typ, data, "ID")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise self._failure("ID", exc) from None
        return " ".join(_text([item]) for item in found if item)

    def server_kind(self) -> str:
        return ns.server_kind(self.greeting, self.identity(), self.capabilities())

    def namespaces(self) -> ns.Namespaces:
        """The server's namespaces (RFC 2342), or the usual prefixes when it has none."""
        if "NAMESPACE" not in self.capabilities():
            return ns.Namespaces.fallback()
        data = self._call("NAMESPACE", self._conn.namespace)
        return ns.parse_namespace(_text(data))

    def capabilities(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self._conn.capabilities)

    def list_folders(self) -> list[Folder]:
        data = self._call("LIST", lambda: self._conn.list('""', "*"))
        folders: list[Folder] = []
        # INBOX first, then by name, so archives and inventories read the same every time.
        for item in data:
            if item is None:
                continue
            if isinstance(item, tuple):  # a name sent as a literal
                head, literal = item
                line = head.rsplit(b"{", 1)[0] + b'"' + literal.replace(b'"', b'\\"') + b'"'
            else:
                line = item
            match = _LIST_LINE.match(line)
            if match is None:
                log.warning("unexpected LIST line from %s", self.settings.address)
                continue
            delim_raw = match["delim"]
            delimiter = None if delim_raw == b"NIL" else _unquote(delim_raw)
            folders.append(
                Folder(
                    name=_unquote(match["name"]),
                    delimiter=delimiter,
                    flags=tuple(match["flags"].decode().split()),
                )
            )
        folders.sort(key=lambda f: (not f.is_inbox, f.display_name.casefold()))
        return folders

    def select(self, folder: str, *, readonly: bool = True) -> int:
        """Open a folder; returns its number of messages."""
        data = self._call(
            f"SELECT {folder}", lambda: self._conn.select(quote_mailbox(folder), readonly)
        )
        self.selected = folder
        try:
            return int(data[0])
        except (TypeError, ValueError, IndexError):
            return 0

    def folder_size(self, folder: str) -> tuple[int, int]:
        """(messages, bytes): STATUS SIZE (RFC 8438) where the server has it, else a FETCH."""
        if "STATUS=SIZE" in self.capabilities() or "IMAP4REV2" in self.capabilities():
            data = self._call(
                f"STATUS {folder}",
                lambda: self._conn.status(quote_mailbox(folder), "(MESSAGES SIZE)"),
            )
            found = dict(re.findall(rb"(MESSAGES|SIZE) (\d+)", _as_bytes(data[0])))
            return int(found.get(b"MESSAGES", 0)), int(found.get(b"SIZE", 0))
        infos = self.message_index(folder)
        return len(infos), sum(i.size for i in infos)

    def message_index(self, folder: str) -> list[MessageInfo]:
        """UID, size and arrival date of every message of a folder (no bodies)."""
        count = self.select(folder)
        if not count:
            return []
        found: list[MessageInfo] = []
        for first in range(1, count + 1, INDEX_BATCH):
            which = f"{first}:{min(first + INDEX_BATCH - 1, count)}"
            data = self._call(
                f"FETCH {folder}",
                partial(self._conn.fetch, which, "(UID RFC822.SIZE INTERNALDATE)"),
            )
            for line in data:
                if not isinstance(line, bytes):
                    continue
                uid = size = None
                received = None
                for match in _FETCH_META.finditer(line):
                    if match["uid"]:
                        uid = int(match["uid"])
                    elif match["size"]:
                        size = int(match["size"])
                    elif match["date"]:
                        received = _internaldate(match["date"])
                if uid is not None:
                    found.append(MessageInfo(uid, size or 0, received))
        return found

    def message_table(self, folder: str) -> MessageTable:
        """What message_index() gives, for the export: flat arrays, no object a message."""
        count = self.select(folder)
        table = MessageTable(count)
        for first in range(1, count + 1, INDEX_BATCH):
            which = f"{first}:{min(first + INDEX_BATCH - 1, count)}"
            data = self._call(
                f"FETCH {folder}",
                partial(self._conn.fetch, which, "(UID RFC822.SIZE INTERNALDATE FLAGS)"),
            )
            for line in data:
                if not isinstance(line, bytes) or not (number := _SEQUENCE.match(line)):
                    continue
                uid = size = 0
                stamp = -1
                flags: tuple[str, ...] = ()
                for match in _FETCH_META.finditer(line):
                    if match["uid"]:
                        uid = int(match["uid"])
                    elif match["size"]:
                        size = int(match["size"])
                    elif match["date"] and (received := _internaldate(match["date"])):
                        stamp = int(received.timestamp())
                    elif match["flags"] is not None:
                        flags = _flag_list(match["flags"])
                table.set(int(number[1]), uid, size, stamp, flags)
            del data
        return table

    def fetch_messages(
        self,
        folder: str,
        messages: list[MessageInfo],
        *,
        batch_bytes: int = BATCH_BYTES,
    ) -> Iterator[FetchedMessage]:
        """The full bytes of the given messages, in batches of at most `batch_bytes`
        (one larger message makes its own batch); never marks them as read."""
        if self.selected != folder:
            self.select(folder)
        batch: list[int] = []
        size = 0
        for info in messages:
            if batch and (size + info.size > batch_bytes or len(batch) >= BATCH_COUNT):
                yield from self._fetch_batch(folder, batch)
                batch, size = [], 0
            batch.append(info.uid)
            size += info.size
        if batch:
            yield from self._fetch_batch(folder, batch)

    def _fetch_batch(self, folder: str, uids: list[int]) -> Iterator[FetchedMessage]:
        data = self._call(
            f"FETCH {folder}",
            lambda: self._conn.uid("FETCH", _uid_set(uids), "(UID BODY.PEEK[])"),
        )
        pending: bytes | None = None
        for item in data:
            if isinstance(item, tuple):
                head, body = item
                found = _FETCH_UID.search(head)
                if found:
                    yield FetchedMessage(int(found[1]), body)
                else:  # the UID comes after the literal on some servers
                    pending = body
            elif pending is not None and isinstance(item, bytes):
                found = _FETCH_UID.search(item)
                if found:
                    yield FetchedMessage(int(found[1]), pending)
                pending = None

    def stream_messages(
        self,
        folder: str,
        messages: MessageTable,
        *,
        batch_bytes: int = STREAM_BATCH_BYTES,
    ) -> Iterator[StreamedMessage]:
        """The given messages with their bytes read as they arrive, never marked as read.

        imaplib reads a whole FETCH response (every message of the batch) into memory
        before returning it; here the response is parsed line by line and each message's
        literal is handed to the caller, who reads it into its own buffer. Memory no longer
        depends on the batch or the message size.
        """
        if self.selected != folder:
            self.select(folder)
        batch: list[int] = []
        size = 0
        for uid, message_size in messages.entries():
            if batch and (size + message_size > batch_bytes or len(batch) >= STREAM_BATCH_COUNT):
                yield from self._stream_batch(folder, batch)
                batch, size = [], 0
            batch.append(uid)
            size += message_size
        if batch:
            yield from self._stream_batch(folder, batch)

    def _stream_batch(self, folder: str, uids: list[int]) -> Iterator[StreamedMessage]:
        what = f"FETCH {folder}"
        conn = self._conn
        file: io.BufferedReader = conn.file  # type: ignore[assignment]  # makefile("rb")
        try:
            # imaplib's own command writer (tags, state checks); the response is read here.
            tag = conn._command("UID", "FETCH", _uid_set(uids), "(UID BODY.PEEK[])")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise self._failure(what, exc) from None
        self._unread = True

        def readline() -> bytes:
            try:
                line = file.readline(LINE_LIMIT + 1)
            except OSError as exc:
                raise self._failure(what, exc) from None
            if not line:
                raise self._failure(what, EOFError())
            if len(line) > LINE_LIMIT:
                raise self._refused(what, "response line too long")
            return line

        def skip(count: int) -> None:
            while count:
                try:
                    data = file.read(min(count, WRITE_CHUNK))
                except OSError as exc:
                    raise self._failure(what, exc) from None
                if not data:
                    raise self._failure(what, EOFError())
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
                self._unread = False
                if status != b"OK":
                    raise self._refused(what, reason.decode("utf-8", "replace"))
                return
            started = _FETCH_START.match(line)
            if started is None or b"BODY[]" not in line:
                if line.startswith(b"* BYE"):
                    raise self._failure(what, EOFError())
                finish(line)  # EXISTS, EXPUNGE, flag updates...: not ours
                continue
            found = _FETCH_UID.search(line)
            uid = int(found[1]) if found else None
            literal = _LITERAL_END.search(line)
            if literal is None:  # BODY[] "" (an empty message) or NIL (gone meanwhile)
                quoted = _BODY_QUOTED.search(line)
                if quoted is not None:
                    data = re.sub(rb"\\(.)", rb"\1", quoted[1])
                    yield StreamedMessage(
                        int(started[1]), uid, len(data), io.BytesIO(data).readinto
                    )
                continue
            left = int(literal[1])

            def read_into(view: memoryview) -> int:
                nonlocal left
                if not left:
                    return 0
                try:
                    count = file.readinto(view[:left])
                except OSError as exc:
                    raise self._failure(what, exc) from None
                if not count:
                    raise self._failure(what, EOFError())
                left -= count
                return count

            yield StreamedMessage(int(started[1]), uid, left, read_into)
            skip(left)  # what the caller did not read
            left = 0
            finish(readline())  # ")" or " UID 7)"

    def search(self, *criteria: str) -> list[int]:
        """UIDs of the selected folder's messages matching IMAP SEARCH criteria."""
        data = self._call("SEARCH", lambda: self._conn.uid("SEARCH", *criteria))
        return [int(u) for u in _as_bytes(data[0]).split()] if data and data[0] else []

    def move(self, uids: list[int], target: str) -> None:
        """Move messages of the selected folder (MOVE, RFC 6851, or COPY + expunge)."""
        if not uids:
            return
        which = _uid_set(uids)
        if "MOVE" in self.capabilities():
            self._call("MOVE", lambda: self._conn.uid("MOVE", which, quote_mailbox(target)))
            return
        self._call("COPY", lambda: self._conn.uid("COPY", which, quote_mailbox(target)))
        self.delete_messages(uids)

    def delete_messages(self, uids: list[int] | None = None) -> None:
        """Flag messages of the selected folder (all when None) deleted, then expunge."""
        which = "1:*" if uids is None else _uid_set(uids)
        if not which:
            return
        self._call("STORE", lambda: self._conn.uid("STORE", which, "+FLAGS.SILENT", "(\\Deleted)"))
        self._call("EXPUNGE", self._conn.expunge)

    def append(self, folder: str, message: bytes, flags: str = "") -> None:
        self._call(
            f"APPEND {folder}",
            lambda: self._conn.append(quote_mailbox(folder), flags or None, None, message),
        )

    def create_folder(self, folder: str) -> None:
        self._call(f"CREATE {folder}", lambda: self._conn.create(quote_mailbox(folder)))

    def delete_folder(self, folder: str) -> bool:
        """Remove a folder; False when it was already gone (an implicit parent, say)."""
        if self.selected == folder:
            self._call("CLOSE", self._conn.close)
            self.selected = None
        try:
            self._call(f"DELETE {folder}", lambda: self._conn.delete(quote_mailbox(folder)))
        except ImapError as exc:
            if "NONEXISTENT" in (exc.server_answer or "").upper():
                return False
            raise
        return True


def _flag_list(raw: bytes) -> tuple[str, ...]:
    """`\\Seen $Label1 \\Recent` -> ("$Label1", "\\Seen"): sorted, without \\Recent."""
    words = raw.decode("utf-8", "replace").split()
    return tuple(sorted(w for w in words if w.lower() != "\\recent"))


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _unquote(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _server_reason(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)[:300]


def _secrets_of(settings: ImapSettings) -> tuple[str, ...]:
    return (settings.secret.reveal(),)


def _scrubbed(settings: ImapSettings, exc: BaseException) -> str:
    return scrub(_server_reason(exc), _secrets_of(settings))


def _unreachable(settings: ImapSettings, exc: BaseException) -> ServiceUnreachable:
    if isinstance(exc, socket.timeout | TimeoutError):
        reason = _(NO_ANSWER_IN, seconds=f"{settings.timeout:g}")
    elif isinstance(exc, ssl.SSLError):
        reason = _(TLS_FAILED, reason=exc.reason or exc.__class__.__name__)
    elif isinstance(exc, OSError) and exc.strerror:
        reason = _(exc.strerror) if exc.strerror in SYSTEM_REASONS else exc.strerror
    else:
        reason = _scrubbed(settings, exc)
    return ServiceUnreachable(
        _(
            NOT_REACHABLE,
            address=settings.address,
            reason=reason,
        )
    )


def _close_quietly(conn: imaplib.IMAP4, *, logout: bool = False) -> None:
    try:
        if logout:
            conn.logout()
        else:
            conn.shutdown()
    except (OSError, imaplib.IMAP4.error):
        pass


# The client's messages, recorded in English and shown in the reader's language (see N_).
CLOSED_BY_SERVER = N_("the mail server %(address)s closed the connection")
SIGN_IN_REFUSED = N_("the mail server refused the panel's sign-in as %(who)s")
BROKE = N_("the connection to the mail server %(address)s broke (%(what)s)")
NO_ANSWER_IN = N_("no answer within %(seconds)s s")
TLS_FAILED = N_("TLS failed: %(reason)s")
NOT_REACHABLE = N_("the mail server %(address)s is not reachable (%(reason)s)")
REFUSED_ON = N_("the mail server refused %(command)s on the folder “%(folder)s”")
REFUSED = N_("the mail server refused %(command)s")
CLIENT_MESSAGES = (
    CLOSED_BY_SERVER,
    SIGN_IN_REFUSED,
    BROKE,
    NO_ANSWER_IN,
    TLS_FAILED,
    NOT_REACHABLE,
    REFUSED_ON,
    REFUSED,
)
