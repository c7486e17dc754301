"""Fetch a person's export from her old panel with a transfer code (server to server).

The new panel's worker calls `fetch_export(panel_url, code, destination, max_bytes=…)`:
it POSTs to `<panel_url>/account/export/transfer` with `Authorization: Bearer <code>` (the
code never appears in a URL, so never in an access log), streams the ZIP to `destination`
within `max_bytes`, and checks that what came is a ZIP archive. Anything else raises
`TransferRefused`, whose message a person can read (translated when shown: lazy strings).

Only `https://` addresses, verified against the system's certificate authorities (or the
bundle named by REQUESTS_CA_BUNDLE); `http://` only when the app's MOVING_ALLOW_HTTP is
true, for tests and the demo. Hosts on loopback, private or link-local addresses are
refused unless MOVING_ALLOW_PRIVATE_ADDRESSES is true (tests, two panels of one network).
The export panel's side is app/export/transfer.py.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

TRANSFER_PATH = "/account/export/transfer"
CHUNK = 64 * 1024
USER_AGENT = "chatons-panel (moving house; +https://chatons.org)"

# A host name as DNS has it (letters, digits, hyphens, dots), or an IPv4 or [IPv6] literal.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$", re.IGNORECASE)
_IPV6 = re.compile(r"^[0-9a-f:.]+$", re.IGNORECASE)

# What a person reads, in her language (str() at display time).
NOT_AN_ADDRESS = _l(
    "This is not the address of a panel. Copy it from your old panel's transfer code page, "
    "for example https://panel.example.org."
)
NOT_PUBLIC = _l("This address is on a private network. Give the public address of your old panel.")
NOT_HTTPS = _l(
    "Your old panel's address must start with https://, so that your data travels encrypted."
)
UNREACHABLE = _l("Your old panel could not be reached. Check its address, or try again later.")
NOT_A_PANEL = _l(
    "The address does not answer like a panel. Check that it is your old panel's address."
)
CODE_REFUSED = _l(
    "Your old panel refused the transfer code: it is wrong, expired, revoked or already "
    "used. Create a new code on your old panel and try again."
)
TOO_MANY = _l("Your old panel refused too many attempts. Wait an hour and try again.")
TOO_BIG = _l("The archive is bigger than this hoster accepts (%(limit)s MB at most).")
NOT_AN_ARCHIVE = _l("What your old panel sent is not a ZIP archive.")
CERTIFICATE = _l(
    "The identity of your old panel could not be verified (its HTTPS certificate is not "
    "valid). Nothing was downloaded; tell your old hoster."
)


class TransferRefused(Exception):
    """The export could not be fetched; `str()` is the reason, in the reader's language."""

    def __init__(self, message: Any, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


def transfer_url(panel_url: str, *, allow_http: bool = False) -> str:
    """`<panel_url>/account/export/transfer`, or TransferRefused for an address that is not
    a plain https:// panel address (credentials, query, odd host)."""
    text = (panel_url or "").strip()
    if not text or len(text) > 2000 or any(ord(c) < 33 or c == "\\" for c in text):
        raise TransferRefused(NOT_AN_ADDRESS)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise TransferRefused(NOT_AN_ADDRESS) from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http:
        raise TransferRefused(NOT_HTTPS)
    if scheme not in ("https", "http"):
        raise TransferRefused(NOT_AN_ADDRESS)
    host = parts.hostname or ""
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TransferRefused(NOT_AN_ADDRESS)
    if parts.query or parts.fragment or port == 0:
        raise TransferRefused(NOT_AN_ADDRESS)
    bracketed = parts.netloc.startswith("[")
    if not host or not (_IPV6.match(host) if bracketed else _HOST_NAME.match(host)):
        raise TransferRefused(NOT_AN_ADDRESS)
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, parts.netloc.lower(), path + TRANSFER_PATH, "", ""))


def _setting(name: str) -> bool:
    return bool(has_app_context() and current_app.config.get(name, False))


def check_public_address(url: str) -> None:
    """Refuse an address whose host is, or resolves to, a loopback, private, link-local or
    otherwise non-public address: a person's form must not make the worker knock on the
    hoster's own network. (A name that resolves differently a moment later is not caught:
    the https:// certificate check is the other half of the protection.)"""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TransferRefused(UNREACHABLE) from None
    for *_rest, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise TransferRefused(NOT_PUBLIC)


def fetch_export(
    panel_url: str, code: str, destination: Path, *, max_bytes: int, timeout: float = 30
) -> None:
    """Download the export that `code` opens on the panel at `panel_url` to `destination`.

    Raises TransferRefused (and leaves no file behind) when the panel cannot be reached,
    refuses the code, sends more than `max_bytes`, sends something that is not a ZIP, or
    presents a certificate that does not verify. `timeout` bounds the connection and each
    wait for data, not the whole download.
    """
    # requests loads on first use: the web worker never imports it (see the memory test).
    import requests

    url = transfer_url(panel_url, allow_http=_setting("MOVING_ALLOW_HTTP"))
    if not _setting("MOVING_ALLOW_PRIVATE_ADDRESSES"):
        check_public_address(url)
    code = (code or "").strip()
    if not code or len(code) > 128 or any(ord(c) < 33 or ord(c) > 126 for c in code):
        raise TransferRefused(CODE_REFUSED)
    destination = Path(destination)
    try:
        with requests.post(
            url,
            headers={
                "Authorization": f"Bearer {code}",
                "Accept": "application/zip",
                "User-Agent": USER_AGENT,
            },
            stream=True,
            timeout=timeout,
            allow_redirects=False,  # the code goes to this address and nowhere else
        ) as response:
            _check_answer(response, max_bytes)
            _save(response, destination, max_bytes)
    except TransferRefused:
        destination.unlink(missing_ok=True)
        raise
    except requests.exceptions.SSLError:
        destination.unlink(missing_ok=True)
        raise TransferRefused(CERTIFICATE) from None
    except (requests.RequestException, OSError):
        destination.unlink(missing_ok=True)
        raise TransferRefused(UNREACHABLE) from None
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    if not zipfile.is_zipfile(destination):
        destination.unlink(missing_ok=True)
        raise TransferRefused(NOT_AN_ARCHIVE)


def _too_big(max_bytes: int) -> TransferRefused:
    return TransferRefused(TOO_BIG, limit=max(1, max_bytes // 1_000_000))


def _check_answer(response: Any, max_bytes: int) -> None:
    status = response.status_code
    if status in (401, 403, 404, 410):
        raise TransferRefused(CODE_REFUSED)
    if status == 429:
        raise TransferRefused(TOO_MANY)
    if status >= 500:
        raise TransferRefused(UNREACHABLE)
    if status != 200:  # a redirection, a page that is not the export
        raise TransferRefused(NOT_A_PANEL)
    mimetype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if mimetype not in ("application/zip", "application/octet-stream"):
        raise TransferRefused(NOT_AN_ARCHIVE)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_big(max_bytes)


def _save(response: Any, destination: Path, max_bytes: int) -> None:
    """Stream the body to disk, never more than max_bytes (whatever Content-Length said)."""
    written = 0
    with destination.open("wb") as out:
        for chunk in response.iter_content(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise _too_big(max_bytes)
            out.write(chunk)
