"""The plan staff read before approving: generic over connectors, asked at that moment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask

from app.connectors.base import (
    ArchiveEntry,
    DataItem,
    DeletionPlan,
    KeptItem,
    PlannedItem,
    ServiceUnreachable,
    StepResult,
    register_connector,
)
from app.connectors.imap.namespaces import SHARED_WITH_YOU_BY
from app.deletion.models import DeletionRequest, DeletionStep
from app.deletion.plan import kept_reason, preview_deletion
from app.directory import Person


class Listing:
    """A connector without plan(): staff see its inventory."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.asked: list[str] = []

    def inventory(self, person: Person) -> list[DataItem]:
        self.asked.append(person.uid)
        return [DataItem(self.slug, "3 notes", "here", "forever", True)]

    def export(self, person: Person) -> Iterator[ArchiveEntry]:
        return iter(())

    def delete(self, person: Person) -> StepResult:
        raise AssertionError("a plan never deletes")


class Planning(Listing):
    def plan(self, person: Person) -> DeletionPlan:
        self.asked.append(person.uid)
        return DeletionPlan(
            self.slug,
            delete=(PlannedItem("INBOX", 2, 300),),
            keep=(KeptItem("shared/alice/x", SHARED_WITH_YOU_BY, (("owner", "alice"),)),),
        )


class Down(Listing):
    def plan(self, person: Person) -> DeletionPlan:
        raise ServiceUnreachable("the mail server 127.0.0.1:1 is not reachable (refused)")


def request_with(*slugs: str) -> DeletionRequest:
    req = DeletionRequest(subject_uid="bob", subject_dn="uid=bob", subject_name="Bob")
    req.steps = [
        DeletionStep(position=n, kind="service", mode="automatic", service_slug=slug, label=slug)
        for n, slug in enumerate(slugs)
    ]
    req.steps.append(DeletionStep(position=9, kind="service", mode="manual", service_slug="m"))
    return req


def test_each_automatic_service_shows_its_plan_or_its_inventory_or_why_it_cannot(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    connectors: dict[str, Any] = {
        "listing": Listing("listing"),
        "planning": Planning("planning"),
        "down": Down("down"),
    }
    for connector in connectors.values():
        register_connector(app, connector)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        previews = {p.slug: p for p in preview_deletion(app, request_with(*connectors, "gone"))}
        assert set(previews) == {"listing", "planning", "down", "gone"}  # not the manual one
        assert [i.kind for i in previews["listing"].inventory] == ["3 notes"]
        assert previews["listing"].plan is None
        plan = previews["planning"].plan
        assert plan is not None and plan.delete[0].count == 2
        reason = kept_reason(plan.keep[0]).replace("\u202f", " ")  # French spacing
        assert reason == "partagé avec cette personne par alice : il reste le sien"
        assert previews["down"].unreachable and "not reachable" in (previews["down"].error or "")
        assert previews["gone"].error
    assert connectors["planning"].asked == ["bob"] and connectors["listing"].asked == ["bob"]
