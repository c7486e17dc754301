"""The `http` connector: a small published protocol any service can speak with a few lines.

    GET    {url}/users/{uid}         inventory document (JSON), 404 = nothing held
    GET    {url}/users/{uid}/export  tar stream, re-packed under services/<slug>/
    DELETE {url}/users/{uid}         204 done, 404 nothing held, 200 or 202 a status document
    GET    {status_url}              status document, polled until "done" or "failed"

Every request carries `Authorization: Bearer <token>`. The documents are described by
docs/connector-http.schema.json; docs/connectors.md explains the protocol, and
tools/http_connector_server.py is a reference server serving a folder per person.
"""

from __future__ import annotations

import tarfile
import time
from collections.abc import Iterator
from typing import Any
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


class HttpConnector(WebConnector):
    """A service that speaks the panel's HTTP protocol (see the module docstring)."""

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
