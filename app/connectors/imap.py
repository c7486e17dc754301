"""The `imap` connector, and the panel's only IMAP client (mail in Dovecot, Cyrus, …).

The panel signs in *as the person* through the server's master/proxy authentication:
SASL PLAIN with an authorisation identity (RFC 4616) — the person's login as authzid, the
panel's admin user and its password as credentials — which Dovecot master users and
Cyrus admins accept; the person's password is never needed.

Export writes every folder as `services/<slug>/<Folder>.mbox` (mboxrd, RFC 4155): folder
names decoded from modified UTF-7 (RFC 3501 §5.1.3) and made safe as paths, messages
fetched in batches of bounded size and written while they arrive. Delete expunges every
message and removes every folder but INBOX; what the server keeps (the empty INBOX, the
mail directory, quota and index files) is reported as `kept` with a doveadm command.

`ImapClient` is reusable by other features (the support mailbox): connect as a person or
as the admin user, list folders, fetch messages, move and expunge.
"""

from __future__ import annotations

import base64
import contextvars
import imaplib
import io
import logging
import queue
import re
import socket
import ssl
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from flask_babel import ngettext

from app.connectors import imap_namespace as ns
from app.connectors.base import (
    N_,
    ArchiveEntry,
    ConnectorError,
    DataItem,
    DeletionPlan,
    KeptItem,
    PlannedItem,
    ServiceUnreachable,
    Skipped,
    StepResult,
    safe_uid,
    scrub,
)
from app.connectors.secrets import Secret
from app.connectors.web import SYSTEM_REASONS
from app.directory import Person
from app.hoster.profile import LocalizedText

if TYPE_CHECKING:
    from flask import Flask

    from app.connectors.options import ConnectorOptions
    from app.hoster.profile import Service

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
WRITE_CHUNK = 512 * 1024
PREFETCH_CHUNKS = (
    1  # mbox chunk (half a megabyte) read ahead of the archive, besides the one being filled
)
INDEX_BATCH = 5000  # messages per metadata FETCH (UID, size, date)
LINE_LIMIT = 1_000_000  # as imaplib's _MAXLINE: a longer response line is a broken server

_FETCH_META = re.compile(
    rb"UID (?P<uid>\d+)|RFC822\.SIZE (?P<size>\d+)|INTERNALDATE \"(?P<date>[^\"]+)\""
)
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_START = re.compile(rb"^\* (\d+) FETCH ")
_SEQUENCE = re.compile(rb"^(\d+) \(")  # imaplib's FETCH lines, without the "* "
_LITERAL_END = re.compile(rb"\{(\d+)\}\r?\n$")
_BODY_QUOTED = re.compile(rb'BODY\[\] "((?:[^"\\]|\\.)*)"')
_FROM_LINE = re.compile(rb"\n>*From ")  # a line that mboxrd quotes (after its line end)
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')


# Modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------------------------------


def decode_mailbox_name(raw: str) -> str:
    """`Envoy&AOk-s` -> `Envoyés`; invalid sequences are kept as they are."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char != "&":
            out.append(char)
            i += 1
            continue
        end = raw.find("-", i + 1)
        if end == -1:
            out.append(raw[i:])
            break
        chunk = raw[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                out.append(base64.b64decode(padded, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                out.append(raw[i : end + 1])
        i = end + 1
    return "".join(out)


def encode_mailbox_name(name: str) -> str:
    """`Envoyés` -> `Envoy&AOk-s`."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote_mailbox(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib leaves a quoted argument alone)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def path_component(name: str) -> str:
    """One folder name as a file name that every system accepts."""
    clean = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip().rstrip(".")
    if clean in ("", ".", ".."):
        clean = "_" + clean.replace(".", "_")
    return clean[:200]


