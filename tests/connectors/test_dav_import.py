"""Moving house into the `dav` connector (issue 23) on real servers.

Radicale and Xandikos (calendars and address books), sabre/dav with Basic and Digest (a
calendar shared with her of the same name is never written into), wsgidav and Apache httpd
mod_dav (files). Each time: the first import writes, the second writes nothing, one bad
object is refused by name and the others go in.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
import requests
import vobject
from conftest import missing_tool
from connectors.conftest import build, collect, person

import connector_servers as servers
from app.connectors import dav
from app.connectors.dav import DavConnector
from app.connectors.dav.importing import BAD_PATH, DIFFERENT_FILE, object_name, slug
from app.connectors.importing import (
    CountingProgress,
    Importer,
    ImportItem,
    ImportPart,
    Malformed,
    PartKind,
)
from app.connectors.web import HttpUnreachable
from app.moving.readers.dav import INVALID_CALENDAR, read_calendar, read_contacts

CALENDAR = "Travail & réunions"
BOOK = "Carnet d'adresses — amis"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "dav.secret"
    path.write_text(servers.ADMIN_PASSWORD + "\n")
    return path


def connector(server: servers.Process, password_file: Path, **kw: Any) -> DavConnector:
    options = {"url": server.url + "/", "admin_user": servers.ADMIN_USER,
               "password_file": str(password_file), **kw}  # fmt: skip
    agenda: DavConnector = build(dav, "agenda", options)
    return agenda


def part(kind: PartKind, name: str, items: Iterable[ImportItem | Malformed]) -> ImportPart:
    listed = list(items)
    size = sum(i.size for i in listed if isinstance(i, ImportItem))
    return ImportPart(kind=kind, name=name, items=listed, count=len(listed), size=size)


def calendar_part(ics: bytes, name: str = CALENDAR) -> ImportPart:
    return part("calendar", name, read_calendar(io.BytesIO(ics), name))


def contacts_part(vcf: bytes, name: str = BOOK) -> ImportPart:
    return part("contacts", name, read_contacts(io.BytesIO(vcf), name))


def run(agenda: DavConnector, uid: str, imported: ImportPart) -> CountingProgress:
    progress = CountingProgress()
    agenda.import_(person(uid), imported, progress)
    return progress


def counts(progress: CountingProgress) -> tuple[int, int, int]:
    return tuple(progress.count(o) for o in ("imported", "skipped", "refused"))  # type: ignore[return-value]


def events(ics: bytes) -> dict[str, list[dict[str, str]]]:
    """Each UID's components with their properties (as text), alarms included."""
    found: dict[str, list[dict[str, str]]] = {}
    for component in icalendar.Calendar.from_ical(ics).walk():
        if component.name in ("VEVENT", "VTODO"):
            props = {k: str(v.to_ical() if hasattr(v, "to_ical") else v)
                     for k, v in component.property_items(recursive=False)}  # fmt: skip
            found.setdefault(str(component["UID"]), []).append(props)
    return found


def cards(vcf: bytes) -> dict[str, str]:
    return {c.uid.value: c.fn.value for c in vobject.readComponents(vcf.decode())}


def wipe(server: servers.Process, uid: str) -> None:
    """Remove every collection of `uid` on Radicale (as the person)."""
    auth = (uid, servers.PEOPLE[uid])
    requests.request("PROPFIND", f"{server.url}/{uid}/", auth=auth, timeout=10)
    for href in servers.dav_children(server, uid):
        requests.delete(server.url + href, auth=auth, timeout=10)


@pytest.fixture
def radicale_clean(radicale: servers.Process) -> Iterator[servers.Process]:
    """The session's Radicale, alice's and bob's collections removed afterwards (the other
    tests count alice's collections)."""
    yield radicale
    wipe(radicale, "alice")
    wipe(radicale, "bob")


def test_dav_imports_what_its_service_is_configured_for(
    radicale_clean: servers.Process, password_file: Path
) -> None:
    radicale = radicale_clean
    agenda = connector(radicale, password_file)
    assert isinstance(agenda, Importer)
    assert agenda.imports == {"calendar", "contacts"}
    assert connector(radicale, password_file, carddav=False).imports == {"calendar"}
    files_only = connector(radicale, password_file, caldav=False, carddav=False, files=True)
    assert files_only.imports == {"files"}
    # Without a service account nothing can be written for her in the worker.
    own_password = build(dav, "agenda", {"url": radicale.url + "/", "ask_password": True})
    assert own_password.imports == frozenset()


