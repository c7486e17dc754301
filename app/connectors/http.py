"""The `http` connector: a small published protocol any service can speak with a few lines.

    GET    {url}/users/{uid}         inventory document (JSON), 404 = nothing held
    GET    {url}/users/{uid}/export  tar stream, re-packed under services/<slug>/
    DELETE {url}/users/{uid}         204 done, 404 nothing held, 200 or 202 a status document
    GET    {status_url}              status document, polled until "done" or "failed"
    PUT    {url}/users/{uid}/import/{path}   one file brought in (moving house): 201 written,
                                     200/204 already there, 409 a different file is there,
                                     413 too big, 507 no room left

Every request carries `Authorization: Bearer <token>`. The documents are described by
docs/connector-http.schema.json; docs/connectors.md explains the protocol, and
tools/http_connector_server.py is a reference server serving a folder per person.
"""

from __future__ import annotations

import base64
import logging
import tarfile
import time
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote

from flask import Flask
from flask_babel import gettext as _

from app.connectors.base import (
    N_,
    ArchiveEntry,
    ConnectorError,
    DataItem,
    Skipped,
    StepResult,
    safe_uid,
)
from app.connectors.files import safe_parts
from app.connectors.importing import (
    IMPORTED,
    REFUSED,
    SKIPPED,
    ImportItem,
    ImportPart,
    ImportProgress,
    Malformed,
    Outcome,
    PartKind,
)
from app.connectors.options import ConnectorOptions
from app.connectors.secrets import Secret
from app.connectors.tarstream import tar_entries
from app.connectors.web import (
    CHUNK,
    NOTHING_HELD,
    HttpFailure,
    RawReader,
    WebConnector,
    WebService,
    bearer,
)
from app.directory import Person

log = logging.getLogger(__name__)

STATES = ("pending", "running", "done", "failed")
DAMAGED = N_("the archive sent by %(service)s is cut or damaged")

DELETED = N_("Deleted.")
DELETED_WHAT = N_("Deleted: %(what)s.")
FAILED = N_("The service reported a failure.")
STILL_WORKING = N_(
    "Still %(state)s on the server after %(seconds)s s; the step can be run again later."
)
NO_STATUS_URL = N_("the status document has no status_url to follow")
STATUS_NOT_JSON = N_("the deletion status is not JSON")
# The states a status document may still be in, as STILL_WORKING shows them.
WORKING_STATES = (N_("pending"), N_("running"))
STATUS_INVALID = N_("the deletion status has no valid state (pending, running, done or failed)")
# Import (moving house): what a refused file's line of the report says.
IMPORT_UNSAFE_PATH = N_("a path that leaves the folder (“..”, absolute or empty parts): not sent")
IMPORT_CONFLICT = N_("the service already has a different file with this name: not replaced")
IMPORT_TOO_BIG = N_("this file is bigger than the service accepts")
IMPORT_NO_ROOM = N_("the service has no room left for this file")
IMPORT_REFUSED = N_("the service refused this file")
NO_IMPORT = N_("%(service)s does not accept imports (its server has no import operation)")
IMPORT_MESSAGES = (
    IMPORT_UNSAFE_PATH,
    IMPORT_CONFLICT,
    IMPORT_TOO_BIG,
    IMPORT_NO_ROOM,
    IMPORT_REFUSED,
    NO_IMPORT,
)
# Messages a deletion step may record (see N_).
OUTCOMES = (
    DELETED,
    DELETED_WHAT,
    FAILED,
    STILL_WORKING,
    NO_STATUS_URL,
    STATUS_NOT_JSON,
    STATUS_INVALID,
    *WORKING_STATES,
)


def build(service: Any, options: ConnectorOptions, app: Flask | None = None) -> HttpConnector:
    """The connector of a `type = "http"` table (see docs/connectors.md)."""
    return HttpConnector(
        WebService.from_options(service, options),
        token=options.required_secret("token"),
        delete_wait=options.seconds("delete_wait", default=60.0),
        poll_interval=options.seconds("poll_interval", default=1.0),
    )


