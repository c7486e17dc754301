"""Support benchmark: 100,000 tickets and 1,000,000 messages from 10,000 users on PostgreSQL.

Fills its own PostgreSQL database (dropped and created again unless --reuse), then serves
pages in-process through the Flask test client and prints, per page, the median time, the
ratio against a baseline page measured in the same run, and the number of SQL queries.
Targets (issue #6): median under 30 ms and at most 6 queries per page, whatever the size.

    .venv/bin/python bench/support.py                     # full size
    .venv/bin/python bench/support.py --tickets 2000      # quick try
    PANEL_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/support.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.cli import upgrade_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/panel_support_bench"
SERVICES = ("mail", "cloud", "pad", "other")
CATEGORIES = ("question", "problem", "account", "data_request", "other")
STAFF = 5
SEARCH_WORD = "quarantaine"  # planted in about 0.5 % of the tickets
RARE_WORD = "zeppelin"  # planted in 20 tickets


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size * 2)}
    words -= {SEARCH_WORD, RARE_WORD}
    return sorted(words)[:size]


def libpq(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    parsed = make_url(url)
    admin = libpq(url).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


def fill(url: str, *, users: int, tickets: int, messages: int, seed: int = 6) -> dict[str, Any]:
    """COPY the rows in; returns ids the measurements need."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY account (id, uid, dn, display_name, email, language, is_staff, created_at, "
            "last_directory_check_at) FROM STDIN"
        ) as copy:
            for i in range(1, users + STAFF + 1):
                staff = i > users
                uid = f"staff{i - users}" if staff else f"user{i}"
                copy.write_row(
                    (
                        i,
                        uid,
                        f"uid={uid},ou=people,dc=bench",
                        f"{'Staff' if staff else 'User'} {i}",
                        f"{uid}@bench.example",
                        "fr",
                        staff,
                        now - timedelta(days=800),
                        now,
                    )
                )
        staff_ids = list(range(users + 1, users + STAFF + 1))
        per_ticket = [1] * tickets
        for _ in range(messages - tickets):
            per_ticket[rng.randrange(tickets)] += 1
        search_tickets = set(rng.sample(range(1, tickets + 1), max(1, tickets // 200)))
        rare_tickets = set(rng.sample(range(1, tickets + 1), min(20, tickets)))
        busy_user = 1  # gets 40 tickets, to show the query count does not grow
        with cur.copy(
            "COPY ticket (id, account_id, subject, service, category, state, assignee_id, "
            "created_at, last_message_at, state_changed_at, closed_at) FROM STDIN"
        ) as copy:
            for tid in range(1, tickets + 1):
                roll = rng.random()
                state = (
                    "closed"
                    if roll < 0.85
                    else "new"
                    if roll < 0.90
                    else "waiting_staff"
                    if roll < 0.95
                    else "waiting_user"
                )
                created = now - timedelta(minutes=rng.randint(60, 730 * 24 * 60))
                changed = created + timedelta(minutes=rng.randint(0, 60 * 24 * 20))
                changed = min(changed, now)
                owner = busy_user if tid <= 40 else rng.randint(2, users)
                subject = " ".join(rng.choices(words, k=rng.randint(3, 8))).capitalize()
                if tid in rare_tickets:
                    subject += f" {RARE_WORD}"
                copy.write_row(
                    (
                        tid,
                        owner,
                        subject,
                        rng.choice(SERVICES),
                        rng.choice(CATEGORIES),
                        state,
                        rng.choice(staff_ids) if rng.random() < 0.5 else None,
                        created,
                        changed,
                        changed,
                        changed if state == "closed" else None,
                    )
                )
        mid = 0
        with cur.copy(
            "COPY ticket_message (id, ticket_id, author_id, from_staff, is_internal, body, "
            "created_at) FROM STDIN"
        ) as copy:
            for tid in range(1, tickets + 1):
                for n in range(per_ticket[tid - 1]):
                    mid += 1
                    from_staff = n % 2 == 1
                    body_words = rng.choices(words, k=rng.randint(8, 30))
                    if tid in search_tickets and n == 0:
                        body_words.insert(rng.randrange(len(body_words)), SEARCH_WORD)
                    copy.write_row(
                        (
                            mid,
                            tid,
                            rng.choice(staff_ids) if from_staff else None,
                            from_staff,
                            from_staff and rng.random() < 0.1,
                            " ".join(body_words),
                            now - timedelta(minutes=rng.randint(0, 730 * 24 * 60)),
                        )
                    )
        copied = time.perf_counter() - started
        print(f"  copied {users + STAFF} accounts, {tickets} tickets, {mid} messages", end="")
        print(f" in {copied:.0f} s; building the search documents…", flush=True)
        for table in ("account", "ticket", "ticket_message"):  # constants, not input
            sequence = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            cur.execute(sequence + f"(SELECT max(id) FROM {table}))")  # noqa: S608
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute(
            "UPDATE ticket SET search_vector = strip(to_tsvector('simple'::regconfig, "
            "ticket.subject || ' ' || m.bodies)) FROM (SELECT ticket_id, "
            "string_agg(body, ' ' ORDER BY id) AS bodies FROM ticket_message "
            "GROUP BY ticket_id) AS m WHERE m.ticket_id = ticket.id"
        )
        conn.commit()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
    return {"staff_id": users + 1, "busy_user": busy_user, "quiet_user": 2}


class QueryCounter:
    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.count += 1


def measure(app: Any, counter: QueryCounter, account_id: int, path: str, runs: int) -> tuple:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(account_id)
        session["_fresh"] = True
    for _ in range(5):  # warm caches, templates, prepared statements
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    timings = []
    cpu = []
    queries = set()
    for _ in range(runs):
        counter.count = 0
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200
        queries.add(counter.count)
    return statistics.median(timings), min(timings), statistics.median(cpu), sorted(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("PANEL_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=None, help="default: 10 per ticket")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="measure an already filled base")
    args = parser.parse_args()
    messages = args.messages or args.tickets * 10

    if args.reuse:
        ids = {"staff_id": args.users + 1, "busy_user": 1, "quiet_user": 2}
    else:
        print(f"Filling {make_url(args.url).database}…", flush=True)
        recreate_database(args.url)
        upgrade_database(args.url)
        ids = fill(args.url, users=args.users, tickets=args.tickets, messages=messages)

    app = create_app(
        {
            "DATABASE_URL": args.url,
            "SECRET_KEY": "bench",
            "TESTING": True,
            # Bench accounts are not in the demo directory: skip the periodic re-check.
            "DIRECTORY_RECHECK_SECONDS": 10**9,
        }
    )
    counter = QueryCounter(app.extensions["panel_db"].engine)
    staff, busy, quiet = ids["staff_id"], ids["busy_user"], ids["quiet_user"]
    pages = [
        ("baseline: account overview", quiet, "/"),
        ("staff queue, first page", staff, "/staff/tickets"),
        ("staff queue, filtered", staff, "/staff/tickets?service=cloud&assignee=none&page=2"),
        ("staff queue, all states", staff, "/staff/tickets?state=all"),
        ("search, ~0.5 % of tickets", staff, f"/staff/tickets?q={SEARCH_WORD}"),
        ("search, 20 tickets", staff, f"/staff/tickets?q={RARE_WORD}"),
        ("search, two words (AND)", staff, f"/staff/tickets?q={SEARCH_WORD}+{RARE_WORD}"),
        ("user's tickets (~10)", quiet, "/support"),
        ("user's tickets (40, page 2)", busy, "/support?page=2"),
    ]
    print(f"load average before measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(f"\n{'page':34} {'median':>8} {'min':>7} {'app CPU':>8} {'ratio':>6}  queries")
    baseline = None
    failures = []
    for label, account_id, path in pages:
        median, low, cpu, queries = measure(app, counter, account_id, path, args.runs)
        baseline = baseline or median
        print(
            f"{label:34} {median:7.1f}ms {low:6.1f}ms {cpu:7.1f}ms {median / baseline:5.1f}x"
            f"  {','.join(map(str, queries))}"
        )
        if not label.startswith("baseline") and (median >= 30 or max(queries) > 6):
            failures.append(label)
    print(f"load average after measuring: {os.getloadavg()[0]:.1f}")
    print(
        "\nTargets: median < 30 ms and <= 6 queries per page: "
        + ("met" if not failures else f"MISSED for {', '.join(failures)}")
    )


if __name__ == "__main__":
    main()
