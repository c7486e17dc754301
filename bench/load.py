"""Load benchmark: 50 clients against two gunicorn instances of the panel on PostgreSQL.

Run by hand (not by CI), from the repository root, with PostgreSQL and Redis on loopback:

    .venv/bin/python bench/load.py              # 3 rounds: 20 s hello world, 60 s panel
    .venv/bin/python bench/load.py --rounds 1 --duration 20 --clients 10     # quick try
    PANEL_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/load.py

What it does:

1. drops and creates the database (default `panel_load` on 127.0.0.1:5432), migrates it;
2. starts two gunicorn instances (`gunicorn -c gunicorn.conf.py wsgi:app`, 2 workers each)
   in demo mode, sharing the secret key, the database and Redis (login throttling), and
   two of a Flask hello-world the same way; worker recycling off (`common.Gunicorn`);
3. each round (--rounds, at least 3 for a figure), as a baseline, drives hello world with
   the same client count for --baseline seconds, then
4. drives the panel from --clients threads for --duration seconds. Each client signs in
   once (demo users alice, zoe, bob, camille; password "demo"), then loops over a mix of
   public pages (fetched without the session cookie), the account overview `/`, the
   ticket list `/support` and ticket creation (form, then POST), alternating between the
   two instances request by request, with a new connection per request (as nginx does
   towards its upstream by default);
5. prints requests, throughput, p50/p99 latency overall and per kind, status codes, and
   the round's ratio to hello world; at the end the best and median ratio and p50, the
   load generator's share of the CPU, the load average and the idle workers' memory; and
   checks the database after each round: every ticket whose creation was acknowledged
   (302 to the ticket) must be there, and no ticket may lack its first message.

Exits 1 on any 5xx, connection error, lost ticket or ticket without message.
gunicorn logs go to files in a temporary folder, whose path is printed.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import math
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    CPUS,
    GUNICORN,
    HELLO,
    ROOT,
    Gunicorn,
    best_median,
    idle_memory_mib,
    idle_rss_mib,
    load_average,
)

sys.path.insert(0, str(ROOT))

from app.cli import upgrade_database
from app.support.models import Ticket, TicketMessage

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/panel_load"
REDIS_URL = "redis://127.0.0.1:6379/13"
USERS = ("alice", "zoe", "bob", "camille")
PUBLIC_PAGES = ("/login", "/incidents", "/hosting", "/services", "/stats", "/transparency")
# Share of each step of a client's loop (ticket creation is two requests: form, then POST).
MIX = (("public", 35), ("overview", 25), ("tickets", 25), ("create", 15))
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TICKET_URL = re.compile(r"/support/\d+$")


# --- servers -------------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    parsed = make_url(url)
    libpq = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


# --- client --------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    text: str
    location: str


class Client:
    """A browser: one cookie jar, a new connection per request, no redirect following."""

    def __init__(self, timeout: float) -> None:
        self.cookies: dict[str, str] = {}
        self.timeout = timeout

    def request(
        self, base: str, path: str, form: dict[str, str] | None = None, anonymous: bool = False
    ) -> Reply:
        host, port = base.removeprefix("http://").split(":")
        headers = {"Accept-Language": "fr", "Connection": "close"}
        if self.cookies and not anonymous:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
        try:
            conn.request("POST" if form is not None else "GET", path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                if not anonymous:
                    self.remember(header)
            return Reply(response.status, text, response.headers.get("Location", ""))
        finally:
            conn.close()

    def remember(self, header: str) -> None:
        jar = http.cookies.SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            gone = morsel["max-age"] == "0" or not morsel.value
            if gone:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    acknowledged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float, status: str) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1


def timed(
    results: Results,
    kind: str,
    client: Client,
    base: str,
    path: str,
    form: dict[str, str] | None = None,
    anonymous: bool = False,
) -> Reply | None:
    start = time.perf_counter()
    try:
        reply = client.request(base, path, form, anonymous)
    except (OSError, http.client.HTTPException) as error:
        results.add(kind, time.perf_counter() - start, "conn-error")
        with results.lock:
            results.failures.append(f"{kind} {base}{path}: {error!r}")
        return None
    results.add(kind, time.perf_counter() - start, str(reply.status))
    if reply.status >= 500:
        with results.lock:
            results.failures.append(f"{kind} {base}{path}: {reply.status}")
    return reply


def panel_client(
    number: int, bases: list[str], run: str, timeout: float, deadline: float, results: Results
) -> None:
    rng = random.Random(number)
    client = Client(timeout)
    login = USERS[number % len(USERS)]
    turn = number  # which instance the next request goes to

    def base() -> str:
        nonlocal turn
        turn += 1
        return bases[turn % len(bases)]

    page = timed(results, "login", client, base(), "/login")
    match = TOKEN.search(page.text) if page else None
    reply = None
    if match:
        form = {"login": login, "password": "demo", "csrf_token": match.group(1)}
        reply = timed(results, "login", client, base(), "/login", form)
    if reply is None or reply.status != 302:
        with results.lock:
            results.failures.append(f"client {number}: sign-in as {login} failed")
        return
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    created = 0
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        if kind == "public":
            # As a visitor would see them: without the session cookie.
            timed(results, "public", client, base(), rng.choice(PUBLIC_PAGES), anonymous=True)
        elif kind == "overview":
            timed(results, "overview", client, base(), "/")
        elif kind == "tickets":
            timed(results, "tickets", client, base(), "/support")
        else:
            page = timed(results, "ticket form", client, base(), "/support/new?service=mail")
            match = TOKEN.search(page.text) if page and page.status == 200 else None
            if not match:
                continue
            created += 1
            subject = f"load {run} {number} {created}"
            form = {
                "csrf_token": match.group(1),
                "subject": subject,
                "service": "mail",
                "category": "problem",
                "body": f"Client {number} cannot send mail since this morning (try {created}).",
            }
            reply = timed(results, "ticket create", client, base(), "/support/new", form)
            if reply and reply.status == 302 and TICKET_URL.search(reply.location):
                with results.lock:
                    results.acknowledged.append(subject)


def hello_client(bases: list[str], timeout: float, deadline: float, results: Results) -> None:
    client = Client(timeout)
    turn = 0
    while time.monotonic() < deadline:
        turn += 1
        timed(results, "hello", client, bases[turn % len(bases)], "/")


def drive(
    target: Callable[..., None],
    args_for: Callable[[int], tuple[object, ...]],
    clients: int,
    duration: float,
) -> tuple[Results, float]:
    results = Results()
    deadline = time.monotonic() + duration
    threads = [
        threading.Thread(target=target, args=(*args_for(n), deadline, results), daemon=True)
        for n in range(clients)
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - start


# --- report --------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(share * len(ordered)) - 1)  # nearest rank
    return ordered[index]


def report(title: str, results: Results, elapsed: float) -> float:
    every = [value for values in results.latencies.values() for value in values]
    total = len(every)
    throughput = total / elapsed if elapsed else 0.0
    print(f"\n== {title}: {total} requests in {elapsed:.1f} s = {throughput:.1f} req/s")
    print(f"{'kind':<14}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses")
    rows = [*sorted(results.latencies.items()), ("all", every)]
    for kind, values in rows:
        if not values:
            continue
        statuses = results.statuses[kind] if kind != "all" else status_totals(results)
        print(
            f"{kind:<14}{len(values):>9}{percentile(values, 0.50) * 1000:>9.1f}"
            f"{percentile(values, 0.99) * 1000:>9.1f}{max(values) * 1000:>9.1f}  "
            + " ".join(f"{code}:{count}" for code, count in sorted(statuses.items()))
        )
    return throughput


def status_totals(results: Results) -> Counter[str]:
    totals: Counter[str] = Counter()
    for counter in results.statuses.values():
        totals.update(counter)
    return totals


def check_tickets(url: str, run: str, acknowledged: list[str]) -> tuple[int, int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = set(
                conn.scalars(select(Ticket.subject).where(Ticket.subject.like(f"load {run} %")))
            )
            without_message = conn.scalar(
                select(func.count())
                .select_from(Ticket)
                .where(
                    ~select(TicketMessage.id).where(TicketMessage.ticket_id == Ticket.id).exists()
                )
            )
    finally:
        engine.dispose()
    missing = len(set(acknowledged) - stored)
    return len(stored), missing, int(without_message or 0)


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="baseline, then panel, each round")
    parser.add_argument("--duration", type=float, default=60, help="seconds of panel load")
    parser.add_argument("--baseline", type=float, default=20, help="seconds of hello-world")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--timeout", type=float, default=30, help="client timeout, seconds")
    parser.add_argument(
        "--database-url", default=os.environ.get("PANEL_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    args = parser.parse_args()
    if not GUNICORN.exists():
        print(f"gunicorn is missing next to {sys.executable} (run `make translations`)")
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="panel-load-"))
    print(f"logs and attachments in {workdir}; load average {load_average():.1f} on {CPUS} CPUs")
    recreate_database(args.database_url)
    upgrade_database(args.database_url)
    common = {"PANEL_WORKERS": str(args.workers)}
    secret = uuid.uuid4().hex
    panel_env = {
        **common,
        "PANEL_DATABASE_URL": args.database_url,
        "PANEL_SECRET_KEY": secret,
        "PANEL_RATELIMIT_STORAGE_URL": REDIS_URL,
        "PANEL_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
        "PANEL_LOGIN_LIMIT_PER_LOGIN": "100000 per minute",
        "PANEL_SUPPORT_ATTACHMENT_DIR": str(workdir / "attachments"),
    }
    (workdir / "hello.py").write_text(HELLO)

    servers: list[Gunicorn] = []
    ratios: list[float] = []
    medians: list[float] = []
    shares: list[float] = []
    averages: list[float] = []
    failed = False
    base_run = uuid.uuid4().hex[:8]
    try:
        # Both set up once, with worker recycling off (common.Gunicorn); idle while the
        # other one is loaded.
        hello = [
            Gunicorn("hello:app", workdir, common, workdir / f"hello-{n}.log") for n in range(2)
        ]
        panel = [
            Gunicorn("wsgi:app", ROOT, panel_env, workdir / f"panel-{n}.log") for n in range(2)
        ]
        servers = [*hello, *panel]
        for server in hello:
            server.wait_ready("/")
        for server in panel:
            server.wait_ready("/healthz")
        rss = [size for server in panel for size in idle_rss_mib(server.process.pid)]
        memory = [idle_memory_mib(server.process.pid) for server in panel]
        hello_bases = [server.url for server in hello]
        panel_bases = [server.url for server in panel]
        for number in range(1, args.rounds + 1):
            base_results, base_elapsed = drive(
                hello_client, lambda n: (hello_bases, args.timeout), args.clients, args.baseline
            )
            run = f"{base_run}r{number}"
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            results, elapsed = drive(
                panel_client,
                lambda n, run=run: (n, panel_bases, run, args.timeout),  # type: ignore[misc]
                args.clients,
                args.duration,
            )
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            averages.append(load_average())
            hello_rate = report(
                f"round {number} baseline: Flask hello-world, {args.clients} clients",
                base_results,
                base_elapsed,
            )
            panel_rate = report(
                f"round {number} panel: {args.clients} clients, 2 instances x {args.workers}"
                " workers",
                results,
                elapsed,
            )
            client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
                cpu_after.ru_stime - cpu_before.ru_stime
            )
            shares.append(client_cpu / elapsed / CPUS)
            ratios.append(panel_rate / hello_rate if hello_rate else float("nan"))
            every = [value for values in results.latencies.values() for value in values]
            medians.append(percentile(every, 0.50) * 1000 if every else float("nan"))
            print(
                f"round {number}: panel / hello-world {ratios[-1]:.3f}, p50 {medians[-1]:.0f} ms,"
                f" load average {averages[-1]:.1f}"
            )
            failed = check_round(args.database_url, run, results) or failed
    finally:
        for server in servers:
            server.stop()

    print(
        f"\n== {args.rounds} rounds of {args.baseline:g} s hello world then {args.duration:g} s"
        f" panel, {args.clients} clients, gunicorn.conf.py with --max-requests 0 =="
    )
    print(f"panel / hello-world throughput: {best_median(ratios)}  goal 0.25")
    print(
        f"panel p50: best {min(medians):.0f} ms (median {statistics.median(medians):.0f} ms)"
        "  goal 50 ms"
    )
    print(
        f"load generator CPU: {statistics.median(shares):.1%} of the machine's {CPUS} CPUs (median)"
    )
    print(f"load average during the rounds: {min(averages):.1f}-{max(averages):.1f}")
    print("idle worker RSS: " + ", ".join(f"{size:.0f}" for size in rss) + " MiB")
    for number, (master, workers) in enumerate(memory, 1):
        print(
            f"instance {number} RSS/PSS/USS at start: workers "
            + ", ".join(str(worker) for worker in workers)
            + f" MiB, master {master} MiB"
        )
    print("FAIL" if failed else "OK")
    return 1 if failed else 0


def check_round(url: str, run: str, results: Results) -> bool:
    """Nothing lost: every acknowledged ticket stored with its message, no 5xx, no error."""
    stored, missing, without_message = check_tickets(url, run, results.acknowledged)
    totals = status_totals(results)
    server_errors = sum(count for code, count in totals.items() if code.startswith("5"))
    connection_errors = totals.get("conn-error", 0)
    print(
        f"tickets acknowledged: {len(results.acknowledged)}, in the database: {stored}, "
        f"lost: {missing}, without any message: {without_message}; "
        f"5xx responses: {server_errors}, connection errors: {connection_errors}"
    )
    for failure in results.failures[:10]:
        print(f"  {failure}")
    return bool(
        server_errors or connection_errors or missing or without_message or results.failures
    )


if __name__ == "__main__":
    sys.exit(main())
