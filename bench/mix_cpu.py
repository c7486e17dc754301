"""CPU time and database commands of each step of `load.py`'s mix, in one process.

    .venv/bin/python bench/mix_cpu.py --setup     # recreates panel_mix, 20 tickets for alice
    .venv/bin/python bench/mix_cpu.py             # then again, from each checkout's root

Flask's test client on PostgreSQL (PANEL_BENCH_DATABASE_URL, default `panel_mix`), as alice
for `/`, `/support`, the ticket form and its POST, as a visitor for the public pages. Prints,
per step, best (median) of 3 rounds of 100 requests in milliseconds, and the commands one
request sends to the database (statements, plus BEGIN and COMMIT as psycopg sends them).
The POST adds a ticket each time, so `/stats` and `/support` see more tickets every run.
Like `cpu_per_request.py`, it compares two versions of the code run minutes apart.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.getcwd()
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests"), os.path.join(ROOT, "bench")]

import psycopg  # noqa: E402
from sqlalchemy import event  # noqa: E402

from app import create_app  # noqa: E402
from helpers import do_login  # noqa: E402

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/panel_mix"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
HEADERS = {"Accept-Language": "fr"}
FORM = "/support/new?service=mail"


def count_commands(engine: Any) -> list[int]:
    """A counter of what reaches the server: statements, and BEGIN/COMMIT (psycopg sends
    those itself, SQLAlchemy's events do not see them)."""
    counted = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        counted[0] += 1

    real = psycopg.Connection.commit

    def commit(self: psycopg.Connection[Any]) -> None:
        if self.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            counted[0] += 2  # its BEGIN and this COMMIT
        real(self)

    psycopg.Connection.commit = commit  # type: ignore[method-assign]
    return counted


def run(step: Callable[[], None], alice: Any, name: str) -> float:
    """The CPU seconds of one step; after a ticket, its flash is shown (and forgotten) by
    another page, untimed, as load.py's next page would: it must not pile up."""
    start = time.process_time()
    step()
    spent = time.process_time() - start
    if name == "ticket POST":
        alice.get("/incidents", headers=HEADERS)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup", action="store_true", help="recreate the database first")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    url = os.environ.get("PANEL_BENCH_DATABASE_URL", DATABASE_URL)
    if args.setup:
        from load import recreate_database

        from app.cli import upgrade_database

        recreate_database(url)
        upgrade_database(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "RATELIMIT_STORAGE_URL": "memory://",
            "LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
            "LOGIN_LIMIT_PER_LOGIN": "100000 per minute",
        }
    )
    counted = count_commands(app.extensions["panel_db"].engine)
    alice = app.test_client()
    if do_login(alice, "alice", "demo").status_code != 302:
        raise SystemExit("sign-in as alice failed")
    visitor = app.test_client()
    created = [0]
    token: list[str] = []

    def open_ticket() -> None:
        if not token:
            found = TOKEN.search(alice.get(FORM, headers=HEADERS).get_data(as_text=True))
            if found is None:
                raise SystemExit("no CSRF token on the ticket form")
            token.append(found.group(1))
        created[0] += 1
        form = {
            "csrf_token": token[0],
            "subject": f"mix {created[0]}",
            "service": "mail",
            "category": "problem",
            "body": "Cannot send mail since this morning.",
        }
        if alice.post("/support/new", data=form, headers=HEADERS).status_code != 302:
            raise SystemExit("ticket creation failed")

    def page(client_of: Callable[[], Any], path: str) -> Callable[[], None]:
        def fetch() -> None:
            if client_of().get(path, headers=HEADERS).status_code != 200:
                raise SystemExit(f"{path} did not answer 200")

        return fetch

    if args.setup:
        for _ in range(20):
            open_ticket()
    steps: dict[str, Callable[[], None]] = {
        "/": page(lambda: alice, "/"),
        "/support": page(lambda: alice, "/support"),
        "ticket form": page(lambda: alice, FORM),
        "ticket POST": open_ticket,
        # A visitor's first page, as load.py fetches the public pages: no session cookie.
        "/login": page(app.test_client, "/login"),
        "/stats": page(lambda: visitor, "/stats"),
        "/transparency": page(lambda: visitor, "/transparency"),
        "/incidents": page(lambda: visitor, "/incidents"),
        "/hosting": page(app.test_client, "/hosting"),
    }
    for name, step in steps.items():
        for _ in range(10):  # warm up
            run(step, alice, name)
        counted[0] = 0
        step()
        commands = counted[0]
        rounds = [
            sum(run(step, alice, name) for _ in range(args.requests)) * 1000 / args.requests
            for _ in range(3)
        ]
        print(
            f"{name:<14} {min(rounds):6.2f} ({statistics.median(rounds):6.2f}) ms,"
            f" {commands} commands"
        )
    print(f"{ROOT}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
