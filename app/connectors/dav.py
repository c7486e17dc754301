"""The `dav` connector: calendars (CalDAV), address books (CardDAV) and files (WebDAV).

Discovery follows RFC 6764 and RFC 4791/6352: the principal of the person (the
service account's own `current-user-principal` with its last segment replaced by the
person's login, or the `principal` template), then its `calendar-home-set` and
`addressbook-home-set`, then a Depth 1 PROPFIND of each home for the collections.

Export writes one iCalendar file per calendar (every object of a REPORT calendar-query
merged into one VCALENDAR, each time zone once) and one vCard file per address book,
parsed while the server's answer arrives. A server or collection that refuses those
REPORTs (405, 501), or a table with `report = false`, is read member by member instead:
a Depth 1 PROPFIND of the collection, then a GET of each object, one at a time. With
`files = true`, the WebDAV tree under `files_path` as files with their modification times.
Delete removes every collection and file it found, then the emptied home when the server
allows it; a second run finds nothing and succeeds.

XML is parsed with defusedxml only. The service account's password is sent to the
configured server only (never to a redirect elsewhere) and never appears in a message.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeTree
from flask import Flask
from flask_babel import gettext as _
from flask_babel import ngettext

from app.connectors.base import (
    N_,
    ArchiveEntry,
    ConnectorError,
    DataItem,
    Skipped,
    StepResult,
    safe_uid,
)
from app.connectors.formats import format_name
from app.connectors.options import ConnectorOptions
from app.connectors.secrets import Secret
from app.connectors.web import (
    NOTHING_HELD,
    HttpFailure,
    RawReader,
    WebConnector,
    WebService,
    body_chunks,
)
from app.directory import Person

DAV, CALDAV, CARDDAV = "DAV:", "urn:ietf:params:xml:ns:caldav", "urn:ietf:params:xml:ns:carddav"
PRODID = "-//chatons-panel//data export//EN"
MULTISTATUS = 207

PROPFIND_PRINCIPAL = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"""
PROPFIND_HOMES = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"
    xmlns:r="urn:ietf:params:xml:ns:carddav">
  <d:prop><c:calendar-home-set/><r:addressbook-home-set/></d:prop>
</d:propfind>"""
PROPFIND_LISTING = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop>
  <d:resourcetype/><d:displayname/><d:getcontentlength/><d:getlastmodified/>
</d:prop></d:propfind>"""
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


NO_EMAIL = N_("the person has no e-mail address for the DAV login")
INVALID_XML = N_("%(service)s answered a PROPFIND with invalid XML")
NO_PRINCIPAL = N_("%(service)s gave no current-user-principal: set principal in hoster.toml")
NO_ACCOUNT = N_(
    "No service account (admin_user) for %(url)s: delete the person's calendars, address "
    "books and files by hand."
)
REFUSED_DELETE = N_("the server refused to delete %(url)s")
COLLECTIONS_LEFT = N_("%(num)s collections are left under %(url)s")
FILES_LEFT = N_("%(num)s files or folders are left in %(url)s")
DELETED_COLLECTIONS = N_("Calendars and address books deleted: %(names)s.")
DELETED_HOME = N_("The emptied home folder was deleted too.")
DELETED_FILES = N_("%(num)s files and folders deleted at the top of %(url)s.")
KEPT_HOME = N_(
    "The empty home folder %(url)s stays on the server, which keeps it as long as the "
    "account exists there (Nextcloud, SOGo)."
)
# Messages a deletion step may record (see N_); a detail holds one per line.
OUTCOMES = (
    NO_EMAIL,
    INVALID_XML,
    NO_PRINCIPAL,
    NO_ACCOUNT,
    REFUSED_DELETE,
    COLLECTIONS_LEFT,
    FILES_LEFT,
    DELETED_COLLECTIONS,
    DELETED_HOME,
    DELETED_FILES,
    KEPT_HOME,
)