def test_names_of_objects_and_collections() -> None:
    assert object_name("weekly-1@example.org", ".ics") == "weekly-1@example.org.ics"
    assert (
        object_name("urn:uuid:5b8a", ".vcf")
        == hashlib.sha256(b"urn:uuid:5b8a").hexdigest() + ".vcf"
    )
    assert object_name("../x", ".ics").endswith(".ics") and "/" not in object_name("../x", ".ics")
    assert slug(CALENDAR, "calendar") == "travail-reunions"
    assert slug("日本", "calendar") == "calendar"


# Radicale: the round trip ----------------------------------------------------------------------


def test_radicale_export_import_round_trip_then_a_second_import_writes_nothing(
    radicale_clean: servers.Process, password_file: Path
) -> None:
    radicale = radicale_clean
    servers.seed_radicale(radicale, "alice")
    wipe(radicale, "bob")
    agenda = connector(radicale, password_file)
    exported, _skipped = collect(agenda.export(person("alice")))
    ics = exported[f"services/agenda/calendars/{CALENDAR}.ics"]
    vcf = exported["services/agenda/contacts/Contacts.vcf"]

    first = run(agenda, "bob", calendar_part(ics))
    assert counts(first) == (2, 0, 0), first.outcomes
    first = run(agenda, "bob", contacts_part(vcf))
    assert counts(first) == (2, 0, 0), first.outcomes
    # Collections of bob's own, named as they were, with the same events and contacts.
    held = agenda.holdings(person("bob"))
    assert sorted((c.kind, c.name) for c in held.collections) == [
        ("addressbook", BOOK), ("calendar", CALENDAR)]  # fmt: skip
    again, _ = collect(agenda.export(person("bob")))
    assert events(again[f"services/agenda/calendars/{CALENDAR}.ics"]) == events(ics)
    assert cards(again[f"services/agenda/contacts/{BOOK}.vcf"]) == cards(vcf) == {
        "zoe-1": "Zoé Lefèvre", "sam-1": "Sam Martin"}  # fmt: skip

    before = {c.url: servers.dav_items(radicale, "bob", "/" + c.url.split("/", 3)[3])
              for c in held.collections}  # fmt: skip
    second = run(agenda, "bob", calendar_part(ics))
    assert counts(second) == (0, 2, 0)
    second = run(agenda, "bob", contacts_part(vcf))
    assert counts(second) == (0, 2, 0)
    after = {c.url: servers.dav_items(radicale, "bob", "/" + c.url.split("/", 3)[3])
             for c in agenda.holdings(person("bob")).collections}  # fmt: skip
    assert after == before


def test_radicale_imports_into_her_calendar_of_that_name_and_skips_what_is_there(
    radicale_clean: servers.Process, password_file: Path
) -> None:
    radicale = radicale_clean
    servers.seed_radicale(radicale, "alice")
    agenda = connector(radicale, password_file)
    exported, _ = collect(agenda.export(person("alice")))
    ics = exported[f"services/agenda/calendars/{CALENDAR}.ics"]
    new = servers.event("new-1", "Nouvel événement", "20240301T090000").encode()
    progress = run(agenda, "alice", calendar_part(ics + new))
    assert counts(progress) == (1, 2, 0), progress.outcomes
    held = agenda.holdings(person("alice"))
    assert [c.url for c in held.collections if c.kind == "calendar"] == [
        f"{radicale.url}/alice/work/"]  # fmt: skip
    assert "/alice/work/new-1.ics" in servers.dav_items(radicale, "alice", "/alice/work/")


