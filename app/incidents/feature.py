"""Start-up of the incident journal: caches, template helpers, CLI, mail tasks, staff queue."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.features import Feature, WorkerTask
from app.incidents import (
    bp,
    cli,
    labels,
    mailing,
    ongoing_public_incidents,
    overview_incidents,
    queries,
    statistics,
    status_at_a_glance,
    subscription_views,
    views,  # noqa: F401 - routes
)
from app.incidents.cache import JournalVersion
from app.incidents.formatting import format_availability, format_duration
from app.incidents.text import render_markdown
from app.profile import current_profile
from app.staff import StaffQueue
from app.tasks import crontab
from app.templating import FragmentCache
from app.transparency.statistics import Statistic


def _init(app: Flask) -> None:
    app.extensions["panel_incidents_cache"] = FragmentCache()
    app.extensions["panel_incidents_version"] = JournalVersion(
        float(app.config["INCIDENTS_VERSION_SECONDS"])
    )
    app.extensions["panel_ongoing_incidents"] = ongoing_public_incidents
    app.extensions["panel_status_summary"] = status_at_a_glance
    app.jinja_env.globals.update(
        incident_status_label=labels.status_label,
        incident_impact_label=labels.impact_label,
        service_level_label=labels.level_label,
        incident_visibility_label=labels.visibility_label,
        format_duration=format_duration,
        format_availability=format_availability,
        render_markdown=render_markdown,
        current_profile_services=lambda: current_profile().services,
        reader_subscription=subscription_views.subscription_of_reader,
    )
    cli.incidents_group.add_command(mailing.notify_command)
    cli.incidents_group.add_command(mailing.purge_command)


FEATURE = Feature(
    name="incidents",
    settings={
        "INCIDENTS_CACHE_SECONDS": 30,
        "INCIDENTS_VERSION_SECONDS": 2,
        **mailing.SETTINGS,
    },
    init=_init,
    blueprints=(bp,),
    commands=(cli.incidents_group,),
    tasks=(
        WorkerTask(mailing.NOTIFY_TASK, mailing.notify_job),
        WorkerTask("incidents.notify_every_minute", mailing.notify_job, crontab()),
        WorkerTask(mailing.PURGE_TASK, mailing.purge_job, crontab(minute="7")),
    ),
    staff_queues=(
        StaffQueue(
            label=lambda: str(_l("Open incidents and planned maintenance")),
            count=queries.count_open,
            endpoint="incidents.staff_list",
        ),
    ),
    panel_sections=lambda _app: (mailing.IncidentMailSection(),),
    statistics=(
        Statistic(
            key="incidents.subscribers",
            label=_l("People who receive incident mail"),
            kind="total",
            compute=mailing.subscribers,
        ),
    ),
    audit_labels={
        "incident.opened": _l("Opened an incident in the journal"),
        "incident.updated": _l("Posted an incident update"),
        "incident.corrected": _l("Posted a correction to an incident update"),
        "incident.reopened": _l("Reopened a resolved incident"),
        "incident.resolved": _l("Resolved an incident"),
        "incident.edited": _l("Changed the details of an incident"),
        "incident.postmortem": _l("Wrote an incident post-mortem"),
        "maintenance.scheduled": _l("Announced a planned maintenance"),
        "incidents.subscribed": _l("Subscribed to incident mail"),
        "incidents.unsubscribed": _l("Unsubscribed from incident mail"),
    },
    overview=(overview_incidents,),
)

# The journal's public figure closes the monthly table on /stats, after every other
# feature's (app/__init__.py lists this after deletion).
JOURNAL_FIGURES = Feature(name="incident figures", statistics=statistics.STATISTICS)
