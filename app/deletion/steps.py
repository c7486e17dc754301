"""How a deletion step reads (name, label, instructions), the order of kinds, whom it is about."""

from __future__ import annotations

from flask_babel import gettext as _

from app.deletion.models import DeletionRequest, DeletionStep
from app.directory import Person
from app.profile.loading import current_profile
from app.profile.texts import LocalizedText


def step_label(step: DeletionStep) -> str:
    """The step as people read it (translated)."""
    if step.kind == "directory":
        return _("Directory entry (your login and group memberships)")
    if step.kind == "panel":
        return _("This panel's data about you")
    service = current_profile().service(step.service_slug) if step.service_slug else None
    if service is not None:
        return str(service.name)  # in the reader's language while the service is declared
    return step.label or step.service_slug or ""


EARLIER_KINDS = {"service": (), "directory": ("service",), "panel": ("service", "directory")}


def steps_in_progress(req: DeletionRequest) -> bool:
    """True while the worker has automatic steps of this approved request it can run now
    (a directory step waiting for a manual service step is not progress)."""
    if req.state != "approved":
        return False
    unfinished = {s.kind for s in req.steps if s.state != "done"}
    return any(
        s.mode == "automatic"
        and s.state in ("pending", "running")
        and not unfinished.intersection(EARLIER_KINDS[s.kind])
        for s in req.steps
    )


def step_instructions(step: DeletionStep) -> LocalizedText | str | None:
    """What staff do by hand, in their language while the service is still declared."""
    if step.mode != "manual":
        return None
    service = current_profile().service(step.service_slug) if step.service_slug else None
    if service is not None and service.manual_deletion:
        return service.manual_deletion
    return step.instructions


def step_name(step: DeletionStep) -> str:
    return step.service_slug if step.kind == "service" and step.service_slug else step.kind


def person_of(req: DeletionRequest) -> Person:
    """The person a request is about, from what the request recorded."""
    return Person(
        uid=req.subject_uid or "",
        dn=req.subject_dn or "",
        display_name=req.subject_name or req.subject_uid or "",
        email=req.receipt_email,
        language=req.subject_language,
    )
