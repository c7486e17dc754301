"""Service status derivation: every impact, status and planning phase, alone and combined."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.incidents import queries
from app.incidents import status as rules
from app.incidents.models import IMPACTS, STATUSES

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(hours=1)
FUTURE = NOW + timedelta(hours=1)

# What a reader expects, written out by hand rather than derived from the code.
EXPECTED_OPEN_LEVEL = {
    "none": "operational",
    "minor": "degraded",
    "major": "partial_outage",
    "critical": "major_outage",
    "maintenance": "maintenance",
}


def combinations() -> list[tuple[str, str, datetime | None]]:
    cases = []
    for impact, status in itertools.product(IMPACTS, STATUSES):
        windows = [PAST, FUTURE] if impact == "maintenance" else [None]
        cases.extend((impact, status, window) for window in windows)
    return cases


@pytest.mark.parametrize(("impact", "status", "window_start"), combinations())
def test_effect_of_one_incident_for_every_combination(
    impact: str, status: str, window_start: datetime | None
) -> None:
    level = rules.effect(impact, status, window_start, NOW)
    if status == "resolved":
        assert level == "operational"
    elif impact == "maintenance" and status == "scheduled" and window_start == FUTURE:
        assert level == "operational"  # announced, not begun: shown under planned maintenance
    else:
        assert level == EXPECTED_OPEN_LEVEL[impact]


def test_planned_work_is_upcoming_until_its_window_and_ongoing_once_started_early() -> None:
    assert rules.is_upcoming("maintenance", "scheduled", FUTURE, NOW)
    assert not rules.is_ongoing("maintenance", "scheduled", FUTURE, NOW)
    assert rules.is_ongoing("maintenance", "scheduled", PAST, NOW)
    assert rules.is_ongoing("maintenance", "in_progress", FUTURE, NOW)
    assert not rules.is_upcoming("major", "investigating", None, NOW)


ORDER = ["operational", "maintenance", "degraded", "partial_outage", "major_outage"]


@pytest.mark.parametrize(
    ("first", "second"), list(itertools.combinations_with_replacement(IMPACTS, 2))
)
def test_two_open_incidents_on_a_service_show_the_worse_of_the_two(first: str, second: str) -> None:
    def fake(impact: str, number: int) -> SimpleNamespace:
        return SimpleNamespace(
            id=number,
            impact=impact,
            status="in_progress" if impact == "maintenance" else "identified",
            scheduled_start=PAST if impact == "maintenance" else None,
            service_slugs=["mail"],
        )

    states = queries.service_states(
        [("mail", "Mail"), ("pad", "Pads")], [fake(first, 1), fake(second, 2)], NOW
    )
    mail, pad = states
    expected = max(EXPECTED_OPEN_LEVEL[first], EXPECTED_OPEN_LEVEL[second], key=ORDER.index)
    assert mail.level == expected
    assert [i.id for i in mail.ongoing] == [1, 2]
    assert pad.level == "operational" and pad.ongoing == []


def test_a_service_without_open_incidents_is_operational_and_unknown_slugs_are_ignored() -> None:
    gone = SimpleNamespace(
        id=1,
        impact="critical",
        status="investigating",
        scheduled_start=None,
        service_slugs=["removed-service"],
    )
    (state,) = queries.service_states([("mail", "Mail")], [gone], NOW)
    assert state.level == "operational"


def test_maintenance_announced_for_later_does_not_change_the_status_yet() -> None:
    planned = SimpleNamespace(
        id=1,
        impact="maintenance",
        status="scheduled",
        scheduled_start=FUTURE,
        service_slugs=["mail"],
    )
    (state,) = queries.service_states([("mail", "Mail")], [planned], NOW)
    assert state.level == "operational"
    assert state.ongoing == []
