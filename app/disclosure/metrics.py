"""ChatonsInfos metrics files: the anonymised /stats figures as MONTHS, WEEKS and DAYS series.

Each series covers one calendar year in the hoster's time zone, with exactly one value per
month (12), per ISO week of that year (52 or 53) and per day (365 or 366), separated by
commas as StatoolInfos reads them. A value is left empty where it is not known (a period
still to come, or before the journal began) and where it is a count about people below
`SMALL_COUNT`, the threshold /stats uses: such a count is never published as such.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.audit import AuditEvent
from app.disclosure.chatonsinfos import escape_key, escape_value, file_section, render
from app.incidents.models import Incident, IncidentService
from app.profile.model import HosterProfile, Service
from app.support.models import Ticket
from app.transparency.statistics import SMALL_COUNT

UNITS = ("months", "weeks", "days")
Period = tuple[datetime, datetime]  # aware UTC start (inclusive), end (exclusive)
Value = Callable[[datetime, datetime], str]


def weeks_in_year(year: int) -> int:
    """52 or 53: ISO weeks whose Thursday falls in the year (28 December is always in the last)."""
    return date(year, 12, 28).isocalendar().week


def periods(year: int, unit: str, zone: ZoneInfo) -> list[Period]:
    """The year's months, ISO weeks or days, as UTC instants of local midnights."""

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    if unit == "months":
        starts = [date(year, month, 1) for month in range(1, 13)] + [date(year + 1, 1, 1)]
    elif unit == "weeks":
        count = weeks_in_year(year)
        starts = [date.fromisocalendar(year, week, 1) for week in range(1, count + 1)]
        starts.append(starts[-1] + timedelta(days=7))
    else:
        first = date(year, 1, 1)
        length = (date(year + 1, 1, 1) - first).days
        starts = [first + timedelta(days=n) for n in range(length + 1)]
    return [(at(a), at(b)) for a, b in pairwise(starts)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shown(count: int, hide_small: bool) -> str:
    return "" if hide_small and count < SMALL_COUNT else str(count)


def event_counts(
    times: Iterable[datetime | None],
    now: datetime,
    *,
    hide_small: bool,
    since: datetime | None = None,
) -> Value:
    """How many events in each period (tickets opened, incidents published…); nothing is
    said of periods over before `since` (the panel kept no record then)."""
    ordered = sorted(_aware(t) for t in times if t is not None)

    def value(start: datetime, end: datetime) -> str:
        if start > now or (since is not None and end <= since):
            return ""
        count = bisect_left(ordered, end) - bisect_left(ordered, start)
        return _shown(count, hide_small)

    return value


def distinct_people(pairs: Iterable[tuple[int | None, datetime]], now: datetime) -> Value:
    """How many different people did something in each period (signed in, say)."""
    ordered = sorted((_aware(t), who) for who, t in pairs if who is not None)
    times = [t for t, _who in ordered]

    def value(start: datetime, end: datetime) -> str:
        if start > now:
            return ""
        people = {who for _t, who in ordered[bisect_left(times, start) : bisect_left(times, end)]}
        return _shown(len(people), True)

    return value


def running_total(times: Iterable[datetime], now: datetime) -> Value:
    """How many exist at the end of each period (accounts), counted up to now."""
    ordered = sorted(_aware(t) for t in times)

    def value(start: datetime, end: datetime) -> str:
        if start > now:
            return ""
        return _shown(bisect_left(ordered, min(end, now)), True)

    return value


def availability(
    downtime: Iterable[tuple[datetime, datetime | None]], began: datetime, now: datetime
) -> Value:
    """Share of each period the service was up (major and critical incidents are downtime),
    as a percentage with two decimals; empty before the journal began and after now."""
    spans = sorted((_aware(a), _aware(b) if b else now) for a, b in downtime)
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))

    def value(start: datetime, end: datetime) -> str:
        lo, hi = max(start, began), min(end, now)
        if hi <= lo:
            return ""
        down = sum(
            ((min(b, hi) - max(a, lo)) for a, b in merged if a < hi and b > lo), timedelta(0)
        )
        return f"{100 * (1 - down / (hi - lo)):.2f}"

    return value


@dataclass(frozen=True)
class Metric:
    key: str  # "metrics.service.incidents": the ontology's path, without year and unit
    name: object  # a lazy translated string
    description: object
    value: Value


def series_pairs(
    metrics: Sequence[Metric], years: Sequence[int], zone: ZoneInfo
) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for metric in metrics:
        pairs.append((f"{metric.key}.name", str(metric.name)))
        pairs.append((f"{metric.key}.description", str(metric.description)))
        for year in years:
            for unit in UNITS:
                values = [metric.value(a, b) for a, b in periods(year, unit, zone)]
                pairs.append((f"{metric.key}.{year}.{unit}", ",".join(values)))
    return pairs