def folder_path(name: str, delimiter: str | None) -> str:
    """`INBOX/Archives/2024` -> `INBOX/Archives/2024` with each part made safe."""
    parts = name.split(delimiter) if delimiter else [name]
    return "/".join(path_component(part) for part in parts if part != "") or "_"


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

    def __len__(self) -> int:
        return len(self.uids) - self.uids.count(0)

    def set(self, sequence: int, uid: int, size: int, stamp: int) -> None:
        if 1 <= sequence <= len(self.uids):
            self.uids[sequence - 1] = uid
            self.sizes[sequence - 1] = size
            self.stamps[sequence - 1] = stamp

    def entries(self) -> Iterator[tuple[int, int]]:
        """(uid, size) of each message, in UID order."""
        for uid, size in zip(self.uids, self.sizes, strict=True):
            if uid:
                yield uid, size

    def uid_at(self, sequence: int) -> int | None:
        if 1 <= sequence <= len(self.uids) and self.uids[sequence - 1]:
            return self.uids[sequence - 1]
        return None

    def received(self, uid: int | None) -> datetime | None:
        """Arrival time of a message (UIDs grow with sequence numbers: a binary search)."""
        if uid is None:
            return None
        at = bisect_left(self.uids, uid)
        if at == len(self.uids) or self.uids[at] != uid:
            try:  # a message expunged meanwhile left a 0 that breaks the order
                at = self.uids.index(uid)
            except ValueError:
                return None
        stamp = self.stamps[at]
        return datetime.fromtimestamp(stamp, UTC) if stamp >= 0 else None

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
                partial(self._conn.fetch, which, "(UID RFC822.SIZE INTERNALDATE)"),
            )
            for line in data:
                if not isinstance(line, bytes) or not (number := _SEQUENCE.match(line)):
                    continue
                uid = size = 0
                stamp = -1
                for match in _FETCH_META.finditer(line):
                    if match["uid"]:
                        uid = int(match["uid"])
                    elif match["size"]:
                        size = int(match["size"])
                    elif match["date"] and (received := _internaldate(match["date"])):
                        stamp = int(received.timestamp())
                table.set(int(number[1]), uid, size, stamp)
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


# Reading ahead ----------------------------------------------------------------------------------


