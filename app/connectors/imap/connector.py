"""The `imap` connector: a person's own mail (her personal namespace), exported as mboxrd,
planned and deleted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    ServiceUnreachable,
    Skipped,
    StepResult,
    safe_uid,
)
from app.connectors.imap import append as appending
from app.connectors.imap import namespaces as ns
from app.connectors.imap.client import Folder, ImapClient, ImapSettings
from app.connectors.imap.errors import CLIENT_MESSAGES
from app.connectors.imap.fetching import STREAM_BATCH_BYTES
from app.connectors.imap.mbox import WRITE_CHUNK, MboxrdBuffer
from app.connectors.imap.names import decode_mailbox_name, folder_path
from app.connectors.imap.table import MessageTable
from app.connectors.importing import ImportPart, ImportProgress, PartKind
from app.directory import Person
from app.profile.texts import LocalizedText
from app.units import byte_size

if TYPE_CHECKING:
    from flask import Flask

    from app.connectors.options import ConnectorOptions
    from app.profile.model import Service


# The connector ---------------------------------------------------------------------------------


class ImapConnector:
    """Mail as the person, through the server's master/proxy authentication."""

    plannable = False  # sizes are only known while messages arrive
    imports: frozenset[PartKind] = frozenset({"mail"})

    def __init__(
        self,
        slug: str,
        *,
        name: str | LocalizedText,  # hoster.toml's name, in the reader's language when shown
        settings: ImapSettings,
        login_template: str = "{uid}",
        check_login: str | None = None,
        compress: bool = False,
        location: str | LocalizedText | None = None,
        retention: str | LocalizedText | None = None,
        batch_bytes: int = STREAM_BATCH_BYTES,
    ) -> None:
        self.slug = slug
        self.name = name
        self.settings = settings
        self.login_template = login_template
        self.check_login = check_login
        self.compress = compress
        self.location = location
        self.retention = retention
        self.batch_bytes = batch_bytes

    def login_of(self, person: Person) -> str:
        uid = safe_uid(person.uid)
        if "{email}" in self.login_template and not person.email:
            raise ConnectorError(_(NO_EMAIL))
        return self.login_template.format(uid=uid, email=person.email or "")

    def _client(self, person: Person) -> ImapClient:
        return ImapClient.connect(self.settings, self.login_of(person))

    # flask doctor -------------------------------------------------------------------------

    def check(self) -> str:
        try:
            client = ImapClient.connect(self.settings, self.check_login)
        except ServiceUnreachable:
            raise
        except ConnectorError as exc:
            if self.check_login:
                raise
            # A Dovecot master user cannot sign in as itself: say how to test it.
            raise ConnectorError(
                f"{exc} (a Dovecot master user only signs in as someone: set check_login "
                "to a mailbox of the server)"
            ) from None
        with client:
            client.list_folders()
        who = (
            f"{self.check_login} via {self.settings.admin_user}"
            if self.check_login
            else (self.settings.admin_user)
        )
        return f"{self.settings.address}: signed in as {who}"

    # What is the person's --------------------------------------------------------------------

    def mailbox(self, client: ImapClient) -> Mailbox:
        """The person's own folders and, apart, what she sees that is not hers.

        The one inventory behind /account/data, the export, the deletion plan and the
        deletion (principle 7): asked again each time, so a step re-checks it when it runs.
        """
        spaces = client.namespaces()
        own: list[Folder] = []
        others: list[tuple[Folder, str]] = []
        for folder in client.list_folders():
            kind = spaces.kind_of(folder.name, folder.delimiter)
            if kind == ns.PERSONAL:
                own.append(folder)
            else:
                others.append((folder, kind or ""))
        return Mailbox(tuple(own), tuple(others), spaces)

    # Inventory ------------------------------------------------------------------------------

    def inventory(self, person: Person) -> list[DataItem]:
        location = str(self.location or _("the mail server of %(service)s", service=self.name))
        retention = str(self.retention or _("Until you delete it or your account"))
        items: list[DataItem] = []
        with self._client(person) as client:
            mailbox = self.mailbox(client)
            for folder in mailbox.own:
                if not folder.selectable:
                    continue
                count, size = client.folder_size(folder.name)
                items.append(
                    DataItem(
                        service=self.slug,
                        kind=_(
                            "Mail folder “%(folder)s”: %(count)s messages, %(size)s",
                            folder=folder.display_name,
                            count=count,
                            size=byte_size(size),
                        ),
                        location=location,
                        retention=retention,
                        exported=True,
                    )
                )
        shared = len(mailbox.shared_folders())
        if shared:
            items.append(
                DataItem(
                    service=self.slug,
                    kind=ngettext(
                        "%(num)s folder shared with you by others stays theirs: "
                        "not exported, never deleted",
                        "%(num)s folders shared with you by others stay theirs: "
                        "not exported, never deleted",
                        shared,
                    ),
                    location=location,
                    retention=_("As their owners decide"),
                    exported=False,
                )
            )
        return items

    # Deletion plan --------------------------------------------------------------------------

    def plan(self, person: Person) -> DeletionPlan:
        """What delete() would remove and keep, read from the server without changing it."""
        login = self.login_of(person)
        with ImapClient.connect(self.settings, login) as client:
            mailbox = self.mailbox(client)
            delete: list[PlannedItem] = []
            for folder in mailbox.own:
                if not folder.selectable:
                    continue
                count, size = client.folder_size(folder.name)
                delete.append(PlannedItem(folder.display_name, count, size))
            kind = client.server_kind()
        keep = [
            KeptItem(folder.display_name, *self._why_kept(mailbox, folder, space))
            for folder, space in mailbox.others
            if folder.selectable
        ]
        notes = [{ns.CYRUS: ns.NOTE_CYRUS, ns.DOVECOT: ns.NOTE_DOVECOT}.get(kind, ns.NOTE_OTHER)]
        if not mailbox.namespaces.announced:
            notes.append(ns.NOTE_NO_NAMESPACE)
        return DeletionPlan(
            service=self.slug, delete=tuple(delete), keep=tuple(keep), notes=tuple(notes)
        )

    @staticmethod
    def _why_kept(
        mailbox: Mailbox, folder: Folder, space: str
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        if space == ns.OTHER_USERS:
            owner = mailbox.namespaces.owner_of(folder.name, folder.delimiter) or "?"
            return ns.SHARED_WITH_YOU_BY, (("owner", decode_mailbox_name(owner)),)
        if space == ns.SHARED:
            root = decode_mailbox_name(folder.name.split(folder.delimiter or "\0", 1)[0])
            return ns.SHARED_FOLDER, (("namespace", root),)
        return ns.OUTSIDE_NAMESPACES, ()

    # Export ---------------------------------------------------------------------------------

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        client = self._client(person)
        broken: list[ConnectorError] = []
        try:
            used: set[str] = set()
            for folder in self.mailbox(client).own:
                if broken:
                    raise broken[0]
                if not folder.selectable:
                    continue
                path = folder_path(folder.display_name, folder.delimiter)
                while path.casefold() in used:
                    path += "_"
                used.add(path.casefold())
                messages = client.message_table(folder.name)
                newest = messages.newest()
                yield ArchiveEntry(
                    path=f"services/{self.slug}/{path}.mbox",
                    chunks=self._mbox_chunks(client, folder.name, messages, broken),
                    size=None,
                    mtime=newest,
                    format="mbox (mboxrd)",
                    compress=self.compress,
                    description=_("Mail folder “%(folder)s”", folder=folder.display_name),
                )
            if broken:
                raise broken[0]
        finally:
            client.close()

    def _mbox_chunks(
        self,
        client: ImapClient,
        folder: str,
        messages: MessageTable,
        broken: list[ConnectorError],
    ) -> Iterator[bytes]:
        """The folder as mboxrd; each message's bytes go from the socket straight into the
        mbox buffer, whatever their size. The archive reads this on its reader thread
        (app/export/reading.py), ahead of the request's thread that sends, so the server
        keeps sending meanwhile."""
        seen = 0

        def produce() -> Iterator[bytes]:
            nonlocal seen
            out = MboxrdBuffer(WRITE_CHUNK)
            stream = client.stream_messages(folder, messages, batch_bytes=self.batch_bytes)
            for message in stream:
                seen += 1
                # The sequence number, for a server that sends the UID after the bytes.
                uid = message.uid if message.uid is not None else messages.uid_at(message.sequence)
                out.begin(messages.received(uid), messages.flags(uid))
                left = message.size
                while left:
                    left -= out.fill(message.read_into, left)
                    if out.full and (chunk := out.take()):
                        yield chunk
                out.end()
                if out.full:
                    yield out.take()
            if chunk := out.take():
                yield chunk

        try:
            yield from produce()
        except ConnectorError as exc:
            # The session is unusable after a broken read: later folders fail too, and the
            # archive says so once for the service.
            if isinstance(exc, ServiceUnreachable):
                broken.append(exc)
            raise
        missing = len(messages) - seen
        if missing > 0:
            raise ConnectorError(
                _(
                    "%(num)s messages of this folder disappeared during the export",
                    num=missing,
                )
            )

    # Import (moving house) ------------------------------------------------------------------

    def available_bytes(self, person: Person) -> int | None:
        """Room left under her quota (GETQUOTAROOT INBOX), None without a quota."""
        with self._client(person) as client:
            return appending.available_bytes(client)

    def import_(self, person: Person, part: ImportPart, progress: ImportProgress) -> None:
        """One archive folder into her own folder of that name (append.py), as her."""
        with self._client(person) as client:
            appending.import_folder(client, part, progress)

    # Delete ---------------------------------------------------------------------------------

    def kept(
        self, login: str, kind: str, shared: int, delimiter: str | None = "/"
    ) -> tuple[str, ...]:
        """What stays after the deletion, for the receipt and the staff page, per server."""
        # Cyrus names the person's mailbox user/<login> (user.<login> with "." as separator).
        cyrus_mailbox = f"user{delimiter or '/'}{login}"
        notes = {
            ns.CYRUS: (ns.KEPT_CYRUS % {"mailbox": cyrus_mailbox},),
            ns.DOVECOT: (
                KEPT_MAILBOX % {"login": login},
                ns.KEPT_DOVECOT_LAZY % {"login": login},
            ),
        }.get(kind, (ns.KEPT_OTHER_SERVER,))
        if shared:
            notes += (ns.KEPT_SHARED_BY_OTHERS % {"count": shared},)
        return notes

    def delete(self, person: Person) -> StepResult:
        try:
            login = self.login_of(person)
            with ImapClient.connect(self.settings, login) as client:
                kind = client.server_kind()
                # Ownership is asked again now: only what is hers at this moment goes.
                mailbox = self.mailbox(client)
                expunged, removed = self._empty(client, mailbox)
                after = self.mailbox(client)
                left = [f for f in after.own if not f.is_inbox and f.selectable]
                inbox_left = client.select("INBOX", readonly=True)
        except ConnectorError as exc:
            return StepResult(ok=False, detail=exc.staff_detail())
        if left or inbox_left:
            names = ", ".join(f"“{f.display_name}”" for f in left[:10])
            return StepResult(
                ok=False,
                detail=STILL_THERE
                % {"folders": len(left), "messages": inbox_left, "names": names or "-"},
            )
        return StepResult(
            ok=True,
            detail=EXPUNGED
            % {"messages": expunged, "folders": removed, "address": self.settings.address},
            kept=self.kept(login, kind, len(after.shared_folders()), after.delimiter),
        )

    @staticmethod
    def _empty(client: ImapClient, mailbox: Mailbox) -> tuple[int, int]:
        """Expunge and remove the person's own folders; nothing else is ever selected
        read-write, whatever rights she has on it."""
        expunged = removed = 0
        for folder in mailbox.own:
            if not folder.selectable:
                continue
            count = client.select(folder.name, readonly=False)
            if count:
                client.delete_messages()
                expunged += count
        # Children before their parents, so every DELETE finds no sub-folder left.
        others = [f for f in mailbox.own if not f.is_inbox]
        for folder in sorted(others, key=lambda f: f.name.count(f.delimiter or "\0"), reverse=True):
            if client.delete_folder(folder.name):
                removed += 1
        if client.selected is not None:
            client.selected = None
        return expunged, removed


@dataclass(frozen=True)
class Mailbox:
    """A person's folders as the server lists them, split by namespace."""

    own: tuple[Folder, ...]
    others: tuple[tuple[Folder, str], ...]  # (folder, namespace kind) that are not hers
    namespaces: ns.Namespaces

    @property
    def delimiter(self) -> str | None:
        """The hierarchy delimiter of the person's own folders."""
        return next((f.delimiter for f in self.own if f.delimiter), None)

    def shared_folders(self) -> list[Folder]:
        return [folder for folder, _kind in self.others if folder.selectable]


# Deletion outcomes, recorded in English and shown in the reader's language (see N_).
KEPT_MAILBOX = N_(
    "The empty INBOX and the mailbox's directory, index and quota entries stay on "
    "the mail server until the account is removed there; for Dovecot: "
    "`doveadm purge -u %(login)s`, then remove the user from the user database "
    "and delete the directory shown by `doveadm user -f home %(login)s`."
)
STILL_THERE = N_(
    "the mail server still shows %(folders)s folders (%(names)s) and %(messages)s "
    "messages in INBOX after the deletion; try again"
)
EXPUNGED = N_("%(messages)s messages expunged, %(folders)s folders removed from %(address)s.")
NO_EMAIL = N_("no e-mail address is known for this account")
OUTCOMES = (
    KEPT_MAILBOX,
    STILL_THERE,
    EXPUNGED,
    NO_EMAIL,
    *CLIENT_MESSAGES,
    *ns.OUTCOMES,
    *appending.APPEND_MESSAGES,
)


def build(service: Service, options: ConnectorOptions, app: Flask) -> ImapConnector:
    """The connector of a `type = "imap"` service (options checked with hoster.toml's words)."""
    settings = ImapSettings.from_options(options)
    return ImapConnector(
        service.slug,
        name=service.name,
        settings=settings,
        login_template=options.template("login", ("uid", "email"), default="{uid}"),
        check_login=options.text("check_login"),
        compress=options.boolean("compress", default=False),
        location=service.data_location,
        retention=service.retention,
        batch_bytes=options.integer("batch_mib", default=STREAM_BATCH_BYTES // 2**20) * 2**20,
    )
