"""The support mailbox over IMAP (stdlib imaplib): list waiting messages, move handled ones.

Kept small on purpose: `flask support fetch` only needs `unread()` and `move()`, so the
connectors' IMAP client can replace it by registering a factory as
app.extensions["panel_support_mailbox"].
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TIMEOUT = 15


class MailboxError(OSError):
    """The mailbox answered something unexpected; the message says what."""


@dataclass
class ImapSource:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    tls: str = "none"  # none | starttls | ssl
    ca_file: str | None = None
    _client: imaplib.IMAP4 | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_config(cls, config: Any) -> ImapSource:
        """`imap://user:pass@host:143/INBOX?starttls=true` or `imaps://…:993/INBOX`."""
        url = urlsplit(str(config["SUPPORT_IMAP_URL"]))
        options = parse_qs(url.query)
        tls = "ssl" if url.scheme == "imaps" else "none"
        if options.get("starttls", ["false"])[0] == "true":
            tls = "starttls"
        return cls(
            host=url.hostname or "localhost",
            port=url.port or (993 if tls == "ssl" else 143),
            user=unquote(url.username or ""),
            password=unquote(url.password or ""),
            folder=unquote(url.path.lstrip("/")) or "INBOX",
            tls=tls,
            ca_file=config.get("SUPPORT_IMAP_CA_FILE") or None,
        )

    def _connect(self) -> imaplib.IMAP4:
        context = ssl.create_default_context(cafile=self.ca_file)
        client: imaplib.IMAP4
        if self.tls == "ssl":
            client = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context, timeout=TIMEOUT)
        else:
            client = imaplib.IMAP4(self.host, self.port, timeout=TIMEOUT)
            if self.tls == "starttls":
                client.starttls(ssl_context=context)
        client.login(self.user, self.password)
        return client

    @property
    def client(self) -> imaplib.IMAP4:
        if self._client is None:
            self._client = self._connect()
        return self._client

    @staticmethod
    def _ok(answer: tuple[str, Any], what: str) -> Any:
        status, data = answer
        if status != "OK":
            raise MailboxError(f"IMAP {what} failed: {data!r}")
        return data

    def unread(self) -> Iterator[tuple[str, bytes]]:
        """Every message waiting in the folder (handled ones are moved out of it)."""
        try:
            self._ok(self.client.select(_quote(self.folder)), "SELECT")
            uids = self._ok(self.client.uid("SEARCH", "ALL"), "SEARCH")[0].split()
            for uid in uids:
                data = self._ok(self.client.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
                raw = next((part[1] for part in data if isinstance(part, tuple)), None)
                if raw is not None:
                    yield uid.decode(), bytes(raw)
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"IMAP: {exc}") from exc

    def move(self, uid: str, folder: str) -> None:
        client = self.client
        try:
            client.create(_quote(folder))  # fails harmlessly when it exists
            if b"MOVE" in b" ".join(
                c.encode() if isinstance(c, str) else c for c in client.capabilities
            ):
                self._ok(client.uid("MOVE", uid, _quote(folder)), "MOVE")
                return
            self._ok(client.uid("COPY", uid, _quote(folder)), "COPY")
            self._ok(client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
            self._ok(client.expunge(), "EXPUNGE")
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"IMAP: {exc}") from exc

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.logout()
            finally:
                self._client = None


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
