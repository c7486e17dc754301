"""Human names of statuses, impacts, levels and visibilities (lazy, translated where shown)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

STATUS_LABELS: dict[str, Any] = {
    "scheduled": _l("Planned"),
    "investigating": _l("Investigating"),
    "identified": _l("Cause identified"),
    "in_progress": _l("In progress"),
    "monitoring": _l("Fix applied, monitoring"),
    "resolved": _l("Resolved"),
}
MAINTENANCE_STATUS_LABELS: dict[str, Any] = {
    **STATUS_LABELS,
    "monitoring": _l("Work done, checking"),
    "resolved": _l("Completed"),
}
IMPACT_LABELS: dict[str, Any] = {
    "none": _l("No impact"),
    "minor": _l("Minor"),
    "major": _l("Major"),
    "critical": _l("Critical"),
    "maintenance": _l("Planned maintenance"),
}
IMPACT_HINTS: dict[str, Any] = {
    "none": _l("Information only: the service works normally."),
    "minor": _l("The service is slow or partly degraded."),
    "major": _l("Part of the service is down (partial outage)."),
    "critical": _l("The service is down for everyone (major outage)."),
}
LEVEL_LABELS: dict[str, Any] = {
    "operational": _l("Operational"),
    "maintenance": _l("Under maintenance"),
    "degraded": _l("Degraded performance"),
    "partial_outage": _l("Partial outage"),
    "major_outage": _l("Major outage"),
}
VISIBILITY_LABELS: dict[str, Any] = {
    "public": _l("Everyone (public journal and feeds)"),
    "users": _l("Hosted users only (signed in)"),
}


def status_label(status: str, maintenance: bool = False) -> str:
    table = MAINTENANCE_STATUS_LABELS if maintenance else STATUS_LABELS
    return str(table.get(status, status))


def impact_label(impact: str) -> str:
    return str(IMPACT_LABELS.get(impact, impact))


def level_label(level: str) -> str:
    return str(LEVEL_LABELS.get(level, level))


def visibility_label(visibility: str) -> str:
    return str(VISIBILITY_LABELS.get(visibility, visibility))