class _Body:
    """A file's bytes for requests: its length known (Content-Length, no chunked upload),
    read from the archive as the request goes."""

    def __init__(self, item: ImportItem) -> None:
        self.size = item.size
        self._stream: IO[bytes] | None = item.open() if item.open is not None else None
        self._data = item.data or b""
        self._at = 0

    def __len__(self) -> int:
        return self.size

    def read(self, size: int = -1) -> bytes:
        if self._stream is not None:
            return self._stream.read(CHUNK if size is None or size < 0 else size)
        chunk = self._data[self._at : self._at + (CHUNK if size < 0 else size)]
        self._at += len(chunk)
        return chunk

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


class HttpConnector(WebConnector):
    """A service that speaks the panel's HTTP protocol (see the module docstring)."""

    imports: frozenset[PartKind] = frozenset({"files"})

    def __init__(
        self,
        service: WebService,
        *,
        token: Secret,
        delete_wait: float = 60.0,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(service)
        self.token = token
        self.delete_wait = delete_wait
        self.poll_interval = poll_interval

    # Requests ------------------------------------------------------------------------------

    def _headers(self, person: Person | None = None) -> dict[str, str]:
        headers = {**bearer(self.token), "Accept": "application/json"}
        if person is not None and person.language:
            # The texts of the status document (detail, deleted, kept) are shown as they
            # are to staff and in the person's receipt: ask for them in their language.
            headers["Accept-Language"] = f"{person.language}, en;q=0.5"
        return headers

    def _user_url(self, person: Person, tail: str = "") -> str:
        return self.client.url(f"users/{quote(safe_uid(person.uid), safe='')}{tail}")

    def check(self) -> str:
        """Raise ConnectorError unless the server answers and accepts the token (doctor)."""
        # Any answer but a refusal (401, 403) or a server error shows the token is accepted.
        accepted = tuple(code for code in range(200, 500) if code not in (401, 403))
        self.client.request(
            "GET", self.client.url("users/"), headers=self._headers(), ok=accepted
        ).close()
        return f"{self.client.base}: the token is accepted"

    # Inventory ----------------------------------------------------------------------------

    def inventory(self, person: Person) -> list[DataItem]:
        fallback = DataItem(
            service=self.slug,
            kind=_("Your data in %(service)s", service=self.name),
            location=self.data_location(),
            retention=self.data_retention(_("Until you delete it or your account")),
            exported=True,
        )
        try:
            document = self.client.json("GET", self._user_url(person), headers=self._headers())
        except HttpFailure as exc:
            if exc.status == 404:
                return []
            raise
        items = document.get("items") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise ConnectorError(_("the inventory of %(service)s has no items", service=self.name))
        found: list[DataItem] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
                raise ConnectorError(
                    _("the inventory of %(service)s is not valid", service=self.name)
                )
            found.append(
                DataItem(
                    service=self.slug,
                    kind=item["kind"],
                    location=str(item.get("location") or fallback.location),
                    retention=str(item.get("retention") or fallback.retention),
                    exported=bool(item.get("exported", True)),
                )
            )
        return found

    # Export -------------------------------------------------------------------------------

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        try:
            response = self.client.request(
                "GET",
                self._user_url(person, "/export"),
                headers={**self._headers(), "Accept": "application/x-tar"},
                stream=True,
            )
        except HttpFailure as exc:
            if exc.status == 404:
                return  # the service holds nothing for this person
            raise
        reader = RawReader(response, _("the export of %(service)s", service=self.name))
        try:
            try:
                archive = tarfile.open(fileobj=reader, mode="r|*")  # type: ignore[call-overload]  # noqa: SIM115
            except tarfile.TarError as exc:
                raise ConnectorError(
                    _("%(service)s did not send a tar archive", service=self.name)
                ) from exc
            try:
                yield from tar_entries(archive, self.slug, self._damaged, CHUNK)
            except tarfile.TarError as exc:
                raise self._damaged(exc) from exc
        finally:
            reader.close()

    def _damaged(self, exc: BaseException) -> ConnectorError:
        if isinstance(exc, ConnectorError):  # the connection broke (RawReader says how)
            return exc
        return ConnectorError(_(DAMAGED, service=self.name))

    # Import (moving house) ----------------------------------------------------------------

    def available_bytes(self, person: Person) -> int | None:
        """The inventory's `available_bytes`, when the service says how much room is left."""
        try:
            document = self.client.json("GET", self._user_url(person), headers=self._headers())
        except HttpFailure as exc:
            if exc.status == 404:
                return None
            raise
        room = document.get("available_bytes") if isinstance(document, dict) else None
        return room if isinstance(room, int) and not isinstance(room, bool) and room >= 0 else None

    def import_(self, person: Person, part: ImportPart, progress: ImportProgress) -> None:
        """Each file of the part PUT at its path; the service says written, there or not."""
        for item in part.items:
            if isinstance(item, Malformed):
                progress.done(item, REFUSED, item.reason)
                continue
            outcome, reason = self._put(person, item)
            progress.done(item, outcome, reason)

    def _put(self, person: Person, item: ImportItem) -> tuple[Outcome, str]:
        path = (item.key or item.name).rstrip("/")
        parts = safe_parts(path)
        if parts is None:
            return REFUSED, IMPORT_UNSAFE_PATH
        tail = "/import/" + "/".join(quote(p, safe="") for p in parts)
        headers = {**self._headers(person), "Content-Type": "application/octet-stream"}
        if item.sha256:
            digest = base64.b64encode(bytes.fromhex(item.sha256)).decode()
            headers["Repr-Digest"] = f"sha-256=:{digest}:"
        if item.mtime is not None:
            headers["X-Mtime"] = f"{item.mtime.timestamp():.0f}"
        body = _Body(item)
        try:
            response = self.client.request(
                "PUT",
                self._user_url(person, tail),
                headers=headers,
                data=body,
                ok=(200, 201, 204, 400, 409, 413, 422, 507),
            )
        except HttpFailure as exc:
            if exc.status in (404, 405, 501):
                raise ConnectorError(_(NO_IMPORT, service=self.name)) from exc
            raise
        finally:
            body.close()
        with response:
            status = response.status_code
            if status == 201:
                return IMPORTED, ""
            if status in (200, 204):
                return SKIPPED, ""
            log.info("%s refused %s: %s %s", self.slug, path, status, response.text[:300])
        reason = {409: IMPORT_CONFLICT, 413: IMPORT_TOO_BIG, 507: IMPORT_NO_ROOM}
        return REFUSED, reason.get(status, IMPORT_REFUSED)

    # Deletion -----------------------------------------------------------------------------

    def _delete(self, person: Person) -> StepResult:
        response = self.client.request(
            "DELETE", self._user_url(person), headers=self._headers(person), ok=(200, 202, 204, 404)
        )
        with response:
            if response.status_code == 404:
                return StepResult(ok=True, detail=NOTHING_HELD)
            if response.status_code == 204:
                return StepResult(ok=True, detail=DELETED)
            status = self._status_document(response)
        deadline = time.monotonic() + self.delete_wait
        while status["state"] in ("pending", "running"):
            url = status.get("status_url")
            if not isinstance(url, str) or not url:
                raise ConnectorError(_(NO_STATUS_URL))
            if time.monotonic() >= deadline:
                return StepResult(
                    ok=False,
                    detail=STILL_WORKING
                    % {"state": status["state"], "seconds": f"{self.delete_wait:g}"},
                )
            time.sleep(self.poll_interval)
            with self.client.request(
                "GET", self.client.url(url), headers=self._headers(person)
            ) as polled:
                status = self._status_document(polled)
        kept = tuple(str(k) for k in status.get("kept") or ())
        detail = str(status.get("detail") or "")
        if status["state"] == "failed":
            return StepResult(ok=False, detail=detail or FAILED)
        deleted = [str(d) for d in status.get("deleted") or ()]
        if deleted and not detail:
            detail = DELETED_WHAT % {"what": ", ".join(deleted)}
        return StepResult(ok=True, detail=detail or DELETED, kept=kept)

    @staticmethod
    def _status_document(response: Any) -> dict[str, Any]:
        try:
            document = response.json()
        except ValueError as exc:
            raise ConnectorError(_(STATUS_NOT_JSON)) from exc
        if not isinstance(document, dict) or document.get("state") not in STATES:
            raise ConnectorError(_(STATUS_INVALID))
        if response.status_code == 202 and not document.get("status_url"):
            location = response.headers.get("Location")
            if location:
                document["status_url"] = location
        return document
