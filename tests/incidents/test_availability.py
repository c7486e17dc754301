"""90-day availability: window edges, overlaps, ongoing incidents, daylight saving time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.incidents.status import Interval, availability, merge, window

PARIS = ZoneInfo("Europe/Paris")
# Noon in Paris on 10 June 2026 (UTC+2): the window starts at local midnight 89 days before.
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
WINDOW_START = datetime(2026, 3, 13, 0, 0, tzinfo=PARIS).astimezone(UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def test_the_window_runs_from_local_midnight_89_days_ago_to_now() -> None:
    start, end = window(NOW, PARIS)
    assert start == WINDOW_START
    assert start == datetime(2026, 3, 12, 23, 0, tzinfo=UTC)  # Paris is UTC+1 in March
    assert end == NOW


def test_no_incident_means_full_availability_and_90_quiet_days() -> None:
    result = availability([], NOW, PARIS)
    assert result.ratio == 1.0
    assert result.downtime == timedelta(0)
    assert len(result.days) == 90
    assert result.days[0].day == date(2026, 3, 13) and result.days[-1].day == date(2026, 6, 10)
    assert result.disrupted_days == ()


def test_an_incident_spanning_the_window_edge_counts_only_inside_the_window() -> None:
    spanning = Interval("critical", WINDOW_START - hours(5), WINDOW_START + hours(3))
    result = availability([spanning], NOW, PARIS)
    assert result.downtime == hours(3)
    assert result.days[0].downtime == hours(3)
    assert result.days[0].level == "major_outage"


def test_an_incident_ended_before_the_window_does_not_count() -> None:
    before = Interval("critical", WINDOW_START - hours(5), WINDOW_START)
    result = availability([before], NOW, PARIS)
    assert result.downtime == timedelta(0)
    assert result.disrupted_days == ()


def test_overlapping_incidents_on_one_service_count_once() -> None:
    start = NOW - timedelta(days=3)
    first = Interval("major", start, start + hours(4))
    second = Interval("critical", start + hours(2), start + hours(6))
    inside = Interval("major", start + hours(1), start + hours(2))
    result = availability([first, second, inside], NOW, PARIS)
    assert result.downtime == hours(6)
    window_length = NOW - WINDOW_START
    assert abs(result.ratio - (1 - hours(6) / window_length)) < 1e-12


def test_an_ongoing_incident_counts_until_now() -> None:
    result = availability([Interval("critical", NOW - hours(2), None)], NOW, PARIS)
    assert result.downtime == hours(2)
    assert result.days[-1].level == "major_outage"
    assert result.days[-1].downtime == hours(2)


def test_minor_incidents_and_maintenance_mark_the_day_but_are_not_downtime() -> None:
    day = NOW - timedelta(days=10)
    result = availability(
        [Interval("minor", day, day + hours(5)), Interval("maintenance", day, day + hours(1))],
        NOW,
        PARIS,
    )
    assert result.downtime == timedelta(0)
    assert result.ratio == 1.0
    (disrupted,) = result.disrupted_days
    assert disrupted.level == "degraded"  # worse than maintenance
    assert disrupted.day == day.astimezone(PARIS).date()


def test_an_incident_across_midnight_is_split_between_the_two_local_days() -> None:
    local_midnight = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS).astimezone(UTC)
    result = availability(
        [Interval("major", local_midnight - hours(1), local_midnight + hours(2))], NOW, PARIS
    )
    by_day = {d.day: d for d in result.days}
    assert by_day[date(2026, 5, 31)].downtime == hours(1)
    assert by_day[date(2026, 6, 1)].downtime == hours(2)
    assert by_day[date(2026, 6, 1)].ratio == 1 - 2 / 24


def test_days_follow_daylight_saving_time_in_the_hoster_time_zone() -> None:
    # Clocks went forward on 29 March 2026 in Paris: that day lasts 23 hours.
    result = availability([], NOW, PARIS)
    by_day = {d.day: d for d in result.days}
    assert by_day[date(2026, 3, 29)].length == hours(23)
    assert by_day[date(2026, 3, 30)].length == hours(24)
    assert by_day[date(2026, 6, 10)].length == hours(12)  # today so far: since local midnight
    assert sum((d.length for d in result.days), timedelta(0)) == NOW - WINDOW_START


def test_a_whole_day_down_gives_that_day_zero() -> None:
    start = datetime(2026, 5, 5, 0, 0, tzinfo=PARIS)
    result = availability([Interval("critical", start, start + hours(24))], NOW, PARIS)
    day = next(d for d in result.days if d.day == date(2026, 5, 5))
    assert day.ratio == 0.0


def test_merge_drops_empty_spans_and_joins_touching_ones() -> None:
    t = NOW
    assert merge([(t, t), (t, t + hours(1)), (t + hours(1), t + hours(2))]) == [(t, t + hours(2))]
