"""Usage statistics: small counts hidden, per-month figures, a registry other features extend."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.db import utcnow
from app.transparency.statistics import Statistic, make_window, register_statistic

EN = {"Accept-Language": "en"}


def add_accounts(session: Session, count: int, last_login: datetime | None, prefix: str) -> None:
    for index in range(count):
        session.add(
            Account(
                uid=f"{prefix}{index}",
                dn=f"uid={prefix}{index},ou=people,dc=demo",
                display_name=f"Person {index}",
                last_login_at=last_login,
            )
        )
    session.commit()


def overview(client: Any) -> dict[str, str]:
    body = client.get("/stats", headers=EN).get_data(as_text=True)
    pairs = re.findall(r'<dt id="stat-([a-z0-9_-]+)">.*?</dt>\s*<dd>(.*?)</dd>', body, re.S)
    return {key: html.unescape(re.sub(r"<[^>]+>", "", value)).strip() for key, value in pairs}


def monthly_rows(client: Any) -> list[list[str]]:
    body = client.get("/stats", headers=EN).get_data(as_text=True)
    table = body[body.index("Month by month") :]
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", table, re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.split(r"</t[hd]>", row)
        ][:-1]
        for row in rows
    ]


def test_counts_below_five_are_hidden(client: Any, db_session: Session) -> None:
    now = utcnow()
    add_accounts(db_session, 4, now - timedelta(days=2), "recent")
    figures = overview(client)
    assert figures["accounts-signed_in"] == "< 5"
    assert figures["accounts-active"] == "< 5"
    add_accounts(db_session, 3, now - timedelta(days=45), "older")
    add_accounts(db_session, 2, None, "never")
    figures = overview(client)
    assert figures["accounts-signed_in"] == "7"
    assert figures["accounts-active"] == "< 5"
    add_accounts(db_session, 1, now - timedelta(days=29), "edge")
    assert overview(client)["accounts-active"] == "5"


def test_exports_are_counted_per_month(client: Any, db_session: Session) -> None:
    now = utcnow()
    for _ in range(6):
        audit.record(db_session, "export.downloaded").created_at = now
    for _ in range(2):
        audit.record(db_session, "export.downloaded").created_at = now - timedelta(days=40)
    audit.record(db_session, "login.succeeded").created_at = now
    db_session.commit()
    rows = monthly_rows(client)
    assert len(rows) == 12
    assert rows[0][1] == "6"  # this month, newest first
    assert all(row[1] == "< 5" for row in rows[1:])
    assert now.strftime("%Y") in rows[0][0]


def test_a_feature_can_add_its_own_figures(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    now = utcnow()
    register_statistic(
        app,
        Statistic(
            key="example.tickets",
            label=_l("Support tickets opened"),
            kind="monthly",
            compute=lambda session, window: [now] * 7 + [window.start - timedelta(days=1)],
        ),
    )
    register_statistic(
        app,
        Statistic(
            key="tickets.first_response",
            label=_l("Median time to a first staff answer"),
            kind="median",
            compute=lambda session, window: [timedelta(hours=h) for h in (1, 2, 3, 30, 50)],
        ),
    )
    register_statistic(
        app,
        Statistic(
            key="deletions.duration",
            label=_l("Median time to process a deletion"),
            kind="median",
            compute=lambda session, window: [timedelta(days=2)] * 4,
        ),
    )
    register_statistic(
        app,
        Statistic(
            key="example.incidents",
            label=_l("Incidents"),
            kind="monthly",
            compute=lambda session, window: [now] * 2,
            hide_small_counts=False,
        ),
    )
    client = app.test_client()
    figures = overview(client)
    assert figures["tickets-first_response"] == "3 hours"
    assert figures["deletions-duration"] == "Not enough cases yet"
    body = client.get("/stats", headers=EN).get_data(as_text=True)
    assert "Support tickets opened" in body
    this_month = monthly_rows(client)[0]
    assert this_month[-2:] == ["7", "2"]  # tickets (hidden when small), incidents (never hidden)
    assert monthly_rows(client)[1][-2:] == ["< 5", "0"]


def test_a_statistic_cannot_be_registered_twice(app: Flask) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register_statistic(
            app,
            Statistic(key="accounts.active", label="x", kind="total", compute=lambda s, w: 0),
        )


def test_months_follow_the_hoster_time_zone() -> None:
    # 23:30 UTC on 31 January is already 1 February in Paris.
    now = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    window = make_window(now, "Europe/Paris")
    assert window.months[-1] == (2025, 2)
    assert window.months[0] == (2024, 3)
    assert window.start == datetime(2024, 2, 29, 23, 0, tzinfo=UTC)
    assert window.month_of(now) == (2025, 2)
