"""Load benchmark: 50 clients against two gunicorn instances of the panel on PostgreSQL.

Run by hand (not by CI), from the repository root, with PostgreSQL and Redis on loopback:

    .venv/bin/python bench/load.py                      # 50 clients, 120 s, + 20 s baseline
    .venv/bin/python bench/load.py --duration 20 --clients 10     # quick try
    PANEL_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/load.py

What it does:

1. drops and creates the database (default `panel_load` on 127.0.0.1:5432), migrates it;
2. starts two gunicorn instances (`gunicorn -c gunicorn.conf.py wsgi:app`, 2 workers each)
   in demo mode, sharing the secret key, the database and Redis (login throttling);
3. as a baseline, serves a Flask hello-world the same way (two instances, same gunicorn
   settings, same client count) for --baseline seconds;
4. drives the panel from --clients threads for --duration seconds. Each client signs in
   once (demo users alice, zoe, bob, camille; password "demo"), then loops over a mix of
   public pages (fetched without the session cookie), the account overview `/`, the
   ticket list `/support` and ticket creation (form, then POST), alternating between the
   two instances request by request, with a new connection per request (as nginx does
   towards its upstream by default);
5. prints requests, throughput, p50/p99 latency overall and per kind, status codes, and
   checks the database: every ticket whose creation was acknowledged (302 to the ticket)
   must be there, and no ticket may lack its first message.

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
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli import upgrade_database  # noqa: E402
from app.support.models import Ticket, TicketMessage  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/panel_load"
REDIS_URL = "redis://127.0.0.1:6379/13"
GUNICORN = Path(sys.executable).with_name("gunicorn")
USERS = ("alice", "zoe", "bob", "camille")
PUBLIC_PAGES = ("/login", "/incidents", "/hosting", "/services", "/stats", "/transparency")
# Share of each step of a client's loop (ticket creation is two requests: form, then POST).
MIX = (("public", 35), ("overview", 25), ("tickets", 25), ("create", 15))
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TICKET_URL = re.compile(r"/support/\d+$")
HELLO = textwrap.dedent(
    """
    from flask import Flask

    app = Flask(__name__)


    @app.get("/")
    def hello():
        return "Hello, world!"
    """
)


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, path: str, timeout: float = 60) -> None:
    """Until a worker answers (the master binds the port before workers import the app)."""
    host, port = base.removeprefix("http://").split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base}{path} did not answer within {timeout} s")


class Server:
    """One gunicorn instance; output to a file (an undrained pipe would block workers)."""

    def __init__(self, app: str, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), app],
                cwd=cwd,
                env={**os.environ, **env, "PANEL_BIND": f"127.0.0.1:{self.port}"},
                stdout=output,
                stderr=output,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


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
    parser.add_argument("--duration", type=float, default=120, help="seconds of panel load")
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
    print(f"logs and attachments in {workdir}")
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

    servers: list[Server] = []
    try:
        # Baseline first, alone on the machine, then stopped before the panel starts.
        hello = [Server("hello:app", workdir, common, workdir / f"hello-{n}.log") for n in range(2)]
        servers += hello
        for server in hello:
            wait_ready(server.url, "/")
        bases = [server.url for server in hello]
        base_results, base_elapsed = drive(
            hello_client, lambda n: (bases, args.timeout), args.clients, args.baseline
        )
        for server in hello:
            server.stop()

        panel = [Server("wsgi:app", ROOT, panel_env, workdir / f"panel-{n}.log") for n in range(2)]
        servers += panel
        for server in panel:
            wait_ready(server.url, "/healthz")
        bases = [server.url for server in panel]
        run = uuid.uuid4().hex[:8]
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        results, elapsed = drive(
            panel_client,
            lambda n: (n, bases, run, args.timeout),
            args.clients,
            args.duration,
        )
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        for server in servers:
            server.stop()

    hello_rate = report(
        f"baseline: Flask hello-world, {args.clients} clients", base_results, base_elapsed
    )
    panel_rate = report(
        f"panel: {args.clients} clients, 2 instances x {args.workers} workers", results, elapsed
    )
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    print(f"\nload generator CPU: {client_cpu / elapsed * 100:.0f} % of one core")
    ratio = panel_rate / hello_rate if hello_rate else float("nan")
    print(f"panel / hello-world throughput: {ratio:.2f}")

    stored, missing, without_message = check_tickets(args.database_url, run, results.acknowledged)
    totals = status_totals(results)
    server_errors = sum(count for code, count in totals.items() if code.startswith("5"))
    connection_errors = totals.get("conn-error", 0)
    print(f"tickets acknowledged: {len(results.acknowledged)}, in the database: {stored}")
    print(f"lost tickets (acknowledged, not stored): {missing}")
    print(f"tickets without any message: {without_message}")
    print(f"5xx responses: {server_errors}, connection errors: {connection_errors}")
    for failure in results.failures[:10]:
        print(f"  {failure}")
    failed = server_errors or connection_errors or missing or without_message
    if results.failures and not failed:
        failed = 1  # e.g. a client could not sign in
    print("FAIL" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
