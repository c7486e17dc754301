"""The `matrix` connector: a Synapse account through Synapse's admin API and an admin token.

Export writes what the admin API gives about the person as JSON (profile, devices, joined
rooms with their names, account data, the addresses their devices connected from, push
targets, the list of their media) and the media files they uploaded, each streamed.
Delete removes their media, then deactivates the account with `erase: true` (Synapse then
hides their messages from people who join rooms later); a second run finds a deactivated
account and succeeds again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

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
    HttpFailure,
    WebConnector,
    WebService,
    bearer,
    body_chunks,
)
from app.directory import Person

PAGE = 100
ADMIN = "/_synapse/admin"

UNEXPECTED = N_("%(service)s answered something unexpected")
NOT_KNOWN = N_("%(user)s is not known: nothing to delete.")
DEACTIVATED = N_("%(user)s deactivated and erased; %(media)s media files deleted.")
STILL_ACTIVE = N_("%(user)s is still active after the deactivation")
KEPT_MESSAGES = N_(
    "Messages already delivered stay in the rooms' history of the other members (on this "
    "and other servers); Synapse marks them erased and hides them from people who join later."
)
KEPT_ID = N_("The Matrix ID %(user)s stays reserved so that nobody can take it over.")
# Messages a deletion step may record (see N_).
OUTCOMES = (UNEXPECTED, NOT_KNOWN, DEACTIVATED, STILL_ACTIVE, KEPT_MESSAGES, KEPT_ID)


def _json_entry(path: str, document: Any, description: str) -> ArchiveEntry:
    data = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"
    return ArchiveEntry(
        path=path, chunks=[data], size=len(data), format="JSON", description=description
    )


def _media_name(media: dict[str, Any]) -> str:
    """`<media id>-<name as uploaded>`: unique, and still recognisable."""
    media_id = str(media.get("media_id") or "media")
    upload = str(media.get("upload_name") or "")
    cleaned = "".join(c if c.isprintable() and c not in '/\\:*?"<>|' else "_" for c in upload)
    cleaned = cleaned.strip(" .")[:100]
    return f"{media_id}-{cleaned}" if cleaned else media_id


def build(service: Any, options: ConnectorOptions, app: Flask | None = None) -> MatrixConnector:
    """The connector of a `type = "matrix"` table (see docs/connectors.md)."""
    web = WebService.from_options(service, options)
    user_id = options.required_text("user_id", '"@{uid}:example.org"')
    if not user_id.startswith("@") or ":" not in user_id or "{uid}" not in user_id:
        raise options.error("user_id", ' must look like "@{uid}:example.org".')
    return MatrixConnector(web, user_id=user_id, token=options.required_secret("token"))


class MatrixConnector(WebConnector):
    """One Synapse homeserver; `user_id` maps a login to a Matrix ID (@{uid}:example.org)."""

    def __init__(self, service: WebService, *, user_id: str, token: Secret) -> None:
        super().__init__(service)
        self.user_id_template = user_id
        self.token = token

    # Requests ------------------------------------------------------------------------------

    def user_id(self, person: Person) -> str:
        return self.user_id_template.replace("{uid}", safe_uid(person.uid).lower())

    def _headers(self) -> dict[str, str]:
        return bearer(self.token)

    def _get(self, path: str, **params: Any) -> Any:
        return self.client.json(
            "GET", self.client.url(path), headers=self._headers(), params=params or None
        )

    def _user_path(self, version: str, person: Person, tail: str = "") -> str:
        return f"{ADMIN}/{version}/users/{quote(self.user_id(person), safe='')}{tail}"

    def _account(self, person: Person) -> dict[str, Any] | None:
        """The admin API's view of the account, or None when the server does not know it."""
        try:
            account = self._get(self._user_path("v2", person))
        except HttpFailure as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(account, dict):
            raise ConnectorError(_(UNEXPECTED, service=self.name))
        return account

    def _media(self, person: Person) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        start: Any = 0
        while True:
            page = self._get(
                self._user_path("v1", person, "/media"), **{"from": start, "limit": PAGE}
            )
            found.extend(m for m in page.get("media") or () if isinstance(m, dict))
            start = page.get("next_token")
            if start is None or len(found) >= int(page.get("total") or 0):
                return found

    def _rooms(self, person: Person) -> list[str]:
        rooms = self._get(self._user_path("v1", person, "/joined_rooms")).get("joined_rooms")
        return [str(r) for r in rooms or ()]

    def check(self) -> str:
        """Raise ConnectorError unless the token is an admin's (doctor)."""
        version = self._get(f"{ADMIN}/v1/server_version")
        self._get(f"{ADMIN}/v2/users", limit=1)
        return f"Synapse {version.get('server_version', '?')}: the admin token is accepted"

    # Inventory ----------------------------------------------------------------------------

    def inventory(self, person: Person) -> list[DataItem]:
        if self._account(person) is None:
            return []
        rooms = len(self._rooms(person))
        media = len(self._media(person))
        location = self.data_location()
        retention = self.data_retention(_("Until you delete it or your account"))
        return [
            DataItem(
                self.slug,
                _("Your Matrix account: profile, devices and settings"),
                location,
                retention,
                True,
            ),
            DataItem(
                self.slug,
                ngettext("%(num)d room you joined", "%(num)d rooms you joined", rooms),
                location,
                retention,
                True,
            ),
            DataItem(
                self.slug,
                ngettext("%(num)d file you sent", "%(num)d files you sent", media),
                location,
                retention,
                True,
            ),
        ]

    # Export -------------------------------------------------------------------------------

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        account = self._account(person)
        if account is None:
            return
        folder = f"services/{self.slug}"
        yield _json_entry(f"{folder}/profile.json", account, _("Your Matrix profile"))
        devices = self._get(self._user_path("v2", person, "/devices"))
        yield _json_entry(f"{folder}/devices.json", devices, _("The devices signed in"))
        rooms = []
        for room_id in self._rooms(person):
            try:
                details = self._get(f"{ADMIN}/v1/rooms/{quote(room_id, safe='')}")
            except HttpFailure:
                details = {}
            keep = ("name", "canonical_alias", "topic", "joined_members", "encryption")
            rooms.append({"room_id": room_id, **{k: details.get(k) for k in keep}})
        yield _json_entry(f"{folder}/rooms.json", rooms, _("The rooms you joined"))
        account_data = self._get(self._user_path("v1", person, "/accountdata"))
        yield _json_entry(
            f"{folder}/account_data.json", account_data, _("Your settings kept by the server")
        )
        sessions = self._get(f"{ADMIN}/v1/whois/{quote(self.user_id(person), safe='')}")
        yield _json_entry(
            f"{folder}/connections.json",
            sessions,
            _("The addresses and apps your devices connected from, as the server logs them"),
        )
        pushers = self._get(self._user_path("v1", person, "/pushers"))
        yield _json_entry(f"{folder}/pushers.json", pushers, _("Where notifications are pushed"))
        media = self._media(person)
        yield _json_entry(f"{folder}/media.json", media, _("The list of the files you sent"))
        server_name = self.user_id(person).split(":", 1)[1]
        for item in media:
            path = f"{folder}/media/{_media_name(item)}"
            if item.get("quarantined_by"):
                yield Skipped(path, _("put in quarantine by the moderators"))
                continue
            length = item.get("media_length")
            yield ArchiveEntry(
                path=path,
                chunks=self._download(server_name, str(item.get("media_id")), path),
                size=length if isinstance(length, int) else None,
                format=format_name("data", path),
            )

    def _download(self, server_name: str, media_id: str, path: str) -> Iterator[bytes]:
        url = self.client.url(
            f"/_matrix/client/v1/media/download/{quote(server_name)}/{quote(media_id, safe='')}"
        )
        response = self.client.request("GET", url, headers=self._headers(), stream=True)
        yield from body_chunks(response, path.rsplit("/", 1)[-1])

    # Deletion -----------------------------------------------------------------------------

    def _delete(self, person: Person) -> StepResult:
        account = self._account(person)
        user_id = self.user_id(person)
        if account is None:
            return StepResult(ok=True, detail=NOT_KNOWN % {"user": user_id})
        removed = self.client.json(
            "DELETE",
            self.client.url(self._user_path("v1", person, "/media")),
            headers=self._headers(),
        )
        media = int(removed.get("total") or 0) if isinstance(removed, dict) else 0
        self.client.json(
            "POST",
            self.client.url(f"{ADMIN}/v1/deactivate/{quote(user_id, safe='')}"),
            headers=self._headers(),
            json={"erase": True},
        )
        after = self._account(person)
        if after is None or not after.get("deactivated") or not after.get("erased"):
            raise ConnectorError(_(STILL_ACTIVE, user=user_id))
        return StepResult(
            ok=True,
            detail=DEACTIVATED % {"user": user_id, "media": media},
            kept=(KEPT_MESSAGES, KEPT_ID % {"user": user_id}),
        )
