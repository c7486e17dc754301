"""The `dav` connector itself: options, and inventory, export, plan and deletion.

Every action starts from the same inventory of what is the person's (holdings.py), asked
of the server when it runs. Deletion removes her own collections and files, then each
emptied home that is not her principal; a home the server refuses to remove (403, 405,
409, or a 5xx on the home itself, as Xandikos answers) stays and is recorded as kept. A
principal is never deleted: it is the account on the DAV server, which its own
administration removes. Every failure names the collection and the server's answer.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from defusedxml import ElementTree as SafeTree
from flask import Flask
from flask_babel import gettext as _
from flask_babel import ngettext

from app.connectors.base import (
    N_,
    ArchiveEntry,
    ConnectorError,
    DataItem,
    DeletionPlan,
    KeptItem,
    PlannedItem,
    Skipped,
    StepResult,
    safe_uid,
)
from app.connectors.dav.calendar import CalendarMerger, vcards
from app.connectors.dav.holdings import Collection, FileTree, Holdings, collections, walk
from app.connectors.dav.importing import DavImporter
from app.connectors.dav.protocol import (
    ADDRESSBOOK_QUERY,
    AUTH_SCHEMES,
    CALDAV,
    CALENDAR_QUERY,
    CARDDAV,
    DAV,
    MULTISTATUS,
    PROPFIND_KIND,
    PROPFIND_PRINCIPAL,
    DavSession,
    archive_name,
    display_name,
    fill_template,
    last_segment,
    parent_key,
    path_key,
    person_value,
    server_answer,
    sibling,
    tag,
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

NO_EMAIL = N_("the person has no e-mail address for the DAV login")
NO_PRINCIPAL = N_("%(service)s gave no current-user-principal: set principal in hoster.toml")
NO_ACCOUNT = N_(
    "No service account (admin_user) for %(url)s: delete the person's calendars, address "
    "books and files by hand."
)
REFUSED_DELETE = N_("the server refused to delete %(name)s (%(url)s): %(answer)s")
COLLECTIONS_LEFT = N_("%(num)s collections are left under %(url)s")
FILES_LEFT = N_("%(num)s files or folders are left in %(url)s")
DELETED_COLLECTIONS = N_("Calendars and address books deleted: %(names)s.")
DELETED_HOME = N_("The emptied home folder %(url)s was deleted too.")
DELETED_FILES = N_("%(num)s files and folders deleted at the top of %(url)s.")
KEPT_HOME = N_(
    "The empty home folder %(url)s stays on the server, which refused to remove it "
    "(%(answer)s); it holds nothing of the person's."
)
KEPT_PRINCIPAL = N_(
    "The principal %(url)s (the person's account on the DAV server) stays: the panel never "
    "deletes it; the server's own administration removes the account."
)
KEPT_HOME_IN_USE = N_(
    "The home folder %(url)s stays: it still holds what the server keeps for the account "
    "or what others share with the person."
)
SHARED_BY = N_("shared with you by %(owner)s")
NOTE_PRINCIPALS = N_(
    "Principals stay: the panel deletes calendars, address books and files, never the "
    "person's principal (on sabre/dav and Baïkal, remove the user in their admin page)."
)
NOTE_FILES = N_("Files shared with the person by others are left alone.")
NOT_A_COLLECTION = N_(
    "%(url)s is not a DAV collection (%(answer)s to PROPFIND). If the server speaks DAV on "
    "a sub-path only (Apache mod_dav with Alias /files), keep url at the server and set "
    'files_path = "files/{login}/", with caldav = false and carddav = false for a files-only '
    "server."
)
# Messages a deletion step or a plan may record (see N_); a detail holds one per line.
OUTCOMES = (
    NO_EMAIL,
    NO_PRINCIPAL,
    NO_ACCOUNT,
    REFUSED_DELETE,
    COLLECTIONS_LEFT,
    FILES_LEFT,
    DELETED_COLLECTIONS,
    DELETED_HOME,
    DELETED_FILES,
    KEPT_HOME,
    KEPT_PRINCIPAL,
    KEPT_HOME_IN_USE,
    SHARED_BY,
    NOTE_PRINCIPALS,
    NOTE_FILES,
)
# A home the server will not remove once emptied: kept, not a failure.
HOME_REFUSALS = (403, 405, 409)


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
    auth = options.choice("auth", AUTH_SCHEMES)
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
        auth=auth,
    )


class DavConnector(DavImporter, WebConnector):
    """CalDAV/CardDAV/WebDAV as a service account allowed on the person's collections;
    it imports too (moving house, importing.py)."""

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
        auth: str | None = None,
    ) -> None:
        super().__init__(service)
        # False: read calendars and address books object by object (see the docstring).
        self.report = report
        self.admin_user = admin_user
        self.password = password
        # Export with the person's own password, typed in the export form for one download.
        self.asks_password = ask_password
        self.login_template = login
        self.principal_template = principal
        self.caldav = caldav
        self.carddav = carddav
        self.files = files
        self.files_path = files_path
        self.session = DavSession(
            self.client, self.name, self._credentials, scheme=auth, secrets=self._secrets
        )

    # Requests ------------------------------------------------------------------------------

    def _login(self, person: Person) -> str:
        login = self.login_template.replace("{uid}", safe_uid(person.uid))
        if "{email}" in login:
            if not person.email:
                raise ConnectorError(_(NO_EMAIL))
            login = login.replace("{email}", person.email)
        return person_value(login)

    def _credentials(self) -> tuple[str, str]:
        if self.admin_user is None or self.password is None:
            raise ConnectorError(
                _(
                    "%(service)s needs your password to export: type it in the export form",
                    service=self.name,
                )
            )
        return (self.admin_user, self.password.reveal())

    def _secrets(self) -> tuple[str, ...]:
        return (self.password.reveal(),) if self.password is not None else ()

    # Inventory: what is the person's -------------------------------------------------------

    def _principal(self, login: str) -> str:
        if self.principal_template is not None:
            return fill_template(self.client.base, self.principal_template, login)
        for start in (self.client.base, self.client.url("/.well-known/caldav")):
            for href, prop in self.session.propfind(start, "0", PROPFIND_PRINCIPAL, follow=3):
                own = prop.find(f"{tag(DAV, 'current-user-principal')}/{tag(DAV, 'href')}")
                if own is not None and own.text:
                    # The service account's principal, e.g. /principals/users/panel/: the
                    # person's is its sibling.
                    return sibling(urljoin(href, own.text.strip()), login)
        raise ConnectorError(_(NO_PRINCIPAL, service=self.name))

    def holdings(self, person: Person, *, counts: bool = False) -> Holdings:
        """The person's own calendars and address books, and what is shared with her."""
        if not (self.caldav or self.carddav):
            return Holdings()
        login = self._login(person)
        return collections(
            self.session,
            self._principal(login),
            login,
            caldav=self.caldav,
            carddav=self.carddav,
            counts=counts,
        )

    def _files_root(self, person: Person) -> str:
        return fill_template(self.client.base, self.files_path, self._login(person))

    def check(self) -> str:
        """Raise ConnectorError unless the server accepts the service account (doctor)."""
        if self.admin_user is None:
            return f"{self.client.base}: no service account; exports use the person's password"
        base_ok, answer = self._is_collection(self.client.base)
        if self.caldav or self.carddav:
            if not base_ok:
                raise ConnectorError(NOT_A_COLLECTION % {"url": self.client.base, "answer": answer})
            self.session.propfind(self.client.base, "0", PROPFIND_PRINCIPAL)
        lines = [f"{self.client.base}: signed in as {self.admin_user}"]
        if self.files:
            fixed = self.files_path.split("{login}", 1)[0]
            top = urljoin(self.client.base, fixed[: fixed.rfind("/") + 1])  # the people's folder
            files_ok, files_answer = self._is_collection(top)
            if not files_ok:
                raise ConnectorError(NOT_A_COLLECTION % {"url": top, "answer": files_answer})
            if not base_ok:
                lines = [
                    f"{self.client.base} is not itself a DAV collection ({answer}), which is "
                    f"fine: the files are read under {top}, which is one; signed in as "
                    f"{self.admin_user}"
                ]
        return "; ".join(lines)

    def _is_collection(self, url: str) -> tuple[bool, str]:
        """(is a DAV collection, the server's answer) for the doctor."""
        try:
            found = self.session.propfind(url, "0", PROPFIND_KIND)
        except HttpFailure as exc:
            if exc.status in (404, 405, 501):
                return False, f"HTTP {exc.status}"
            raise
        kinds = [p.find(tag(DAV, "resourcetype")) for _h, p in found]
        if any(k is not None and k.find(tag(DAV, "collection")) is not None for k in kinds):
            return True, "HTTP 207"
        return False, "HTTP 404" if not found else "not a collection"

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
            held = self.holdings(person)
            calendars = sum(1 for c in held.collections if c.kind == "calendar")
            books = len(held.collections) - calendars
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
            if held.shared:
                kind = ngettext(
                    "%(num)d calendar or address book shared with you by others stays theirs",
                    "%(num)d calendars or address books shared with you by others stay theirs",
                    len(held.shared),
                )
                owners = _("As their owners decide")
                items.append(DataItem(self.slug, kind, location, owners, False))
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
        as_person.session = self.session.with_credentials(self._login(person), password)
        try:
            yield from as_person.export(person)
        except HttpFailure as exc:
            if exc.status in (401, 403):
                raise ConnectorError(
                    _("%(service)s refused your password", service=self.name)
                ) from exc
            raise

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        if self.caldav or self.carddav:
            used: set[str] = set()
            for collection in self.holdings(person).collections:
                folder, suffix = (
                    ("calendars", ".ics") if collection.kind == "calendar" else ("contacts", ".vcf")
                )
                base = display_name(collection.name, collection.kind)
                name, n = base, 1
                while f"{folder}/{name}" in used:
                    n += 1
                    name = f"{base} ({n})"
                used.add(f"{folder}/{name}")
                chunks = (
                    self._calendar(collection)
                    if collection.kind == "calendar"
                    else self._address_book(collection)
                )
                yield ArchiveEntry(
                    path=f"services/{self.slug}/{folder}/{name}{suffix}",
                    chunks=chunks,
                    format="iCalendar" if suffix == ".ics" else "vCard",
                    description=collection.name,
                )
        if self.files:
            yield from self._files(self._files_root(person), self._login(person))

    def _report(self, collection: Collection, body: bytes, data_tag: str) -> Iterator[str]:
        """The text of every object of a collection, parsed while the answer arrives."""
        response = self.session.request(
            "REPORT",
            collection.url,
            ok=(MULTISTATUS,),
            stream=True,
            data=body,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
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
        for resource in sorted(self.session.listing(collection.url), key=lambda r: r.url):
            if resource.is_collection:
                continue
            response = self.session.request("GET", resource.url, ok=(200,), stream=True)
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

    def _files(self, root: str, login: str) -> Iterator[ArchiveEntry | Skipped]:
        """Her files with their names as they are; empty folders as folder entries."""
        prefix = f"services/{self.slug}/files"
        paths = {path_key(root): prefix}
        for resource, empty in walk(self.session, root, login, FileTree()):
            parent = paths.get(parent_key(resource.url))
            raw = last_segment(resource.url)
            name = archive_name(raw)
            if parent is None:
                continue  # inside a folder that was refused below
            if name is None:
                yield Skipped(f"{parent}/{raw}", _("a name that cannot be a file name"))
                continue
            path = f"{parent}/{name}"
            if resource.is_collection:
                paths[path_key(resource.url)] = path
                if empty:
                    yield ArchiveEntry(path=path + "/", chunks=(), size=0, mtime=resource.modified)
                continue
            yield ArchiveEntry(
                path=path,
                chunks=self._download(resource.url, path),
                size=resource.size,
                mtime=resource.modified,
                format=format_name("data", path),
            )

    def _download(self, url: str, path: str) -> Iterator[bytes]:
        response = self.session.request("GET", url, ok=(200,), stream=True)
        yield from body_chunks(response, path.rsplit("/", 1)[-1])

    # Plan and deletion ----------------------------------------------------------------------

    def plan(self, person: Person) -> DeletionPlan:
        """What delete() would remove and keep, read from the server now (nothing changes)."""
        held = self.holdings(person, counts=True)
        delete = [PlannedItem(c.name, c.count, c.size) for c in held.collections]
        keep = [KeptItem(s.name, SHARED_BY, (("owner", s.owner),)) for s in held.shared]
        notes: list[str] = []
        if self.caldav or self.carddav:
            notes.append(NOTE_PRINCIPALS)
        if self.files:
            root = self._files_root(person)
            tree = FileTree()
            for _resource, _empty in walk(self.session, root, self._login(person), tree):
                pass
            if tree.files or tree.folders:
                delete.append(PlannedItem(last_segment(root) or root, tree.files, tree.size))
            keep.extend(KeptItem(s.name, SHARED_BY, (("owner", s.owner),)) for s in tree.shared)
            notes.append(NOTE_FILES)
        return DeletionPlan(self.slug, tuple(delete), tuple(keep), tuple(notes))

    def _refusal(self, name: str, url: str, response: Any) -> str:
        return REFUSED_DELETE % {
            "name": repr(name),
            "url": url,
            "answer": server_answer(response, self._secrets()),
        }

    def _delete(self, person: Person) -> StepResult:
        if self.admin_user is None:
            return StepResult(ok=False, detail=NO_ACCOUNT % {"url": self.client.base})
        done: list[str] = []  # one recorded sentence a line (see N_)
        kept: list[str] = []
        failures: list[str] = []
        if self.caldav or self.carddav:
            # Ownership is asked of the server again now, whatever the approved plan said.
            held = self.holdings(person)
            names: list[str] = []
            for collection in held.collections:
                response = self.session.remove(collection.url)
                if response.status_code in (200, 204, 404):
                    names.append(repr(collection.name))
                else:
                    failures.append(self._refusal(collection.name, collection.url, response))
            if names:
                done.append(DELETED_COLLECTIONS % {"names": ", ".join(names)})
            if not failures:
                left = self.holdings(person)
                if left.collections:
                    failures.append(
                        COLLECTIONS_LEFT % {"num": len(left.collections), "url": left.principal}
                    )
                else:
                    self._remove_homes(left, done, kept)
        if self.files:
            root = self._files_root(person)
            login = self._login(person)
            tops = [
                r for r, _empty in walk(self.session, root, login, FileTree())
                if parent_key(r.url) == path_key(root)
            ]  # fmt: skip
            removed = 0
            for resource in tops:
                response = self.session.remove(resource.url)
                if response.status_code in (200, 204, 404):
                    removed += 1
                else:
                    name = last_segment(resource.url)
                    failures.append(self._refusal(name, resource.url, response))
            if removed:
                done.append(DELETED_FILES % {"num": removed, "url": root})
            remaining = list(walk(self.session, root, login, FileTree()))
            if remaining and not failures:
                failures.append(FILES_LEFT % {"num": len(remaining), "url": root})
        if failures:
            raise ConnectorError("\n".join([*failures, *done]))
        return StepResult(ok=True, detail="\n".join(done) or NOTHING_HELD, kept=tuple(kept))

    def _remove_homes(self, held: Holdings, done: list[str], kept: list[str]) -> None:
        """Remove each emptied home, never a principal; a refusal keeps it (not a failure)."""
        if held.principal is not None:
            kept.append(KEPT_PRINCIPAL % {"url": held.principal})
        for home in held.homes:
            if home.is_principal:
                continue
            if self.session.listing(home.url):
                kept.append(KEPT_HOME_IN_USE % {"url": home.url})
                continue
            response = self.session.remove(home.url)
            status = response.status_code
            if status in (200, 204, 404):
                done.append(DELETED_HOME % {"url": home.url})
            elif status in HOME_REFUSALS or status >= 500:
                answer = server_answer(response, self._secrets())
                kept.append(KEPT_HOME % {"url": home.url, "answer": answer})
            else:
                raise ConnectorError(self._refusal(last_segment(home.url), home.url, response))