def tag(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass(frozen=True)
class Resource:
    """One member of a PROPFIND answer."""

    url: str
    kinds: frozenset[str]  # resourcetype children, e.g. {"{DAV:}collection", "{...}calendar"}
    name: str = ""
    size: int | None = None
    modified: datetime | None = None

    @property
    def is_collection(self) -> bool:
        return tag(DAV, "collection") in self.kinds


def _same_path(a: str, b: str) -> bool:
    return unquote(urlsplit(a).path).rstrip("/") == unquote(urlsplit(b).path).rstrip("/")


def _safe_name(name: str, fallback: str) -> str:
    """A collection's or file's name as one archive path component."""
    cleaned = "".join(c if c.isprintable() and c not in '/\\:*?"<>|' else "_" for c in name)
    cleaned = cleaned.strip(" .")
    return cleaned[:120] or fallback


def _last_segment(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def _modified(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text.strip()).astimezone(UTC)
    except (TypeError, ValueError):
        return None


# iCalendar and vCard ---------------------------------------------------------------------


def _ical_text(value: str) -> str:
    """An iCalendar TEXT value (RFC 5545 3.3.11)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without cutting a UTF-8 character (RFC 5545 3.1)."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line + "\r\n"
    pieces: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode("utf-8")) > limit:
            pieces.append(current)
            current = " "
            limit = 75
        current += char
    pieces.append(current)
    return "\r\n".join(pieces) + "\r\n"


def _lines(text: str) -> list[str]:
    """Content lines as sent, without their line ends (XML turned CRLF into LF)."""
    return [line.rstrip("\r") for line in text.split("\n") if line.strip("\r")]


def _unfolded_value(lines: list[str], name: str) -> str | None:
    """The value of the first property `name` among `lines` (folded lines joined)."""
    joined: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and joined:
            joined[-1] += line[1:]
        else:
            joined.append(line)
    for line in joined:
        head, _sep, value = line.partition(":")
        if head.split(";", 1)[0].upper() == name:
            return value
    return None


class CalendarMerger:
    """Components of many VCALENDAR objects written as one, each VTIMEZONE once."""

    def __init__(self) -> None:
        self.time_zones: set[str] = set()

    def header(self, name: str) -> bytes:
        text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + _fold(f"PRODID:{PRODID}")
        text += "CALSCALE:GREGORIAN\r\n" + _fold(f"X-WR-CALNAME:{_ical_text(name)}")
        return text.encode("utf-8")

    @staticmethod
    def footer() -> bytes:
        return b"END:VCALENDAR\r\n"

    def components(self, calendar_object: str) -> bytes:
        """The components of one object (events, to-dos, time zones not yet written)."""
        out: list[str] = []
        current: list[str] = []
        depth = 0
        for line in _lines(calendar_object):
            upper = line.upper()
            if upper.startswith("BEGIN:"):
                depth += 1
            if depth >= 2:
                current.append(line)
            if upper.startswith("END:"):
                depth -= 1
                if depth == 1 and current:
                    out.extend(self._keep(current))
                    current = []
        return "".join(line + "\r\n" for line in out).encode("utf-8")

    def _keep(self, component: list[str]) -> list[str]:
        if component[0].upper() != "BEGIN:VTIMEZONE":
            return component
        tzid = _unfolded_value(component, "TZID") or ""
        if tzid in self.time_zones:
            return []
        self.time_zones.add(tzid)
        return component


def vcards(address_data: str) -> bytes:
    """One or more vCards with CRLF line ends (RFC 6350 3.2)."""
    return "".join(line + "\r\n" for line in _lines(address_data)).encode("utf-8")


# The connector ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    url: str
    kind: str  # "calendar" or "addressbook"
    name: str


def build(service: Any, options: ConnectorOptions, app: Flask | None = None) -> DavConnector:
    """The connector of a `type = "dav"` table (see docs/connectors.md)."""
    web = WebService.from_options(service, options)
    ask_password = options.boolean("ask_password", default=False)
    if ask_password:
        # The person's own password exports; a service account, if any, deletes.
        admin_user = options.text("admin_user")
        password = options.secret("password", required=admin_user is not None)
    else:
        admin_user = options.required_text("admin_user", '"panel"')
        password = options.secret("password")
    login = options.template("login", ("uid", "email"), default="{uid}")
    if "{uid}" not in login and "{email}" not in login:
        raise options.error("login", ' must contain {uid} or {email}, e.g. login = "{uid}".')
    principal = options.text("principal")
    if principal is not None and "{login}" not in principal:
        raise options.error("principal", ' must contain {login}, e.g. principal = "/{login}/".')
    caldav = options.boolean("caldav", default=True)
    carddav = options.boolean("carddav", default=True)
    files = options.boolean("files", default=False)
    report = options.boolean("report", default=True)
    files_path = options.template("files_path", ("login",), default="files/{login}/")
    if files and "{login}" not in files_path:
        raise options.error("files_path", ' must contain {login}, e.g. "files/{login}/".')
    if not (caldav or carddav or files):
        raise options.error("files", ": caldav, carddav and files are all false: nothing to do.")
    return DavConnector(
        web,
        admin_user=admin_user,
        password=password,
        ask_password=ask_password,
        login=login,
        principal=principal,
        caldav=caldav,
        carddav=carddav,
        files=files,
        files_path=files_path,
        report=report,
    )


class DavConnector(WebConnector):
    """CalDAV/CardDAV/WebDAV as a service account allowed on the person's collections."""

    def __init__(
        self,
        service: WebService,
        *,
        admin_user: str | None,
        password: Secret | None,
        ask_password: bool = False,
        login: str = "{uid}",
        principal: str | None = None,
        caldav: bool = True,
        carddav: bool = True,
        files: bool = False,
        files_path: str = "files/{login}/",
        report: bool = True,
    ) -> None:
        super().__init__(service)
        # False: read calendars and address books object by object (see the docstring).
        self.report = report
        self.admin_user = admin_user
        self.password = password
        # Export with the person's own password, typed in the export form for one download.
        self.asks_password = ask_password
        self._person_auth: tuple[str, str] | None = None
        self.login_template = login
        self.principal_template = principal
        self.caldav = caldav
        self.carddav = carddav
        self.files = files
        self.files_path = files_path

    # Requests ------------------------------------------------------------------------------

    def _login(self, person: Person) -> str:
        login = self.login_template.replace("{uid}", safe_uid(person.uid))
        if "{email}" in login:
            if not person.email:
                raise ConnectorError(_(NO_EMAIL))
            login = login.replace("{email}", person.email)
        return login

    def _auth(self) -> tuple[str, str]:
        if self._person_auth is not None:
            return self._person_auth
        if self.admin_user is None or self.password is None:
            raise ConnectorError(
                _(
                    "%(service)s needs your password to export: type it in the export form",
                    service=self.name,
                )
            )
        return (self.admin_user, self.password.reveal())

    def _propfind(
        self, url: str, depth: str, body: bytes, *, follow: int = 0
    ) -> list[tuple[str, Element]]:
        """(absolute href, prop element) of each member; 404 gives an empty list."""
        try:
            response = self.client.request(
                "PROPFIND",
                url,
                ok=(MULTISTATUS,),
                follow=follow,
                data=body,
                headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
                auth=self._auth(),
            )
        except HttpFailure as exc:
            if exc.status == 404:
                return []
            raise
        with response:
            try:
                root = SafeTree.fromstring(response.content)
            except SafeTree.ParseError as exc:
                raise ConnectorError(_(INVALID_XML, service=self.name)) from exc
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

    def _listing(self, url: str) -> list[Resource]:
        """The members of a collection (Depth 1), without the collection itself."""
        members: dict[str, Resource] = {}
        for href, prop in self._propfind(url, "1", PROPFIND_LISTING):
            if _same_path(href, url):
                continue
            kinds_el = prop.find(tag(DAV, "resourcetype"))
            kinds = frozenset(child.tag for child in kinds_el) if kinds_el is not None else None
            size_text = prop.findtext(tag(DAV, "getcontentlength"))
            resource = members.get(href)
            members[href] = Resource(
                url=href,
                kinds=kinds if kinds is not None else (resource.kinds if resource else frozenset()),
                name=(prop.findtext(tag(DAV, "displayname")) or "").strip()
                or (resource.name if resource else ""),
                size=int(size_text) if size_text and size_text.strip().isdigit() else None,
                modified=_modified(prop.findtext(tag(DAV, "getlastmodified"))),
            )
        return list(members.values())

    # Discovery ----------------------------------------------------------------------------

    def _principal(self, login: str) -> str:
        if self.principal_template is not None:
            return self.client.url(self.principal_template.replace("{login}", quote(login)))
        for start in (self.client.base, self.client.url("/.well-known/caldav")):
            for href, prop in self._propfind(start, "0", PROPFIND_PRINCIPAL, follow=3):
                own = prop.find(f"{tag(DAV, 'current-user-principal')}/{tag(DAV, 'href')}")
                if own is not None and own.text:
                    mine = urljoin(href, own.text.strip())
                    # The service account's principal, e.g. /principals/users/panel/: the
                    # person's is its sibling.
                    path = urlsplit(mine).path
                    trailing = "/" if path.endswith("/") else ""
                    parent = path.rstrip("/").rsplit("/", 1)[0]
                    return self.client.url(f"{parent}/{quote(login)}{trailing}")
        raise ConnectorError(_(NO_PRINCIPAL, service=self.name))

    def _collections(self, login: str) -> tuple[str, list[Collection]]:
        """The person's principal and their calendars and address books."""
        principal = self._principal(login)
        homes: list[str] = []
        for _href, prop in self._propfind(principal, "0", PROPFIND_HOMES):
            wanted = (
                (CALDAV, "calendar-home-set", self.caldav),
                (CARDDAV, "addressbook-home-set", self.carddav),
            )
            for namespace, name, enabled in wanted:
                home_set = prop.find(f"{tag(namespace, name)}/{tag(DAV, 'href')}")
                if enabled and home_set is not None and home_set.text:
                    url = urljoin(principal, home_set.text.strip())
                    if not any(_same_path(url, h) for h in homes):
                        homes.append(url)
        found: list[Collection] = []
        for home in homes:
            for resource in self._listing(home):
                if self.caldav and tag(CALDAV, "calendar") in resource.kinds:
                    kind = "calendar"
                elif self.carddav and tag(CARDDAV, "addressbook") in resource.kinds:
                    kind = "addressbook"
                else:
                    continue
                found.append(
                    Collection(resource.url, kind, resource.name or _last_segment(resource.url))
                )
        found.sort(key=lambda c: (c.kind != "calendar", c.name, c.url))
        return principal, found

    def _files_root(self, login: str) -> str:
        return self.client.url(self.files_path.replace("{login}", quote(login)))

    def check(self) -> str:
        """Raise ConnectorError unless the server accepts the service account (doctor)."""
        if self.admin_user is None:
            return f"{self.client.base}: no service account; exports use the person's password"
        self._propfind(self.client.base, "0", PROPFIND_PRINCIPAL)
        return f"{self.client.base}: signed in as {self.admin_user}"

    # Inventory ----------------------------------------------------------------------------

    def inventory(self, person: Person) -> list[DataItem]:
        location = self.data_location()
        retention = self.data_retention(_("Until you delete them or your account"))
        items: list[DataItem] = []
        if self.admin_user is None:  # without the person's password nothing can be counted
            if self.caldav:
                items.append(
                    DataItem(self.slug, _("Your calendars and tasks"), location, retention, True)
                )
            if self.carddav:
                items.append(
                    DataItem(self.slug, _("Your address books"), location, retention, True)
                )
        elif self.caldav or self.carddav:
            _principal, collections = self._collections(self._login(person))
            calendars = sum(1 for c in collections if c.kind == "calendar")
            books = len(collections) - calendars
            if self.caldav:
                kind = ngettext(
                    "Events and tasks in %(num)d calendar",
                    "Events and tasks in %(num)d calendars",
                    calendars,
                )
                items.append(DataItem(self.slug, kind, location, retention, True))
            if self.carddav:
                kind = ngettext(
                    "Contacts in %(num)d address book", "Contacts in %(num)d address books", books
                )
                items.append(DataItem(self.slug, kind, location, retention, True))
        if self.files:
            kind = _("Files you keep in %(service)s, with their folders", service=self.name)
            items.append(DataItem(self.slug, kind, location, retention, True))
        return items

    # Export -------------------------------------------------------------------------------

    def export_with_password(
        self, person: Person, password: str
    ) -> Iterator[ArchiveEntry | Skipped]:
        """The export signed in as the person, for this one download (nothing is kept)."""
        if not password:
            yield from self.export(person)  # the service account, or a clear error
            return
        as_person = copy.copy(self)
        as_person._person_auth = (self._login(person), password)
        try:
            yield from as_person.export(person)
        except HttpFailure as exc:
            if exc.status in (401, 403):
                raise ConnectorError(
                    _("%(service)s refused your password", service=self.name)
                ) from exc
            raise

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        login = self._login(person)
        if self.caldav or self.carddav:
            _principal, collections = self._collections(login)
            used: set[str] = set()
            for collection in collections:
                folder, suffix = (
                    ("calendars", ".ics") if collection.kind == "calendar" else ("contacts", ".vcf")
                )
                base = _safe_name(collection.name, collection.kind)
                name, n = base, 1
                while f"{folder}/{name}" in used:
                    n += 1
                    name = f"{base} ({n})"
                used.add(f"{folder}/{name}")
                path = f"services/{self.slug}/{folder}/{name}{suffix}"
                chunks = (
                    self._calendar(collection)
                    if collection.kind == "calendar"
                    else self._address_book(collection)
                )
                yield ArchiveEntry(
                    path=path,
                    chunks=chunks,
                    format="iCalendar" if suffix == ".ics" else "vCard",
                    description=collection.name,
                )
        if self.files:
            yield from self._tree(self._files_root(login), [])

    def _report(self, collection: Collection, body: bytes, data_tag: str) -> Iterator[str]:
        """The text of every object of a collection, parsed while the answer arrives."""
        response = self.client.request(
            "REPORT",
            collection.url,
            ok=(MULTISTATUS,),
            stream=True,
            data=body,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
            auth=self._auth(),
        )
        reader = RawReader(response, collection.name)
        try:
            for _event, element in SafeTree.iterparse(reader, events=("end",)):
                if element.tag != tag(DAV, "response"):
                    continue
                for data in element.iter(data_tag):
                    if data.text and data.text.strip():
                        yield data.text
                element.clear()
        except SafeTree.ParseError as exc:
            raise ConnectorError(
                _(
                    "the answer of %(service)s for %(name)s is cut or not valid XML",
                    service=self.name,
                    name=collection.name,
                )
            ) from exc
        finally:
            reader.close()

    def _objects(self, collection: Collection, body: bytes, data_tag: str) -> Iterator[str]:
        """Every object of a collection: one REPORT, or one GET each where REPORT is refused."""
        if self.report:
            sent = False
            try:
                for text in self._report(collection, body, data_tag):
                    sent = True
                    yield text
                return
            except HttpFailure as exc:
                # Only a refusal of the REPORT itself, before any object, falls back.
                if sent or exc.status not in (405, 501):
                    raise
        yield from self._members(collection)

    def _members(self, collection: Collection) -> Iterator[str]:
        """The objects of a collection through PROPFIND Depth 1 and a GET of each member."""
        for resource in sorted(self._listing(collection.url), key=lambda r: r.url):
            if resource.is_collection:
                continue
            response = self.client.request("GET", resource.url, stream=True, auth=self._auth())
            text = b"".join(body_chunks(response, collection.name)).decode("utf-8", "replace")
            if text.strip():
                yield text

    def _calendar(self, collection: Collection) -> Iterator[bytes]:
        merger = CalendarMerger()
        yield merger.header(collection.name)
        for calendar_object in self._objects(
            collection, CALENDAR_QUERY, tag(CALDAV, "calendar-data")
        ):
            yield merger.components(calendar_object)
        yield merger.footer()

    def _address_book(self, collection: Collection) -> Iterator[bytes]:
        for card in self._objects(collection, ADDRESSBOOK_QUERY, tag(CARDDAV, "address-data")):
            yield vcards(card)

    def _tree(self, url: str, parts: list[str]) -> Iterator[ArchiveEntry | Skipped]:
        used: set[str] = set()
        for resource in sorted(self._listing(url), key=lambda r: r.url):
            name = _safe_name(_last_segment(resource.url), "file")
            while name in used:
                name = "_" + name
            used.add(name)
            here = [*parts, name]
            if resource.is_collection:
                yield from self._tree(resource.url, here)
                continue
            path = f"services/{self.slug}/files/{'/'.join(here)}"
            yield ArchiveEntry(
                path=path,
                chunks=self._download(resource.url, path),
                size=resource.size,
                mtime=resource.modified,
                format=format_name("data", path),
            )

    def _download(self, url: str, path: str) -> Iterator[bytes]:
        response = self.client.request("GET", url, stream=True, auth=self._auth())
        yield from body_chunks(response, path.rsplit("/", 1)[-1])

    # Deletion -----------------------------------------------------------------------------

    def _remove(self, url: str) -> int:
        """DELETE; the status: 200/204 deleted, 404 already gone, 403/405/409 refused."""
        response = self.client.request(
            "DELETE", url, ok=(200, 204, 404, 403, 405, 409), auth=self._auth()
        )
        response.close()
        return response.status_code

    def _delete(self, person: Person) -> StepResult:
        if self.admin_user is None:
            return StepResult(ok=False, detail=NO_ACCOUNT % {"url": self.client.base})
        login = self._login(person)
        done: list[str] = []  # one recorded sentence a line (see N_)
        kept: list[str] = []
        if self.caldav or self.carddav:
            principal, collections = self._collections(login)
            names: list[str] = []
            for collection in collections:
                if self._remove(collection.url) not in (200, 204, 404):
                    raise ConnectorError(_(REFUSED_DELETE, url=collection.url))
                names.append(repr(collection.name))
            if names:
                done.append(DELETED_COLLECTIONS % {"names": ", ".join(names)})
            _principal, left = self._collections(login)
            if left:
                raise ConnectorError(_(COLLECTIONS_LEFT, num=len(left), url=principal))
            # Servers that keep the principal as a folder (Radicale) let it go once empty;
            # those where it is part of the account (Nextcloud, SOGo) refuse, which is fine.
            exists = self._propfind(principal, "0", PROPFIND_PRINCIPAL)
            if exists and not self._listing(principal):
                if self._remove(principal) in (200, 204):
                    done.append(DELETED_HOME)
                else:
                    kept.append(KEPT_HOME % {"url": principal})
        if self.files:
            root = self._files_root(login)
            members = self._listing(root)
            for resource in members:
                if self._remove(resource.url) not in (200, 204, 404):
                    raise ConnectorError(_(REFUSED_DELETE, url=resource.url))
            if members:
                done.append(DELETED_FILES % {"num": len(members), "url": root})
            remaining = self._listing(root)
            if remaining:
                raise ConnectorError(_(FILES_LEFT, num=len(remaining), url=root))
        return StepResult(ok=True, detail="\n".join(done) or NOTHING_HELD, kept=tuple(kept))