def _ahead(source: Iterator[bytes], depth: int) -> Iterator[bytes]:
    """Items of `source`, produced on a helper thread at most `depth` items ahead.

    The thread runs in a copy of the caller's context (Flask's app and request contexts
    are context variables), so its messages are translated like the caller's. When the
    consumer stops early, the thread stops after its current item and is waited for, so
    the IMAP session is never used by two threads at once.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for chunk in source:
                if not put(("chunk", chunk)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(run,), name="imap-fetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "chunk":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join()


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


# The connector ---------------------------------------------------------------------------------


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


class ImapConnector:
    """Mail as the person, through the server's master/proxy authentication."""

    plannable = False  # sizes are only known while messages arrive

    def __init__(
        self,
        slug: str,
        *,
        name: str | LocalizedText,  # hoster.toml's name, in the reader's language when shown
        settings: ImapSettings,
        login_template: str = "{uid}",
        check_login: str | None = None,
        compress: bool = False,
        location: str | LocalizedText | None = None,
        retention: str | LocalizedText | None = None,
        batch_bytes: int = STREAM_BATCH_BYTES,
    ) -> None:
        self.slug = slug
        self.name = name
        self.settings = settings
        self.login_template = login_template
        self.check_login = check_login
        self.compress = compress
        self.location = location
        self.retention = retention
        self.batch_bytes = batch_bytes

    def login_of(self, person: Person) -> str:
        uid = safe_uid(person.uid)
        if "{email}" in self.login_template and not person.email:
            raise ConnectorError(_(NO_EMAIL))
        return self.login_template.format(uid=uid, email=person.email or "")

    def _client(self, person: Person) -> ImapClient:
        return ImapClient.connect(self.settings, self.login_of(person))

    # flask doctor -------------------------------------------------------------------------

    def check(self) -> str:
        try:
            client = ImapClient.connect(self.settings, self.check_login)
        except ServiceUnreachable:
            raise
        except ConnectorError as exc:
            if self.check_login:
                raise
            # A Dovecot master user cannot sign in as itself: say how to test it.
            raise ConnectorError(
                f"{exc} (a Dovecot master user only signs in as someone: set check_login "
                "to a mailbox of the server)"
            ) from None
        with client:
            client.list_folders()
        who = (
            f"{self.check_login} via {self.settings.admin_user}"
            if self.check_login
            else (self.settings.admin_user)
        )
        return f"{self.settings.address}: signed in as {who}"

    # What is the person's --------------------------------------------------------------------

    def mailbox(self, client: ImapClient) -> Mailbox:
        """The person's own folders and, apart, what she sees that is not hers.

        The one inventory behind /account/data, the export, the deletion plan and the
        deletion (principle 7): asked again each time, so a step re-checks it when it runs.
        """
        spaces = client.namespaces()
        own: list[Folder] = []
        others: list[tuple[Folder, str]] = []
        for folder in client.list_folders():
            kind = spaces.kind_of(folder.name, folder.delimiter)
            if kind == ns.PERSONAL:
                own.append(folder)
            else:
                others.append((folder, kind or ""))
        return Mailbox(tuple(own), tuple(others), spaces)

    # Inventory ------------------------------------------------------------------------------

    def inventory(self, person: Person) -> list[DataItem]:
        location = str(self.location or _("the mail server of %(service)s", service=self.name))
        retention = str(self.retention or _("Until you delete it or your account"))
        items: list[DataItem] = []
        with self._client(person) as client:
            mailbox = self.mailbox(client)
            for folder in mailbox.own:
                if not folder.selectable:
                    continue
                count, size = client.folder_size(folder.name)
                items.append(
                    DataItem(
                        service=self.slug,
                        kind=_(
                            "Mail folder “%(folder)s”: %(count)s messages, %(size)s",
                            folder=folder.display_name,
                            count=count,
                            size=_human_size(size),
                        ),
                        location=location,
                        retention=retention,
                        exported=True,
                    )
                )
        shared = len(mailbox.shared_folders())
        if shared:
            items.append(
                DataItem(
                    service=self.slug,
                    kind=ngettext(
                        "%(num)s folder shared with you by others stays theirs: "
                        "not exported, never deleted",
                        "%(num)s folders shared with you by others stay theirs: "
                        "not exported, never deleted",
                        shared,
                    ),
                    location=location,
                    retention=_("As their owners decide"),
                    exported=False,
                )
            )
        return items

    # Deletion plan --------------------------------------------------------------------------

    def plan(self, person: Person) -> DeletionPlan:
        """What delete() would remove and keep, read from the server without changing it."""
        login = self.login_of(person)
        with ImapClient.connect(self.settings, login) as client:
            mailbox = self.mailbox(client)
            delete: list[PlannedItem] = []
            for folder in mailbox.own:
                if not folder.selectable:
                    continue
                count, size = client.folder_size(folder.name)
                delete.append(PlannedItem(folder.display_name, count, size))
            kind = client.server_kind()
        keep = [
            KeptItem(folder.display_name, *self._why_kept(mailbox, folder, space))
            for folder, space in mailbox.others
            if folder.selectable
        ]
        notes = [{ns.CYRUS: ns.NOTE_CYRUS, ns.DOVECOT: ns.NOTE_DOVECOT}.get(kind, ns.NOTE_OTHER)]
        if not mailbox.namespaces.announced:
            notes.append(ns.NOTE_NO_NAMESPACE)
        return DeletionPlan(
            service=self.slug, delete=tuple(delete), keep=tuple(keep), notes=tuple(notes)
        )

    @staticmethod
    def _why_kept(
        mailbox: Mailbox, folder: Folder, space: str
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        if space == ns.OTHER_USERS:
            owner = mailbox.namespaces.owner_of(folder.name, folder.delimiter) or "?"
            return ns.SHARED_WITH_YOU_BY, (("owner", decode_mailbox_name(owner)),)
        if space == ns.SHARED:
            root = decode_mailbox_name(folder.name.split(folder.delimiter or "\0", 1)[0])
            return ns.SHARED_FOLDER, (("namespace", root),)
        return ns.OUTSIDE_NAMESPACES, ()

    # Export ---------------------------------------------------------------------------------

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        client = self._client(person)
        broken: list[ConnectorError] = []
        try:
            used: set[str] = set()
            for folder in self.mailbox(client).own:
                if broken:
                    raise broken[0]
                if not folder.selectable:
                    continue
                path = folder_path(folder.display_name, folder.delimiter)
                while path.casefold() in used:
                    path += "_"
                used.add(path.casefold())
                messages = client.message_table(folder.name)
                newest = messages.newest()
                yield ArchiveEntry(
                    path=f"services/{self.slug}/{path}.mbox",
                    chunks=self._mbox_chunks(client, folder.name, messages, broken),
                    size=None,
                    mtime=newest,
                    format="mbox (mboxrd)",
                    compress=self.compress,
                    description=_("Mail folder “%(folder)s”", folder=folder.display_name),
                )
            if broken:
                raise broken[0]
        finally:
            client.close()

    def _mbox_chunks(
        self,
        client: ImapClient,
        folder: str,
        messages: MessageTable,
        broken: list[ConnectorError],
    ) -> Iterator[bytes]:
        """The folder as mboxrd, read on a helper thread a few chunks ahead, so the server
        keeps sending while the archive hashes and sends; each message's bytes go from the
        socket straight into the mbox buffer, whatever their size."""
        seen = 0

        def produce() -> Iterator[bytes]:
            nonlocal seen
            out = MboxrdBuffer(WRITE_CHUNK)
            stream = client.stream_messages(folder, messages, batch_bytes=self.batch_bytes)
            for message in stream:
                seen += 1
                # The sequence number, for a server that sends the UID after the bytes.
                uid = message.uid if message.uid is not None else messages.uid_at(message.sequence)
                out.begin(messages.received(uid))
                left = message.size
                while left:
                    left -= out.fill(message.read_into, left)
                    if out.full and (chunk := out.take()):
                        yield chunk
                out.end()
                if out.full:
                    yield out.take()
            if chunk := out.take():
                yield chunk

        try:
            yield from _ahead(produce(), depth=PREFETCH_CHUNKS)
        except ConnectorError as exc:
            # The session is unusable after a broken read: later folders fail too, and the
            # archive says so once for the service.
            if isinstance(exc, ServiceUnreachable):
                broken.append(exc)
            raise
        missing = len(messages) - seen
        if missing > 0:
            raise ConnectorError(
                _(
                    "%(num)s messages of this folder disappeared during the export",
                    num=missing,
                )
            )

    # Delete ---------------------------------------------------------------------------------

    def kept(
        self, login: str, kind: str, shared: int, delimiter: str | None = "/"
    ) -> tuple[str, ...]:
        """What stays after the deletion, for the receipt and the staff page, per server."""
        # Cyrus names the person's mailbox user/<login> (user.<login> with "." as separator).
        cyrus_mailbox = f"user{delimiter or '/'}{login}"
        notes = {
            ns.CYRUS: (ns.KEPT_CYRUS % {"mailbox": cyrus_mailbox},),
            ns.DOVECOT: (
                KEPT_MAILBOX % {"login": login},
                ns.KEPT_DOVECOT_LAZY % {"login": login},
            ),
        }.get(kind, (ns.KEPT_OTHER_SERVER,))
        if shared:
            notes += (ns.KEPT_SHARED_BY_OTHERS % {"count": shared},)
        return notes

    def delete(self, person: Person) -> StepResult:
        try:
            login = self.login_of(person)
            with ImapClient.connect(self.settings, login) as client:
                kind = client.server_kind()
                # Ownership is asked again now: only what is hers at this moment goes.
                mailbox = self.mailbox(client)
                expunged, removed = self._empty(client, mailbox)
                after = self.mailbox(client)
                left = [f for f in after.own if not f.is_inbox and f.selectable]
                inbox_left = client.select("INBOX", readonly=True)
        except ConnectorError as exc:
            return StepResult(ok=False, detail=exc.staff_detail())
        if left or inbox_left:
            names = ", ".join(f"“{f.display_name}”" for f in left[:10])
            return StepResult(
                ok=False,
                detail=STILL_THERE
                % {"folders": len(left), "messages": inbox_left, "names": names or "-"},
            )
        return StepResult(
            ok=True,
            detail=EXPUNGED
            % {"messages": expunged, "folders": removed, "address": self.settings.address},
            kept=self.kept(login, kind, len(after.shared_folders()), after.delimiter),
        )

    @staticmethod
    def _empty(client: ImapClient, mailbox: Mailbox) -> tuple[int, int]:
        """Expunge and remove the person's own folders; nothing else is ever selected
        read-write, whatever rights she has on it."""
        expunged = removed = 0
        for folder in mailbox.own:
            if not folder.selectable:
                continue
            count = client.select(folder.name, readonly=False)
            if count:
                client.delete_messages()
                expunged += count
        # Children before their parents, so every DELETE finds no sub-folder left.
        others = [f for f in mailbox.own if not f.is_inbox]
        for folder in sorted(others, key=lambda f: f.name.count(f.delimiter or "\0"), reverse=True):
            if client.delete_folder(folder.name):
                removed += 1
        if client.selected is not None:
            client.selected = None
        return expunged, removed


@dataclass(frozen=True)
class Mailbox:
    """A person's folders as the server lists them, split by namespace."""

    own: tuple[Folder, ...]
    others: tuple[tuple[Folder, str], ...]  # (folder, namespace kind) that are not hers
    namespaces: ns.Namespaces

    @property
    def delimiter(self) -> str | None:
        """The hierarchy delimiter of the person's own folders."""
        return next((f.delimiter for f in self.own if f.delimiter), None)

    def shared_folders(self) -> list[Folder]:
        return [folder for folder, _kind in self.others if folder.selectable]


# Deletion outcomes, recorded in English and shown in the reader's language (see N_).
KEPT_MAILBOX = N_(
    "The empty INBOX and the mailbox's directory, index and quota entries stay on "
    "the mail server until the account is removed there; for Dovecot: "
    "`doveadm purge -u %(login)s`, then remove the user from the user database "
    "and delete the directory shown by `doveadm user -f home %(login)s`."
)
STILL_THERE = N_(
    "the mail server still shows %(folders)s folders (%(names)s) and %(messages)s "
    "messages in INBOX after the deletion; try again"
)
EXPUNGED = N_("%(messages)s messages expunged, %(folders)s folders removed from %(address)s.")
CLOSED_BY_SERVER = N_("the mail server %(address)s closed the connection")
SIGN_IN_REFUSED = N_("the mail server refused the panel's sign-in as %(who)s")
BROKE = N_("the connection to the mail server %(address)s broke (%(what)s)")
NO_ANSWER_IN = N_("no answer within %(seconds)s s")
TLS_FAILED = N_("TLS failed: %(reason)s")
NOT_REACHABLE = N_("the mail server %(address)s is not reachable (%(reason)s)")
NO_EMAIL = N_("no e-mail address is known for this account")
REFUSED_ON = N_("the mail server refused %(command)s on the folder “%(folder)s”")
REFUSED = N_("the mail server refused %(command)s")
OUTCOMES = (
    KEPT_MAILBOX,
    STILL_THERE,
    EXPUNGED,
    CLOSED_BY_SERVER,
    SIGN_IN_REFUSED,
    BROKE,
    NO_ANSWER_IN,
    TLS_FAILED,
    NOT_REACHABLE,
    NO_EMAIL,
    REFUSED_ON,
    REFUSED,
    *ns.OUTCOMES,
)


def build(service: Service, options: ConnectorOptions, app: Flask) -> ImapConnector:
    """The connector of a `type = "imap"` service (options checked with hoster.toml's words)."""
    settings = ImapSettings.from_options(options)
    return ImapConnector(
        service.slug,
        name=service.name,
        settings=settings,
        login_template=options.template("login", ("uid", "email"), default="{uid}"),
        check_login=options.text("check_login"),
        compress=options.boolean("compress", default=False),
        location=service.data_location,
        retention=service.retention,
        batch_bytes=options.integer("batch_mib", default=STREAM_BATCH_BYTES // 2**20) * 2**20,
    )
