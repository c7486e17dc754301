"""A worker killed (SIGKILL) while tickets are being created loses no acknowledged ticket."""

from __future__ import annotations

import os
import signal
import threading
import time
from http.client import HTTPException
from pathlib import Path

import pytest
from http_client import Browser
from sqlalchemy import create_engine, func, select

from app.support.models import Ticket, TicketMessage

pytestmark = pytest.mark.slow


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()]


problems: list[str] = []


def create_tickets(
    base: str, login: str, stop: threading.Event, acknowledged: list[str], refused: list[int]
) -> None:
    browser = Browser()
    while not stop.is_set():  # a worker may be killed under our first sign-in too
        try:
            if browser.login(base, login).status == 302:
                break
        except (OSError, AssertionError) as exc:
            problems.append(f"login: {exc!r}"[:300])
        time.sleep(0.2)
    number = 0
    while not stop.is_set():
        number += 1
        subject = f"load {login} {number}"
        try:
            token = browser.token(f"{base}/support/new?service=mail")
            reply = browser.request(
                f"{base}/support/new",
                {
                    "csrf_token": token,
                    "subject": subject,
                    "service": "mail",
                    "category": "problem",
                    "body": "The mail service answers slowly since this morning.",
                },
            )
        except (OSError, HTTPException, AssertionError) as exc:
            # The connection died with the worker, even halfway through the answer
            # (IncompleteRead): not acknowledged.
            refused.append(-1)  # the connection died with the worker: not acknowledged
            problems.append(repr(exc)[:200])
            continue
        if reply.status == 302 and (reply.location or "").startswith("/support/"):
            acknowledged.append(subject)
        else:
            refused.append(reply.status)


# "true": the workers are forked from a master that loaded the panel (PANEL_PRELOAD), and
# each replacement of a killed worker is forked from it too.
@pytest.mark.parametrize("preload", ["false", "true"])
def test_killing_a_worker_during_ticket_creation_loses_nothing(
    start_instance, database_url, preload
):
    instance = start_instance(workers=2, PRELOAD=preload)
    stop = threading.Event()
    acknowledged: list[str] = []
    refused: list[int] = []
    threads = [
        threading.Thread(
            target=create_tickets, args=(instance.url, login, stop, acknowledged, refused)
        )
        for login in ("alice", "zoe", "bob")
    ]
    for thread in threads:
        thread.start()
    killed = 0
    for _ in range(3):
        # Kill only once tickets are flowing again: on a slow machine a new worker takes
        # seconds to import the app, and killing it before it serves would prove nothing.
        served = len(acknowledged)
        deadline = time.monotonic() + 60
        while len(acknowledged) < served + 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = worker_pids(instance.process.pid)
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed += 1
    deadline = time.monotonic() + 60
    served = len(acknowledged)
    while len(acknowledged) < served + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert killed >= 2
    assert len(acknowledged) > 10, (len(acknowledged), refused[:20], problems[:5])
    assert all(status < 500 for status in refused), refused

    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = set(conn.scalars(select(Ticket.subject).where(Ticket.subject.like("load %"))))
        without_message = conn.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(~select(TicketMessage.id).where(TicketMessage.ticket_id == Ticket.id).exists())
        )
    engine.dispose()
    missing = set(acknowledged) - stored
    assert not missing, f"acknowledged but lost: {sorted(missing)[:5]}"
    assert without_message == 0, "a ticket was stored without its message (half-written)"