def test_radicale_a_bad_event_is_refused_by_name_and_the_others_go_in(
    radicale_clean: servers.Process, password_file: Path
) -> None:
    radicale = radicale_clean
    wipe(radicale, "bob")
    good = servers.event("good-1", "Bon", "20240301T090000")
    broken = servers.event("broken-1", "Cassé", "20240301T090000").replace(
        "DTSTART;TZID=Europe/Paris:20240301T090000", "DTSTART:pas-une-date"
    )
    later = servers.event("later-1", "Après", "20240302T090000")
    imported = calendar_part((good + broken + later).encode())
    # An object the reader accepts but the server refuses: named with the server's answer.
    refused = ImportItem(name=f"{CALENDAR}/odd", key="odd", size=9, data=b"not ical\r\n")
    imported.items = [*imported.items, refused]
    agenda = connector(radicale, password_file)
    progress = run(agenda, "bob", imported)
    assert [(o.item, o.outcome) for o in progress.outcomes] == [
        (f"{CALENDAR}/good-1", "imported"),
        (f"{CALENDAR}/broken-1", "refused"),
        (f"{CALENDAR}/later-1", "imported"),
        (f"{CALENDAR}/odd", "refused"),
    ]
    assert progress.outcomes[1].reason == INVALID_CALENDAR
    assert progress.outcomes[3].reason.startswith("the server refused it: HTTP 4")


def test_radicale_a_vcard_without_uid_gets_one_and_is_found_again(
    radicale_clean: servers.Process, password_file: Path
) -> None:
    radicale = radicale_clean
    wipe(radicale, "bob")
    vcf = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anonyme\r\nN:Anonyme;;;;\r\nEND:VCARD\r\n"
    agenda = connector(radicale, password_file)
    assert counts(run(agenda, "bob", contacts_part(vcf))) == (1, 0, 0)
    assert counts(run(agenda, "bob", contacts_part(vcf))) == (0, 1, 0)
    exported, _ = collect(agenda.export(person("bob")))
    (uid,) = cards(exported[f"services/agenda/contacts/{BOOK}.vcf"])
    assert uid == "sha256:" + hashlib.sha256(vcf).hexdigest()


def test_radicale_has_no_quota(radicale_clean: servers.Process, password_file: Path) -> None:
    radicale = radicale_clean
    servers.seed_radicale(radicale, "alice")
    assert connector(radicale, password_file).available_bytes(person("alice")) is None


# Xandikos: an independent implementation -------------------------------------------------------


def test_xandikos_import_creates_named_collections_and_imports_once(
    xandikos: servers.Process, password_file: Path
) -> None:
    ics = "".join(
        servers.event(f"x-{i}", f"Événement {i}", "20240108T100000", "FREQ=DAILY;COUNT=3")
        for i in range(3)
    ).encode()
    vcf = (servers.vcard("c-1", "Zoé Lefèvre", "zoe@example.org")
           + servers.vcard("c-2", "Chloé", "chloe@example.org")).encode()  # fmt: skip
    agenda = connector(xandikos, password_file)
    assert counts(run(agenda, "alice", calendar_part(ics, "Agenda été"))) == (3, 0, 0)
    assert counts(run(agenda, "alice", contacts_part(vcf))) == (2, 0, 0)
    names = {(c.kind, c.name) for c in agenda.holdings(person("alice")).collections}
    assert {("calendar", "Agenda été"), ("addressbook", BOOK)} <= names
    exported, _ = collect(agenda.export(person("alice")))
    assert set(events(exported["services/agenda/calendars/Agenda été.ics"])) == {
        "x-0", "x-1", "x-2"}  # fmt: skip
    assert cards(exported[f"services/agenda/contacts/{BOOK}.vcf"]) == {
        "c-1": "Zoé Lefèvre", "c-2": "Chloé"}  # fmt: skip
    assert counts(run(agenda, "alice", calendar_part(ics, "Agenda été"))) == (0, 3, 0)
    assert counts(run(agenda, "alice", contacts_part(vcf))) == (0, 2, 0)
    again, _ = collect(agenda.export(person("alice")))
    assert again == exported


def test_xandikos_a_malformed_event_is_refused_and_the_others_go_in(
    xandikos: servers.Process, password_file: Path
) -> None:
    good = servers.event("ok-1", "Bon", "20240301T090000")
    cut = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:cut-1\r\nSUMMARY:jamais fini\r\n"
    progress = run(connector(xandikos, password_file), "alice",
                   calendar_part((good + cut).encode(), "Perso"))  # fmt: skip
    assert [(o.item, o.outcome) for o in progress.outcomes] == [
        ("Perso/ok-1", "imported"), ("Perso/cut-1", "refused")]  # fmt: skip


# sabre/dav: a calendar shared with her, of the same name, is never written into -------------


