"""Moving house for the `dav` connector: calendars, address books and files written in.

The contract is app/connectors/importing.py. Everything goes into the person's own space,
as the service account acting for her:

- a calendar or address book goes into the collection of HERS (holdings.py: in her own
  home-set, `DAV:owner` her) with the same display name, or a new one made in her home
  (MKCALENDAR, or an extended MKCOL with the addressbook resource type), named as it was;
  one shared with her, even read-write and of the same name, is never written into;
- each object is PUT as `<uid>.ics` / `<uid>.vcf` (a UID that is not a plain name is
  hashed) with `If-None-Match: *`, so nothing is ever overwritten. The UIDs already in the
  collection are read once (a REPORT asking only for UID; where REPORT is refused, the
  members' names); an object whose UID is there, or that the server answers 412 or
  `no-uid-conflict` for, is skipped. A card without UID gets its digest as UID, so a second
  import finds it again;
- files are PUT under her files root with their paths (folders made with MKCOL), each
  under a temporary name first and then moved into place (MOVE, `Overwrite: F`), so a
  worker killed halfway leaves no cut file. A file already at that path with the same size
  and SHA-256 is skipped; a different file there is left as it is and the new one refused,
  never overwritten. The modification time goes
  along as `X-OC-Mtime` (Nextcloud and ownCloud keep it; plain WebDAV servers cannot, since
  `getlastmodified` is protected).

A refusal of the server for one object (invalid data, too big, no room) is recorded with
the server's answer, and the next object goes on.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urljoin
from xml.sax.saxutils import escape

from flask_babel import gettext as _

from app.connectors.base import N_, ConnectorError
from app.connectors.dav.holdings import Collection, collections
from app.connectors.dav.protocol import (
    CALDAV,
    CARDDAV,
    DAV,
    PROPFIND_HOMES,
    DavSession,
    display_name,
    inside,
    last_segment,
    server_answer,
    tag,
)
from app.connectors.importing import (
    IMPORTED,
    REFUSED,
    SKIPPED,
    ImportItem,
    ImportPart,
    ImportProgress,
    Malformed,
    PartKind,
)
from app.connectors.web import HttpFailure, body_chunks
from app.directory import Person

if TYPE_CHECKING:
    import requests

REFUSED_OBJECT = N_("the server refused it: %(answer)s")
NO_ROOM = N_("no room left on the server: %(answer)s")
DIFFERENT_FILE = N_("a different file is already at this place: it was left as it is")
FOLDER_THERE = N_("a folder of this name is already at this place")
BAD_PATH = N_("a name that cannot be a file name here")
NO_HOME = N_("%(service)s gave no home for the person's calendars or address books")
CANNOT_CREATE = N_("%(service)s refused to create %(name)s: %(answer)s")
OUTCOMES = (REFUSED_OBJECT, NO_ROOM, DIFFERENT_FILE, FOLDER_THERE, BAD_PATH, NO_HOME,
            CANNOT_CREATE)  # fmt: skip

MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>{name}</D:displayname></D:prop></D:set></C:mkcalendar>"""
MKADDRESSBOOK = """<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
<D:displayname>{name}</D:displayname></D:prop></D:set></D:mkcol>"""
# Only the UID of each object: servers that support partial retrieval send little.
CALENDAR_UIDS = b"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><c:calendar-data><c:comp name="VCALENDAR">
    <c:comp name="VEVENT"><c:prop name="UID"/></c:comp>
    <c:comp name="VTODO"><c:prop name="UID"/></c:comp>
    <c:comp name="VJOURNAL"><c:prop name="UID"/></c:comp>
  </c:comp></c:calendar-data></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"/></c:filter>
</c:calendar-query>"""
ADDRESSBOOK_UIDS = b"""<?xml version="1.0" encoding="utf-8"?>
<r:addressbook-query xmlns:d="DAV:" xmlns:r="urn:ietf:params:xml:ns:carddav">
  <d:prop><r:address-data><r:prop name="UID"/></r:address-data></d:prop>
  <r:filter/>
</r:addressbook-query>"""
PROPFIND_QUOTA = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:quota-available-bytes/></d:prop></d:propfind>"""
PROPFIND_FILE = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/></d:prop>
</d:propfind>"""

# The suffix of a file being written (".name.jpg.panel-import" until it is whole).
PARTIAL = ".panel-import"
_STOP = (401, 502, 503, 504)
_PLAIN_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._+-]{0,99}")
_UID_LINE = re.compile(r"^UID[;:]", re.IGNORECASE)
_KINDS = {"calendar": ("calendar", ".ics"), "contacts": ("addressbook", ".vcf")}
_CONTENT_TYPES = {".ics": "text/calendar; charset=utf-8", ".vcf": "text/vcard; charset=utf-8"}


def object_name(uid: str, suffix: str) -> str:
    """The member name of an object: its UID when it is a plain name, else its digest."""
    if _PLAIN_UID.fullmatch(uid) and not uid.endswith("."):
        return quote(uid, safe="@+") + suffix
    return hashlib.sha256(uid.encode("utf-8")).hexdigest() + suffix


def slug(name: str, fallback: str) -> str:
    """A member name for a new collection, from its display name ("Travail & réunions" →
    "travail-reunions")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40]
    return cleaned or fallback


