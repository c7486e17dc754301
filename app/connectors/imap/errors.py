"""What goes wrong with an IMAP server, said without a secret: the client's errors, how a
failed connection is told, and the client's messages."""

from __future__ import annotations

import imaplib
import socket
import ssl
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from app.connectors.base import N_, ConnectorError, ServiceUnreachable, scrub
from app.connectors.web import SYSTEM_REASONS

if TYPE_CHECKING:
    from app.connectors.imap.client import ImapSettings


class ImapError(ConnectorError):
    """The server refused a command: the message names the command and the folder, the
    server's own words are in `server_answer` (scrubbed of the panel's secrets)."""


def server_reason(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)[:300]


def secrets_of(settings: ImapSettings) -> tuple[str, ...]:
    return (settings.secret.reveal(),)


def scrubbed(settings: ImapSettings, exc: BaseException) -> str:
    return scrub(server_reason(exc), secrets_of(settings))


def unreachable(settings: ImapSettings, exc: BaseException) -> ServiceUnreachable:
    if isinstance(exc, socket.timeout | TimeoutError):
        reason = _(NO_ANSWER_IN, seconds=f"{settings.timeout:g}")
    elif isinstance(exc, ssl.SSLError):
        reason = _(TLS_FAILED, reason=exc.reason or exc.__class__.__name__)
    elif isinstance(exc, OSError) and exc.strerror:
        reason = _(exc.strerror) if exc.strerror in SYSTEM_REASONS else exc.strerror
    else:
        reason = scrubbed(settings, exc)
    return ServiceUnreachable(
        _(
            NOT_REACHABLE,
            address=settings.address,
            reason=reason,
        )
    )


def close_quietly(conn: imaplib.IMAP4, *, logout: bool = False) -> None:
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