def _render(profile: HosterProfile, metrics: Sequence[Metric], file_url: str, now: datetime) -> str:
    zone = ZoneInfo(profile.timezone)
    year = now.astimezone(zone).year
    # Last year too: twelve full months are always there, whatever today's date.
    # Written by hand, not by render(): a series of empty values (",,,") is still written,
    # so that every series has its full length.
    lines = ["", "# [Metrics]"]
    lines += [
        f"{escape_key(k)} = {escape_value(v)}"
        for k, v in series_pairs(metrics, (year - 1, year), zone)
    ]
    return render([file_section(profile, "metrics", file_url, now)]) + "\n".join(lines) + "\n"


def organisation_metrics(
    session: Session,
    profile: HosterProfile,
    *,
    file_url: str,
    now: datetime,
    journal_began: datetime | None = None,
) -> str:
    """`organization-metrics.properties`: the panel's figures about the whole hoster."""
    # The years the files cover, with a day to spare for the time zone.
    since = datetime(now.year - 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    accounts = session.scalars(select(Account.created_at))
    logins = session.execute(
        select(AuditEvent.account_id, AuditEvent.created_at).where(
            AuditEvent.action == "login.succeeded", AuditEvent.created_at >= since
        )
    )
    exports = session.scalars(
        select(AuditEvent.created_at).where(
            AuditEvent.action == "export.downloaded", AuditEvent.created_at >= since
        )
    )
    opened = session.scalars(select(Ticket.created_at).where(Ticket.created_at >= since))
    closed = session.scalars(select(Ticket.closed_at).where(Ticket.closed_at >= since))
    incidents = session.scalars(
        select(Incident.created_at).where(
            Incident.created_at >= since, Incident.visibility == "public"
        )
    )
    metrics = [
        Metric(
            "metrics.organization.accounts",
            _l("Accounts"),
            _l("Accounts that have signed in to the panel at least once."),
            running_total(accounts, now),
        ),
        Metric(
            "metrics.organization.accounts.active",
            _l("Active people"),
            _l("Different people who signed in to the panel during the period."),
            distinct_people(logins, now),
        ),
        Metric(
            "metrics.organization.tickets.opened",
            _l("Support tickets opened"),
            _l("Requests for help opened during the period."),
            event_counts(opened, now, hide_small=True, since=journal_began),
        ),
        Metric(
            "metrics.organization.tickets.closed",
            _l("Support tickets closed"),
            _l("Requests for help closed during the period."),
            event_counts(closed, now, hide_small=True, since=journal_began),
        ),
        Metric(
            "metrics.organization.incidents",
            _l("Incidents and maintenance published"),
            _l("Entries of the public incident journal opened during the period."),
            event_counts(incidents, now, hide_small=False, since=journal_began),
        ),
        Metric(
            "metrics.organization.exports",
            _l("Data exports downloaded"),
            _l("Archives of their own data that people downloaded."),
            event_counts(exports, now, hide_small=True, since=journal_began),
        ),
    ]
    return _render(profile, metrics, file_url, now)


def service_metrics(
    session: Session,
    profile: HosterProfile,
    service: Service,
    *,
    file_url: str,
    now: datetime,
    journal_began: datetime | None,
) -> str:
    """`<slug>-metrics.properties`: incidents, availability and tickets of one service."""
    # The years the files cover, with a day to spare for the time zone.
    since = datetime(now.year - 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    rows = session.execute(
        select(Incident.impact, Incident.started_at, Incident.resolved_at)
        .join(IncidentService, IncidentService.incident_id == Incident.id)
        .where(
            IncidentService.service_slug == service.slug,
            Incident.visibility == "public",
            Incident.started_at.is_not(None),
            Incident.impact != "none",
        )
    ).all()
    started = [r.started_at for r in rows if r.impact != "maintenance"]
    down = [(r.started_at, r.resolved_at) for r in rows if r.impact in ("major", "critical")]
    began = journal_began or now
    if service.start_date is not None:
        opened_on = datetime(
            service.start_date.year,
            service.start_date.month,
            service.start_date.day,
            tzinfo=ZoneInfo(profile.timezone),
        )
        began = max(began, opened_on.astimezone(UTC))
    tickets = session.scalars(
        select(Ticket.created_at).where(Ticket.service == service.slug, Ticket.created_at >= since)
    )
    metrics = [
        Metric(
            "metrics.service.incidents",
            _l("Incidents"),
            _l("Incidents of the public journal that touched this service."),
            event_counts(started, now, hide_small=False, since=began),
        ),
        Metric(
            "metrics.service.availability",
            _l("Availability (%)"),
            _l("Share of the time without a major or critical incident, since the journal began."),
            availability(down, began, now),
        ),
        Metric(
            "metrics.service.tickets.opened",
            _l("Support tickets opened"),
            _l("Requests for help about this service opened during the period."),
            event_counts(tickets, now, hide_small=True, since=began),
        ),
    ]
    return _render(profile, metrics, file_url, now)