def uids_of(text: str) -> Iterator[str]:
    """The UID values of an iCalendar or vCard text (folded lines joined)."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    for line in unfolded.splitlines():
        if _UID_LINE.match(line):
            yield line.split(":", 1)[1].strip() if ":" in line else ""


def with_uid(data: bytes, uid: str, kind: str) -> bytes:
    """The object with `UID:<uid>` added to its component (a card or event had none)."""
    wanted = (b"BEGIN:VCARD",) if kind == "addressbook" else (
        b"BEGIN:VEVENT", b"BEGIN:VTODO", b"BEGIN:VJOURNAL")  # fmt: skip
    lines = data.split(b"\r\n")
    for i, line in enumerate(lines):
        if line.strip().upper() in wanted:
            lines.insert(i + 1, b"UID:" + uid.encode("utf-8"))
            break
    return b"\r\n".join(lines)


class _Body:
    """A file's content for a streamed PUT: its length known, reopened to be sent again
    (a Digest nonce gone stale makes requests send the body a second time)."""

    def __init__(self, item: ImportItem) -> None:
        self.item = item
        self.stream: IO[bytes] | None = None

    def __len__(self) -> int:
        return self.item.size

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self.close()
        return 0

    def read(self, size: int = -1) -> bytes:
        if self.stream is None:
            if self.item.open is None:
                return self.item.data or b""
            self.stream = self.item.open()
        return self.stream.read(size)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None


class DavImporter:
    """The `import_` side of DavConnector (mixed into it; see connector.py)."""

    # Given by DavConnector.
    session: DavSession
    name: str
    slug: str
    admin_user: str | None
    caldav: bool
    carddav: bool
    files: bool
    report: bool

    def _login(self, person: Person) -> str:
        raise NotImplementedError

    def _principal(self, login: str) -> str:
        raise NotImplementedError

    def _files_root(self, person: Person) -> str:
        raise NotImplementedError

    def _secrets(self) -> tuple[str, ...]:
        raise NotImplementedError

    def _report(self, collection: Collection, body: bytes, data_tag: str) -> Iterator[str]:
        raise NotImplementedError

    @property
    def imports(self) -> frozenset[PartKind]:
        """What this service takes; nothing without a service account to act for her."""
        if self.admin_user is None:
            return frozenset()
        kinds: set[PartKind] = set()
        if self.caldav:
            kinds.add("calendar")
        if self.carddav:
            kinds.add("contacts")
        if self.files:
            kinds.add("files")
        return frozenset(kinds)

    # Room left -----------------------------------------------------------------------------

    def available_bytes(self, person: Person) -> int | None:
        """The least `quota-available-bytes` of her homes and files root (None: no limit)."""
        places: list[str] = []
        if self.caldav or self.carddav:
            places.extend(self._homes(self._login(person)).values())
        if self.files:
            places.append(self._files_root(person))
        found: list[int] = []
        for url in dict.fromkeys(places):
            try:
                answers = self.session.propfind(url, "0", PROPFIND_QUOTA)
            except HttpFailure as exc:
                if exc.status in (403, 405, 501):
                    continue
                raise
            for _href, prop in answers:
                text = (prop.findtext(tag(DAV, "quota-available-bytes")) or "").strip()
                if text.isdigit():
                    found.append(int(text))
        return min(found) if found else None

    def _homes(self, login: str) -> dict[str, str]:
        """{"calendar": her calendar-home-set, "addressbook": her addressbook-home-set}."""
        principal = self._principal(login)
        homes: dict[str, str] = {}
        for _href, prop in self.session.propfind(principal, "0", PROPFIND_HOMES):
            for kind, namespace, name in (
                ("calendar", CALDAV, "calendar-home-set"),
                ("addressbook", CARDDAV, "addressbook-home-set"),
            ):
                href = prop.findtext(f"{tag(namespace, name)}/{tag(DAV, 'href')}")
                if href and href.strip():
                    homes.setdefault(kind, urljoin(principal, href.strip()))
        return homes

    # Import --------------------------------------------------------------------------------

    def import_(self, person: Person, part: ImportPart, progress: ImportProgress) -> None:
        if part.kind not in self.imports:
            raise ConnectorError(f"{self.name} does not take {part.kind}")  # a planning bug
        if part.kind == "files":
            self._import_files(person, part, progress)
        else:
            self._import_objects(person, part, progress)

    def _import_objects(self, person: Person, part: ImportPart, progress: ImportProgress) -> None:
        kind, suffix = _KINDS[part.kind]
        collection = self._collection_for(person, kind, part.name)
        present = self._present_uids(collection, kind, suffix)
        for item in part.items:
            if isinstance(item, Malformed):
                progress.done(item, REFUSED, item.reason)
                continue
            uid = item.key
            if uid in present or object_name(uid, suffix).removesuffix(suffix) in present:
                progress.done(item, SKIPPED)
                continue
            data = item.data if item.data is not None else self._read_whole(item)
            if not any(u == uid for u in uids_of(data.decode("utf-8", "replace"))):
                data = with_uid(data, uid, kind)
            outcome, reason = self._put_object(collection.url + object_name(uid, suffix), data,
                                               suffix)  # fmt: skip
            if outcome != REFUSED:
                present.add(uid)
            progress.done(item, outcome, reason)

    @staticmethod
    def _read_whole(item: ImportItem) -> bytes:
        if item.open is None:
            return b""
        with item.open() as stream:
            return stream.read()

    def _put_object(self, url: str, data: bytes, suffix: str) -> tuple[Any, str]:
        headers = {"If-None-Match": "*", "Content-Type": _CONTENT_TYPES[suffix]}
        response = self._ask("PUT", url, data=data, headers=headers)
        status = response.status_code
        if status in (200, 201, 204):
            return IMPORTED, ""
        if status == 412 or (status in (403, 409) and b"no-uid-conflict" in response.content):
            return SKIPPED, ""
        return REFUSED, self._refused_because(response)

    def _ask(self, method: str, url: str, **kw: Any) -> requests.Response:
        """The server's answer about one object. A refusal of the credentials (401) or a
        server that is down (502, 503, 504) raises HttpFailure: that stops the import,
        which can be resumed, instead of refusing every object one after the other."""
        answers = tuple(s for s in range(200, 600) if s not in _STOP)
        response = self.session.request(method, url, ok=answers, **kw)
        response.content  # noqa: B018 - read the (short) answer so the connection is reused
        return response

    def _refused_because(self, response: requests.Response) -> str:
        answer = server_answer(response, self._secrets())
        if response.status_code == 507:  # Insufficient Storage (RFC 4918)
            return NO_ROOM % {"answer": answer}
        return REFUSED_OBJECT % {"answer": answer}

    def _collection_for(self, person: Person, kind: str, name: str) -> Collection:
        """Her collection of that name, or a new one in her home. Never one shared with her."""
        login = self._login(person)
        held = collections(
            self.session,
            self._principal(login),
            login,
            caldav=kind == "calendar",
            carddav=kind == "addressbook",
        )
        for collection in held.collections:  # hers only: the shared ones are in held.shared
            if collection.kind == kind and name in (
                collection.name,
                display_name(collection.name, kind),
            ):
                return collection
        home = self._homes(login).get(kind)
        if home is None:
            raise ConnectorError(_(NO_HOME, service=self.name))
        home = home if home.endswith("/") else home + "/"
        template = MKCALENDAR if kind == "calendar" else MKADDRESSBOOK
        method = "MKCALENDAR" if kind == "calendar" else "MKCOL"
        body = template.format(name=escape(name)).encode("utf-8")
        base = slug(name, "calendar" if kind == "calendar" else "contacts")
        for n in range(1, 21):
            url = urljoin(home, quote(base if n == 1 else f"{base}-{n}") + "/")
            response = self._ask(
                method, url, data=body, headers={"Content-Type": "application/xml; charset=utf-8"}
            )
            if response.status_code in (200, 201, 204):
                return Collection(url, kind, name)
            if response.status_code not in (405, 409):
                break
        answer = server_answer(response, self._secrets())
        raise ConnectorError(_(CANNOT_CREATE, service=self.name, name=repr(name), answer=answer))

    def _present_uids(self, collection: Collection, kind: str, suffix: str) -> set[str]:
        """The UIDs in the collection (one REPORT asking only for them); where REPORT is
        refused, the members' names, which give the UID of what an import wrote."""
        if self.report:
            body, data_tag = (
                (CALENDAR_UIDS, tag(CALDAV, "calendar-data"))
                if kind == "calendar"
                else (ADDRESSBOOK_UIDS, tag(CARDDAV, "address-data"))
            )
            present: set[str] = set()
            try:
                for text in self._report(collection, body, data_tag):
                    present.update(uids_of(text))
                return present
            except HttpFailure as exc:
                if exc.status not in (400, 403, 405, 501):
                    raise
        return {
            last_segment(r.url).removesuffix(suffix)
            for r in self.session.listing(collection.url)
            if not r.is_collection
        }

    # Files -------------------------------------------------------------------------------

    def _import_files(self, person: Person, part: ImportPart, progress: ImportProgress) -> None:
        root = self._files_root(person)
        root = root if root.endswith("/") else root + "/"
        made: set[str] = set()
        response = self._ask("MKCOL", root)
        if response.status_code not in (200, 201, 204, 405):
            answer = server_answer(response, self._secrets())
            raise ConnectorError(_(CANNOT_CREATE, service=self.name, name=repr(root),
                                   answer=answer))  # fmt: skip
        for item in part.items:
            if isinstance(item, Malformed):
                progress.done(item, REFUSED, item.reason)
                continue
            outcome, reason = self._put_file(root, item, made)
            progress.done(item, outcome, reason)

    def _put_file(self, root: str, item: ImportItem, made: set[str]) -> tuple[Any, str]:
        path = item.key or item.name
        folder = path.endswith("/")
        segments = path.strip("/").split("/")
        if not all(_fit(s) for s in segments):
            return REFUSED, BAD_PATH
        url = root + "/".join(quote(s, safe="") for s in segments) + ("/" if folder else "")
        if not inside(url, root):
            return REFUSED, BAD_PATH
        parents = segments if folder else segments[:-1]
        for i in range(1, len(parents) + 1):
            here = root + "/".join(quote(s, safe="") for s in parents[:i]) + "/"
            if here in made:
                continue
            response = self._ask("MKCOL", here)
            if response.status_code not in (200, 201, 204, 405):
                return REFUSED, self._refused_because(response)
            made.add(here)
            if i == len(parents) and folder:
                return (IMPORTED if response.status_code != 405 else SKIPPED), ""
        if folder:
            return SKIPPED, ""
        there = self.session.propfind(url, "0", PROPFIND_FILE)
        if there:
            _href, prop = there[0]
            kinds = prop.find(tag(DAV, "resourcetype"))
            if kinds is not None and kinds.find(tag(DAV, "collection")) is not None:
                return REFUSED, FOLDER_THERE
            size = (prop.findtext(tag(DAV, "getcontentlength")) or "").strip()
            if size == str(item.size) and self._same_content(url, item):
                return SKIPPED, ""
            return REFUSED, DIFFERENT_FILE
        # Written under a temporary name, then moved into place: a worker killed in the
        # middle of a big file leaves no cut file at its path, and the next run writes
        # the temporary file again from the start.
        temporary = url.rsplit("/", 1)[0] + "/" + quote(f".{segments[-1]}{PARTIAL}", safe="")
        headers = {"Content-Type": "application/octet-stream"}
        if item.mtime is not None:
            headers["X-OC-Mtime"] = str(int(item.mtime.timestamp()))
        body = _Body(item)
        try:
            response = self._ask("PUT", temporary, data=body, headers=headers)
        finally:
            body.close()
        if response.status_code not in (200, 201, 204):
            return REFUSED, self._refused_because(response)
        moved = self._ask("MOVE", temporary, headers={"Destination": url, "Overwrite": "F"})
        if moved.status_code in (200, 201, 204):
            return IMPORTED, ""
        self.session.remove(temporary)
        if moved.status_code == 412:  # a file came to that path meanwhile: left as it is
            return REFUSED, DIFFERENT_FILE
        return REFUSED, self._refused_because(moved)

    def _same_content(self, url: str, item: ImportItem) -> bool:
        """The file on the server has the item's SHA-256 (read from both, a chunk at a time)."""
        wanted = item.sha256
        if wanted is None:
            digest = hashlib.sha256()
            body = _Body(item)
            try:
                while chunk := body.read(1024 * 1024):
                    digest.update(chunk)
            finally:
                body.close()
            wanted = digest.hexdigest()
        response = self.session.request("GET", url, ok=(200,), stream=True)
        digest = hashlib.sha256()
        for chunk in body_chunks(response, last_segment(url)):
            digest.update(chunk)
        return digest.hexdigest() == wanted.lower()


def _fit(segment: str) -> bool:
    """One path segment the panel writes: no separator, no '.'/'..', no control character."""
    return (
        segment not in ("", ".", "..")
        and "\\" not in segment
        and all(c.isprintable() for c in segment)
        and len(segment.encode("utf-8")) <= 255
    )
