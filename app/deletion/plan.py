"""The deletion plan staff read before approving: per service, what goes and what stays.

Asked of the servers at the moment the page is shown (a dry run, nothing changes): a
connector with `plan(person)` says which folders or collections it will delete, with
counts and sizes, what it will keep and why, and what the server itself keeps afterwards;
a connector without one shows its inventory, the same list /account/data shows. Both come
from the connector's one inventory of what is the person's (principle 7), which the
pipeline asks again when the step runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from flask_babel import gettext

from app.connectors.base import (
    Connector,
    ConnectorError,
    DataItem,
    DeletionPlan,
    KeptItem,
    ServiceUnreachable,
    service_connectors,
)
from app.deletion.models import DeletionRequest
from app.deletion.steps import person_of, step_label
from app.directory import Person

log = logging.getLogger(__name__)


@dataclass
class ServicePreview:
    """One automatic service step of the request, as its server describes it now."""

    slug: str
    label: str
    plan: DeletionPlan | None = None  # the connector's own plan
    inventory: list[DataItem] = field(default_factory=list)  # when it has no plan()
    error: str | None = None  # the server could not be asked; staff read why
    unreachable: bool = False

    @property
    def kept_by_server(self) -> list[str]:
        """The plan's notes in the reader's language."""
        return [gettext(note) for note in self.plan.notes] if self.plan else []


def kept_reason(item: KeptItem) -> str:
    """Why an item stays, in the reader's language, with its recorded values
    (`%(owner)s` placeholders, as every N_() message; `{owner}` is understood too)."""
    text = gettext(item.reason)
    values = dict(item.values)
    if not values:
        return text
    try:
        return text % values if "%(" in text else text.format(**values)
    except (KeyError, ValueError, IndexError):  # a translation that lost a placeholder
        return text


def _ask(connector: Connector, person: Person) -> DeletionPlan | list[DataItem]:
    plan: Callable[[Person], DeletionPlan] | None = getattr(connector, "plan", None)
    if plan is not None:
        return plan(person)
    return list(connector.inventory(person))


def preview_deletion(app: Flask, req: DeletionRequest) -> list[ServicePreview]:
    """Every automatic service step of the request, asked of its server now."""
    person = person_of(req)
    connectors = service_connectors(app)
    previews: list[ServicePreview] = []
    for step in req.steps:
        if step.kind != "service" or step.mode != "automatic" or not step.service_slug:
            continue
        preview = ServicePreview(step.service_slug, step_label(step))
        previews.append(preview)
        connector = connectors.get(step.service_slug)
        if connector is None:
            preview.error = gettext("No connector is registered for this service any more.")
            continue
        try:
            found = _ask(connector, person)
        except ConnectorError as exc:
            preview.error = exc.staff_detail()
            preview.unreachable = isinstance(exc, ServiceUnreachable)
            continue
        except Exception as exc:  # staff still see the rest of the plan
            log.exception("the deletion plan of %s failed", step.service_slug)
            preview.error = gettext("unexpected error (%(kind)s)", kind=type(exc).__name__)
            continue
        if isinstance(found, DeletionPlan):
            preview.plan = found
        else:
            preview.inventory = found
    return previews
