"""WebDAV as the `dav` connector speaks it: requests, authentication, PROPFIND, safe paths.

Authentication is Basic or Digest (RFC 7617, RFC 7616). Unless `auth` forces one, the first
request goes without credentials and the server's `WWW-Authenticate` challenge chooses:
Digest when offered, else Basic; the choice is kept for the next requests. So the password
is never sent as Basic to a server that asked for Digest, nor to one that asked for nothing.

Paths made from a person's login or e-mail address are built here only: every value is
refused if it holds a separator or `..`, is percent-encoded as one segment, and the address
it gives must stay inside the template's own path (issue 19: `x/../bob@…` must never lead
to bob's principal). XML is parsed with defusedxml only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeTree
from flask_babel import gettext as _

from app.connectors.base import N_, ConnectorError
from app.connectors.web import Client, HttpFailure

if TYPE_CHECKING:
    # requests is loaded when a connector first talks to its server (app/connectors/web.py):
    # a web worker that never does, never pays its memory.
    import requests
    from requests.auth import AuthBase, HTTPDigestAuth

DAV, CALDAV, CARDDAV = "DAV:", "urn:ietf:params:xml:ns:caldav", "urn:ietf:params:xml:ns:carddav"
CALENDARSERVER, OWNCLOUD = "http://calendarserver.org/ns/", "http://owncloud.org/ns"
MULTISTATUS = 207
AUTH_SCHEMES = ("basic", "digest")

PROPFIND_PRINCIPAL = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"""
PROPFIND_HOMES = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"
    xmlns:r="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:resourcetype/><c:calendar-home-set/><r:addressbook-home-set/></d:prop>
</d:propfind>"""
# DAV:owner (RFC 3744) and Nextcloud's owner properties say whose a collection or file is.
PROPFIND_LISTING = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>
  <d:resourcetype/><d:displayname/><d:getcontentlength/><d:getlastmodified/>
  <d:owner/><oc:owner-principal/><oc:owner-id/>
</d:prop></d:propfind>"""
PROPFIND_KIND = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"""
CALENDAR_QUERY = b"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"/></c:filter>
</c:calendar-query>"""
ADDRESSBOOK_QUERY = b"""<?xml version="1.0" encoding="utf-8"?>
<r:addressbook-query xmlns:d="DAV:" xmlns:r="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:getetag/><r:address-data/></d:prop>
  <r:filter/>
</r:addressbook-query>"""

INVALID_XML = N_("%(service)s answered a PROPFIND with invalid XML")
UNSAFE_VALUE = N_(
    "the value %(value)s of the person cannot be used in a DAV address (it holds a "
    "separator, '..' or a control character)"
)
OUTSIDE_TEMPLATE = N_("the address made for the person leaves %(path)s: refused")
REFUSED_AUTH = N_(
    "%(host)s refused the panel's credentials (HTTP 401): the server asks for %(asked)s "
    "authentication, the panel sent %(sent)s"
)
NO_CREDENTIALS = N_("none")
OUTCOMES = (INVALID_XML, UNSAFE_VALUE, OUTSIDE_TEMPLATE, REFUSED_AUTH, NO_CREDENTIALS)


def tag(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


# Safe paths --------------------------------------------------------------------------------


def person_value(value: str) -> str:
    """A login or e-mail address fit for one path segment, or ConnectorError."""
    if (
        not value
        or ".." in value
        or any(c in value for c in "/\\")
        or any(not c.isprintable() for c in value)
    ):
        raise ConnectorError(_(UNSAFE_VALUE, value=repr(value)))
    return value


def fill_template(base: str, template: str, login: str) -> str:
    """`template` (relative to `base`) with {login} as one percent-encoded segment.

    The result must stay under the template's fixed part: `principals/{login}/` gives an
    address under /principals/, whatever the login holds.
    """
    segment = quote(person_value(login), safe="")
    url = urljoin(base, template.replace("{login}", segment))
    fixed = urlsplit(urljoin(base, template.split("{login}", 1)[0])).path
    path = urlsplit(url).path
    if not path.startswith(fixed) or "/../" in f"{path}/" or segment not in path:
        raise ConnectorError(_(OUTSIDE_TEMPLATE, path=fixed))
    return url


def sibling(url: str, login: str) -> str:
    """The address next to `url` named after the person (`/principals/panel/` → `…/alice/`)."""
    path = urlsplit(url).path
    trailing = "/" if path.endswith("/") else ""
    parent = path.rstrip("/").rsplit("/", 1)[0]
    return fill_template(url, f"{parent}/{{login}}{trailing}", login)


def path_key(url: str) -> str:
    """A resource's path as one comparable text: servers encode hrefs each their own way."""
    return unquote(urlsplit(url).path).rstrip("/")


def parent_key(url: str) -> str:
    return path_key(url).rsplit("/", 1)[0]


def same_path(a: str, b: str) -> bool:
    return path_key(a) == path_key(b)


def inside(url: str, folder: str) -> bool:
    """True when `url` is a member of `folder` (or deeper), never the folder itself."""
    here, top = unquote(urlsplit(url).path), unquote(urlsplit(folder).path).rstrip("/") + "/"
    return here.startswith(top) and here.rstrip("/") != top.rstrip("/")


def last_segment(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def archive_name(name: str) -> str | None:
    """A file's name as the archive keeps it: as it is, leading dots included.

    Only `.`, `..` and names holding a separator are refused (None); control characters
    are written as `\\xNN` so that no name can hide a line break or a terminal escape.
    """
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        return None
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)


def display_name(name: str, fallback: str) -> str:
    """A collection's display name as one archive path component (calendars, contacts)."""
    cleaned = "".join(c if c.isprintable() and c not in '/\\:*?"<>|' else "_" for c in name)
    cleaned = cleaned.strip(" .")
    return cleaned[:120] or fallback


def modified(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text.strip()).astimezone(UTC)
    except (TypeError, ValueError):
        return None


# Server text -------------------------------------------------------------------------------

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Server text fit for a message or a log: no known secret, no URL's password."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _USERINFO.sub(r"\1", text)
    # No line break or terminal escape from a server reaches a message or a log line.
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())[:200]


