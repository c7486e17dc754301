"""The support mailbox read by `flask support fetch`, through the connectors' IMAP client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from app.connectors.base import ConnectorError
from app.connectors.imap import ImapClient, ImapError, ImapSettings
from app.connectors.secrets import Secret

TIMEOUT = 15.0


def settings_from_url(config: Any) -> tuple[ImapSettings, str]:
    """`imap://user:password@host:143/INBOX?starttls=true` or `imaps://…:993/INBOX`."""
    url = urlsplit(str(config["SUPPORT_IMAP_URL"]))
    if url.scheme not in ("imap", "imaps"):
        raise ConnectorError("PANEL_SUPPORT_IMAP_URL must start with imap:// or imaps://")
    starttls = parse_qs(url.query).get("starttls", ["false"])[0] == "true"
    security = "tls" if url.scheme == "imaps" else ("starttls" if starttls else "none")
    ca_file = config.get("SUPPORT_IMAP_CA_FILE")
    settings = ImapSettings(
        host=url.hostname or "localhost",
        port=url.port or (993 if security == "tls" else 143),
        security=security,
        admin_user=unquote(url.username or ""),
        secret=Secret(unquote(url.password or ""), "PANEL_SUPPORT_IMAP_URL"),
        timeout=TIMEOUT,
        ca_file=Path(ca_file) if ca_file else None,
    )
    return settings, unquote(url.path.lstrip("/")) or "INBOX"


class SupportMailbox:
    """Waiting messages of one folder; handled ones are moved out of it."""

    def __init__(self, settings: ImapSettings, folder: str) -> None:
        self.settings = settings
        self.folder = folder
        self._client: ImapClient | None = None
        self._created: set[str] = set()

    @classmethod
    def from_config(cls, config: Any) -> SupportMailbox:
        settings, folder = settings_from_url(config)
        return cls(settings, folder)

    @property
    def client(self) -> ImapClient:
        if self._client is None:
            self._client = ImapClient.connect(self.settings)
        return self._client

    def unread(self) -> Iterator[tuple[str, bytes]]:
        infos = self.client.message_index(self.folder)
        if not infos:
            return
        self.client.select(self.folder, readonly=False)  # messages are moved as we go
        for fetched in self.client.fetch_messages(self.folder, infos):
            yield str(fetched.uid), fetched.data

    def move(self, uid: str, folder: str) -> None:
        if folder not in self._created:
            try:
                self.client.create_folder(folder)
            except ImapError as exc:
                if "ALREADYEXISTS" not in str(exc).upper() and "EXISTS" not in str(exc).upper():
                    raise
            self._created.add(folder)
        self.client.move([int(uid)], folder)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