def test_sabredav_a_shared_calendar_of_the_same_name_is_never_written_into(
    sabredav: servers.Process, password_file: Path
) -> None:
    servers.seed_dav(sabredav, "alice", "/calendars/alice/perso/", "/addressbooks/alice/carnet/")
    servers.seed_dav(sabredav, "bob", "/calendars/bob/work/", "/addressbooks/bob/team/")
    servers.share_sabredav_calendar(sabredav, "bob", "work", "alice")
    bobs = servers.dav_items(sabredav, "bob", "/calendars/bob/work/")
    agenda = connector(sabredav, password_file)
    assert [s.name for s in agenda.holdings(person("alice")).shared] == ["Agenda de bob"]
    ics = servers.event("moved-1", "Déménagement", "20240301T090000").encode()
    progress = run(agenda, "alice", calendar_part(ics, "Agenda de bob"))
    assert counts(progress) == (1, 0, 0), progress.outcomes
    assert servers.dav_items(sabredav, "bob", "/calendars/bob/work/") == bobs
    own = [c for c in agenda.holdings(person("alice")).collections if c.name == "Agenda de bob"]
    assert [c.url for c in own] == [f"{sabredav.url}/calendars/alice/agenda-de-bob/"]
    # Her own calendar of that name is found the second time: nothing written.
    assert counts(run(agenda, "alice", calendar_part(ics, "Agenda de bob"))) == (0, 1, 0)
    # And into her existing "Agenda de alice", the objects already there are skipped.
    exported, _ = collect(agenda.export(person("alice")))
    mine = exported["services/agenda/calendars/Agenda de alice.ics"]
    assert counts(run(agenda, "alice", calendar_part(mine, "Agenda de alice"))) == (0, 2, 0)
    vcf = exported["services/agenda/contacts/Contacts de alice.vcf"]
    assert counts(run(agenda, "alice", contacts_part(vcf, "Contacts de alice"))) == (0, 2, 0)


# Files: wsgidav and Apache httpd mod_dav ---------------------------------------------------------

STAMP = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def files_connector(server: servers.Process, password_file: Path) -> DavConnector:
    return connector(server, password_file, caldav=False, carddav=False, files=True,
                     files_path="files/{login}/")  # fmt: skip


def file_item(path: str, content: bytes) -> ImportItem:
    return ImportItem(name=path, key=path, size=len(content), open=lambda: io.BytesIO(content),
                      mtime=STAMP, sha256=hashlib.sha256(content).hexdigest())  # fmt: skip


def files_part(content: dict[str, bytes], folders: tuple[str, ...] = ()) -> ImportPart:
    items = [file_item(p, c) for p, c in content.items()]
    items += [ImportItem(name=f, key=f, size=0) for f in folders]
    return part("files", "", items)


TREE = {
    "notes.txt": b"hello\n",
    ".config/app.ini": b"[x]\n",
    "Photos/été 2024/plage #1.jpg": os.urandom(2 * 1024 * 1024 + 3),
    "Photos/été 2024/plage #2.jpg": os.urandom(70_000),
}