def server_answer(response: requests.Response, secrets: tuple[str, ...] = ()) -> str:
    """'HTTP 403 Forbidden: <the server's own message>', scrubbed, for a failure message."""
    import requests  # loaded already: this response came through it

    answer = f"HTTP {response.status_code} {response.reason or ''}".strip()
    try:
        body = response.content[:4096].decode("utf-8", "replace")
    except requests.RequestException:
        body = ""
    message = ""
    if body.lstrip().startswith("<"):
        try:
            root = SafeTree.fromstring(body.encode())
        except SafeTree.ParseError:
            root = None
        if root is not None and root.tag == tag(DAV, "multistatus"):
            # A DELETE that failed in part (RFC 4918 9.6.1): which members, and why.
            failed = [
                f"{unquote(r.findtext(tag(DAV, 'href')) or '')} "
                f"{(r.findtext(tag(DAV, 'status')) or '').replace('HTTP/1.1 ', '')}"
                for r in root.iter(tag(DAV, "response"))
                if " 2" not in f" {(r.findtext(tag(DAV, 'status')) or '').split(' ', 1)[-1]}"
            ]
            message = "; ".join(failed[:3]) + (" …" if len(failed) > 3 else "")
        elif root is not None:
            message = root.findtext(tag("http://sabredav.org/ns", "message")) or ""
    message = scrub(message, secrets)
    return f"{answer}: {message}" if message else answer


# Members of a collection ---------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One member of a PROPFIND answer."""

    url: str
    kinds: frozenset[str]  # resourcetype children, e.g. {"{DAV:}collection", "{...}calendar"}
    name: str = ""
    size: int | None = None
    modified: datetime | None = None
    owner: str | None = None  # DAV:owner's href, or Nextcloud's owner-principal/owner-id

    @property
    def is_collection(self) -> bool:
        return tag(DAV, "collection") in self.kinds


def owner_of(prop: Element) -> str | None:
    for path in (
        f"{tag(DAV, 'owner')}/{tag(DAV, 'href')}",
        tag(OWNCLOUD, "owner-principal"),
        tag(OWNCLOUD, "owner-id"),
    ):
        text = (prop.findtext(path) or "").strip()
        if text:
            return text
    return None


# Requests ----------------------------------------------------------------------------------


def offered_schemes(challenge: str | None) -> list[str]:
    """The schemes of a WWW-Authenticate header, lower-case, in the server's order."""
    found: list[str] = []
    for match in re.finditer(r"(?:^|,)\s*([A-Za-z][A-Za-z0-9_-]*)(?=\s+[^=,\s]|\s*(?:,|$))",
                             challenge or ""):  # fmt: skip
        scheme = match.group(1).lower()
        if scheme not in found:
            found.append(scheme)
    return found


