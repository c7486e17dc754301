"""The panel's only IMAP client: sign-in through master/proxy authentication, commands,
folders and namespaces. Reading messages is in fetching.py, errors and their messages in
errors.py."""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from app.connectors.base import ConnectorError, ServiceUnreachable, scrub
from app.connectors.imap import fetching
from app.connectors.imap import namespaces as ns
from app.connectors.imap.errors import (
    BROKE,
    CLOSED_BY_SERVER,
    REFUSED,
    REFUSED_ON,
    SIGN_IN_REFUSED,
    ImapError,
    close_quietly,
    scrubbed,
    secrets_of,
    server_reason,
    unreachable,
)
from app.connectors.imap.fetching import uid_set
from app.connectors.imap.names import decode_mailbox_name, quote_mailbox
from app.connectors.secrets import Secret

if TYPE_CHECKING:
    from app.connectors.imap.fetching import FetchedMessage, StreamedMessage
    from app.connectors.imap.table import MessageInfo, MessageTable
    from app.connectors.options import ConnectorOptions

log = logging.getLogger(__name__)

# imaplib knows no ID command (RFC 2971); the server kind is read from its answer.
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))

DEFAULT_TIMEOUT = 30.0

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


# Commands about the selected folder: a refusal names that folder.
_ON_SELECTED = frozenset({"STORE", "EXPUNGE", "SEARCH", "MOVE", "COPY", "CLOSE", "FETCH"})


def _text(data: Any) -> str:
    if isinstance(data, list) and data:
        data = data[-1]
    if isinstance(data, tuple):
        data = data[0]
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


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
            close_quietly(conn)
            raise ServiceUnreachable(_(CLOSED_BY_SERVER, address=settings.address)) from exc
        except imaplib.IMAP4.error as exc:
            close_quietly(conn)
            who = f"{login} (via {settings.admin_user})" if login else settings.admin_user
            answer = scrubbed(settings, exc)
            log.debug("%s refused the sign-in as %s: %s", settings.address, who, answer)
            raise ConnectorError(_(SIGN_IN_REFUSED, who=who), server_answer=answer) from None
        except OSError as exc:
            close_quietly(conn)
            raise unreachable(settings, exc) from None
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
                        close_quietly(conn)
                        raise
        except (OSError, imaplib.IMAP4.error) as exc:
            raise unreachable(settings, exc) from None
        return conn

    def close(self) -> None:
        close_quietly(self._conn, logout=not self._unread)

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
            return self._refused(what, server_reason(exc))
        return unreachable(self.settings, exc)

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
        return secrets_of(self.settings)

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

    # Reading messages (fetching.py) -----------------------------------------------------

    def message_index(self, folder: str) -> list[MessageInfo]:
        """UID, size and arrival date of every message of a folder (no bodies)."""
        return fetching.message_index(self, folder)

    def message_table(self, folder: str) -> MessageTable:
        """What message_index() gives, for the export: flat arrays, no object a message."""
        return fetching.message_table(self, folder)

    def fetch_messages(
        self,
        folder: str,
        messages: list[MessageInfo],
        *,
        batch_bytes: int = fetching.BATCH_BYTES,
    ) -> Iterator[FetchedMessage]:
        """The full bytes of the given messages, in batches of at most `batch_bytes`
        (one larger message makes its own batch); never marks them as read."""
        return fetching.fetch_messages(self, folder, messages, batch_bytes=batch_bytes)

    def stream_messages(
        self,
        folder: str,
        messages: MessageTable,
        *,
        batch_bytes: int = fetching.STREAM_BATCH_BYTES,
    ) -> Iterator[StreamedMessage]:
        """The given messages with their bytes read as they arrive, never marked as read
        (whatever their size, memory does not grow with them)."""
        return fetching.stream_messages(self, folder, messages, batch_bytes=batch_bytes)

    # Changes ----------------------------------------------------------------------------

    def search(self, *criteria: str) -> list[int]:
        """UIDs of the selected folder's messages matching IMAP SEARCH criteria."""
        data = self._call("SEARCH", lambda: self._conn.uid("SEARCH", *criteria))
        return [int(u) for u in _as_bytes(data[0]).split()] if data and data[0] else []

    def move(self, uids: list[int], target: str) -> None:
        """Move messages of the selected folder (MOVE, RFC 6851, or COPY + expunge)."""
        if not uids:
            return
        which = uid_set(uids)
        if "MOVE" in self.capabilities():
            self._call("MOVE", lambda: self._conn.uid("MOVE", which, quote_mailbox(target)))
            return
        self._call("COPY", lambda: self._conn.uid("COPY", which, quote_mailbox(target)))
        self.delete_messages(uids)

    def delete_messages(self, uids: list[int] | None = None) -> None:
        """Flag messages of the selected folder (all when None) deleted, then expunge."""
        which = "1:*" if uids is None else uid_set(uids)
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