def on_disk(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(params=["wsgidav", "apache-basic", "apache-digest"])
def files_server(request: pytest.FixtureRequest) -> Iterator[servers.Process]:
    """A fresh wsgidav, then Apache httpd mod_dav with Basic and with Digest."""
    if request.param == "wsgidav":
        if not servers.wsgidav_available():
            missing_tool("wsgidav is not installed: pip install -e '.[test]'")
        server = servers.start_wsgidav()
    else:
        if not servers.apache_available():
            missing_tool("Apache httpd is not installed: apt-get install apache2")
        server = servers.start_apache(request.param.split("-")[1])
    yield server
    server.cleanup()


def test_files_are_written_with_their_folders_once(
    files_server: servers.Process, password_file: Path
) -> None:
    login = "mover"
    cloud = files_connector(files_server, password_file)
    progress = run(cloud, login, files_part(TREE, folders=("Vide/",)))
    assert counts(progress) == (5, 0, 0), progress.outcomes
    root = files_server.home / "files" / login
    assert on_disk(root) == TREE
    assert (root / "Vide").is_dir()
    second = run(cloud, login, files_part(TREE, folders=("Vide/",)))
    assert counts(second) == (0, 5, 0), second.outcomes
    assert on_disk(root) == TREE


def test_a_different_file_is_never_overwritten_and_bad_paths_are_refused(
    files_server: servers.Process, password_file: Path
) -> None:
    login = "other"
    cloud = files_connector(files_server, password_file)
    assert counts(run(cloud, login, files_part({"a/b.txt": b"old"}))) == (1, 0, 0)
    progress = run(cloud, login, files_part({"a/b.txt": b"new", "../escape.txt": b"x",
                                             "a/./c.txt": b"x", "ok.txt": b"ok"}))  # fmt: skip
    assert [(o.item, o.outcome, o.reason) for o in progress.outcomes] == [
        ("a/b.txt", "refused", DIFFERENT_FILE),
        ("../escape.txt", "refused", BAD_PATH),
        ("a/./c.txt", "refused", BAD_PATH),
        ("ok.txt", "imported", ""),
    ]
    assert on_disk(files_server.home / "files" / login) == {"a/b.txt": b"old", "ok.txt": b"ok"}
    assert not (files_server.home / "files" / "escape.txt").exists()


def test_the_room_left_is_what_the_server_says(
    files_server: servers.Process, password_file: Path
) -> None:
    cloud = files_connector(files_server, password_file)
    run(cloud, "alice", files_part({"x.txt": b"x"}))
    room = cloud.available_bytes(person("alice"))
    if "AUTH" in files_server.env:  # Apache's mod_dav_fs gives no quota-available-bytes
        assert room is None
    else:  # wsgidav gives the room left on its disk
        assert isinstance(room, int) and room > 0


class Killed(Exception):
    """The worker dies in the middle of sending a file."""


def test_a_worker_killed_in_the_middle_of_a_file_leaves_no_cut_file_and_resumes(
    files_server: servers.Process, password_file: Path
) -> None:
    big = os.urandom(3 * 1024 * 1024)

    class Dying(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 1024 * 1024:
                raise Killed
            return super().read(size)

    cloud = files_connector(files_server, password_file)
    dying = ImportItem(name="big.bin", key="big.bin", size=len(big), open=lambda: Dying(big))
    with pytest.raises(Exception) as caught:
        run(cloud, "resumed", part("files", "", [file_item("first.txt", b"1"), dying]))
    assert isinstance(caught.value, Killed) or isinstance(caught.value.__context__, Killed)
    root = files_server.home / "files" / "resumed"
    assert "big.bin" not in on_disk(root)
    progress = run(cloud, "resumed", files_part({"first.txt": b"1", "big.bin": big}))
    assert counts(progress) == (1, 1, 0), progress.outcomes
    assert on_disk(root) == {"first.txt": b"1", "big.bin": big}


def test_a_server_gone_in_the_middle_stops_the_import_instead_of_refusing_everything(
    xandikos: servers.Process, password_file: Path
) -> None:
    ics = "".join(servers.event(f"s-{i}", "x", "20240301T090000") for i in range(3)).encode()

    class Stopping(CountingProgress):
        def done(self, item: ImportItem | Malformed, outcome: Any, reason: str = "") -> None:
            super().done(item, outcome, reason)
            xandikos.stop()

    progress = Stopping()
    with pytest.raises(HttpUnreachable):
        connector(xandikos, password_file).import_(person(), calendar_part(ics), progress)
    assert [(o.item, o.outcome) for o in progress.outcomes] == [(f"{CALENDAR}/s-0", "imported")]


def test_radicale_bobs_calendar_of_the_same_name_that_she_may_read_stays_his(
    radicale_clean: servers.Process, password_file: Path
) -> None:
    radicale = radicale_clean
    """The rights let alice read bob's collections: the import never goes there."""
    servers.seed_radicale(radicale, "bob")
    wipe(radicale, "alice")
    bobs = servers.dav_items(radicale, "bob", "/bob/work/")
    ics = servers.event("moved-1", "Déménagement", "20240301T090000").encode()
    agenda = connector(radicale, password_file)
    assert counts(run(agenda, "alice", calendar_part(ics))) == (1, 0, 0)
    assert servers.dav_items(radicale, "bob", "/bob/work/") == bobs
    assert [c.url for c in agenda.holdings(person("alice")).collections] == [
        f"{radicale.url}/alice/travail-reunions/"
    ]