class DavSession:
    """Requests to one DAV server with one set of credentials and the scheme it wants."""

    def __init__(
        self,
        client: Client,
        service: str,
        credentials: Callable[[], tuple[str, str]],
        *,
        scheme: str | None = None,
        secrets: Callable[[], tuple[str, ...]] = tuple,
    ) -> None:
        self.client = client
        self.service = service
        self.credentials = credentials  # raises ConnectorError when there are none
        self.forced = scheme
        self.scheme = scheme  # None until a challenge chose one
        self.secrets = secrets
        self._digest: HTTPDigestAuth | None = None

    def with_credentials(self, login: str, password: str) -> DavSession:
        """The same server as another account (the person's own password, one download)."""
        return DavSession(
            self.client,
            self.service,
            lambda: (login, password),
            scheme=self.forced,
            secrets=lambda: (*self.secrets(), password),
        )

    def _auth(self) -> AuthBase | None:
        if self.scheme is None:
            return None
        from requests.auth import HTTPBasicAuth, HTTPDigestAuth  # see the imports above

        user, password = self.credentials()
        if self.scheme == "digest":
            # One instance keeps the server's nonce between requests (it is thread-safe).
            if self._digest is None or (self._digest.username, self._digest.password) != (
                user,
                password,
            ):
                self._digest = HTTPDigestAuth(user, password)
            return self._digest
        return HTTPBasicAuth(user, password)

    def request(
        self, method: str, url: str, *, ok: tuple[int, ...], **kw: Any
    ) -> requests.Response:
        """The response if its status is in `ok`; a 401 chooses the scheme and tries again."""
        self.credentials()  # no request at all without credentials to give
        sent = self.scheme
        try:
            return self.client.request(method, url, ok=ok, auth=self._auth(), **kw)
        except HttpFailure as exc:
            if exc.status != 401:
                raise
            offered = offered_schemes(exc.challenge)
            wanted = self.forced or next((s for s in ("digest", "basic") if s in offered), None)
            if wanted is None or wanted == sent:
                raise self._refused(url, offered, sent) from exc
            self.scheme = wanted
        try:
            return self.client.request(method, url, ok=ok, auth=self._auth(), **kw)
        except HttpFailure as exc:
            if exc.status == 401:
                raise self._refused(url, offered_schemes(exc.challenge), self.scheme) from exc
            raise

    def _refused(self, url: str, offered: list[str], sent: str | None) -> HttpFailure:
        asked = " or ".join(s.title() for s in offered) or "?"
        return HttpFailure(
            _(
                REFUSED_AUTH,
                host=urlsplit(url).netloc,
                asked=asked,
                sent=sent.title() if sent else _(NO_CREDENTIALS),
            ),
            401,
        )

    def propfind(
        self, url: str, depth: str, body: bytes, *, follow: int = 0
    ) -> list[tuple[str, Element]]:
        """(absolute href, prop element) of each member; 404 gives an empty list."""
        try:
            response = self.request(
                "PROPFIND",
                url,
                ok=(MULTISTATUS,),
                follow=follow,
                data=body,
                headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
            )
        except HttpFailure as exc:
            if exc.status == 404:
                return []
            raise
        with response:
            try:
                root = SafeTree.fromstring(response.content)
            except SafeTree.ParseError as exc:
                raise ConnectorError(_(INVALID_XML, service=self.service)) from exc
        found: list[tuple[str, Element]] = []
        for member in root.iter(tag(DAV, "response")):
            href = member.findtext(tag(DAV, "href"))
            if not href:
                continue
            for propstat in member.iter(tag(DAV, "propstat")):
                status = propstat.findtext(tag(DAV, "status")) or ""
                prop = propstat.find(tag(DAV, "prop"))
                if prop is not None and " 200 " in f"{status} ":
                    found.append((urljoin(url, href.strip()), prop))
        return found

    def listing(self, url: str) -> list[Resource]:
        """The members of a collection (Depth 1), without the collection itself."""
        members: dict[str, Resource] = {}
        for href, prop in self.propfind(url, "1", PROPFIND_LISTING):
            if same_path(href, url):
                continue
            kinds_el = prop.find(tag(DAV, "resourcetype"))
            kinds = frozenset(child.tag for child in kinds_el) if kinds_el is not None else None
            size_text = prop.findtext(tag(DAV, "getcontentlength"))
            earlier = members.get(href)
            members[href] = Resource(
                url=href,
                kinds=kinds if kinds is not None else (earlier.kinds if earlier else frozenset()),
                name=(prop.findtext(tag(DAV, "displayname")) or "").strip()
                or (earlier.name if earlier else ""),
                size=int(size_text) if size_text and size_text.strip().isdigit() else None,
                modified=modified(prop.findtext(tag(DAV, "getlastmodified"))),
                owner=owner_of(prop) or (earlier.owner if earlier else None),
            )
        return list(members.values())

    def remove(self, url: str) -> requests.Response:
        """DELETE, whatever the answer: the caller decides what each status means."""
        any_but_401 = tuple(s for s in range(200, 600) if s != 401)
        response = self.request("DELETE", url, ok=any_but_401)
        response.close()
        return response
