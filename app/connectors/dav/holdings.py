"""What a DAV server holds that is the person's: the one inventory behind every action.

/account/data, the export, the deletion plan and the deletion itself all read it
(principle 7). A calendar or address book is hers when it lies in her own
calendar-home-set or addressbook-home-set and its `DAV:owner` (or Nextcloud's
owner-principal) is her principal, or is not given. One that another person shared with
her (CalDAV sharing puts it in her home with its owner's principal as `DAV:owner` and the
CalendarServer `shared` resource type; Nextcloud names it `…_shared_by_bob`) is listed as
shared: never exported as hers, never deleted. Files are hers when they lie under her own
root and no owner property names someone else (Nextcloud's "shared with you").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

from app.connectors.dav.protocol import (
    CALDAV,
    CALENDARSERVER,
    CARDDAV,
    DAV,
    PROPFIND_HOMES,
    DavSession,
    Resource,
    inside,
    last_segment,
    same_path,
    tag,
)


@dataclass(frozen=True)
class Collection:
    """One of the person's own calendars or address books."""

    url: str
    kind: str  # "calendar" or "addressbook"
    name: str
    count: int | None = None  # objects in it, when asked for (the deletion plan)
    size: int | None = None  # their bytes, when the server gives every size


@dataclass(frozen=True)
class Shared:
    """A collection or file in the person's space that is someone else's."""

    url: str
    kind: str  # "calendar", "addressbook" or "files"
    name: str
    owner: str  # the owner's login as the server names it ("bob")


@dataclass(frozen=True)
class Home:
    url: str
    is_principal: bool  # Radicale and Xandikos keep collections in the principal itself


@dataclass
class Holdings:
    """The person's own collections and homes on one server, and what is shared with her."""

    principal: str | None = None
    homes: list[Home] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    shared: list[Shared] = field(default_factory=list)


def owner_login(owner: str) -> str:
    """'bob' from '/principals/bob/', 'principals/users/bob' or 'bob'."""
    return last_segment(owner) or owner


def is_own(resource: Resource, principal: str | None, login: str) -> bool:
    """Hers unless the server says it is someone else's (owner or CalDAV `shared` type)."""
    if tag(CALENDARSERVER, "shared") in resource.kinds:
        return False
    if resource.owner is None:
        return True
    if principal is not None and resource.owner.startswith(("/", "http://", "https://")):
        return same_path(resource.owner, principal)
    # A relative principal (Nextcloud's "principals/users/alice") or a login (owner-id).
    return owner_login(resource.owner) == login


def collections(
    session: DavSession,
    principal: str,
    login: str,
    *,
    caldav: bool,
    carddav: bool,
    counts: bool = False,
) -> Holdings:
    """Her homes and what they hold; with `counts`, each collection's objects and bytes."""
    held = Holdings(principal=principal)
    wanted = (
        (CALDAV, "calendar-home-set", caldav),
        (CARDDAV, "addressbook-home-set", carddav),
    )
    for _href, prop in session.propfind(principal, "0", PROPFIND_HOMES):
        for namespace, name, enabled in wanted:
            home_set = prop.find(f"{tag(namespace, name)}/{tag(DAV, 'href')}")
            if not (enabled and home_set is not None and home_set.text):
                continue
            url = urljoin(principal, home_set.text.strip())
            if not any(same_path(url, h.url) for h in held.homes):
                held.homes.append(Home(url, is_principal=same_path(url, principal)))
    for home in held.homes:
        for resource in session.listing(home.url):
            if not inside(resource.url, home.url):
                continue  # a server's answer naming something elsewhere is not in her home
            if caldav and tag(CALDAV, "calendar") in resource.kinds:
                kind = "calendar"
            elif carddav and tag(CARDDAV, "addressbook") in resource.kinds:
                kind = "addressbook"
            else:
                continue
            name = resource.name or last_segment(resource.url)
            if not is_own(resource, principal, login):
                owner = owner_login(resource.owner) if resource.owner else "?"
                held.shared.append(Shared(resource.url, kind, name, owner))
                continue
            count, size = _measure(session, resource.url) if counts else (None, None)
            held.collections.append(Collection(resource.url, kind, name, count, size))
    held.collections.sort(key=lambda c: (c.kind != "calendar", c.name, c.url))
    held.shared.sort(key=lambda s: (s.kind, s.name, s.url))
    return held


def _measure(session: DavSession, url: str) -> tuple[int, int | None]:
    """Objects in a collection and their bytes (None when a size is missing)."""
    members = [m for m in session.listing(url) if not m.is_collection]
    sizes = [m.size for m in members]
    total = sum(s for s in sizes if s is not None) if all(s is not None for s in sizes) else None
    return len(members), total


@dataclass
class FileTree:
    """What a walk of the person's files root found, in order (folders before contents)."""

    files: int = 0
    folders: int = 0
    size: int | None = 0
    shared: list[Shared] = field(default_factory=list)


def walk(
    session: DavSession, url: str, login: str, tree: FileTree
) -> Iterator[tuple[Resource, bool]]:
    """(resource, is_empty_folder) of every own file and folder under `url`, depth first.

    Members someone else owns are added to `tree.shared` and not entered.
    """
    for resource in sorted(session.listing(url), key=lambda r: r.url):
        if not inside(resource.url, url):
            continue
        if not is_own(resource, None, login):
            owner = owner_login(resource.owner) if resource.owner else "?"
            tree.shared.append(Shared(resource.url, "files", last_segment(resource.url), owner))
            continue
        if resource.is_collection:
            tree.folders += 1
            before = tree.files + tree.folders + len(tree.shared)
            inner = list(walk(session, resource.url, login, tree))
            yield resource, tree.files + tree.folders + len(tree.shared) == before
            yield from inner
            continue
        tree.files += 1
        if tree.size is not None:
            tree.size = tree.size + resource.size if resource.size is not None else None
        yield resource, False
