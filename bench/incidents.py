"""Benchmark of /incidents against a Flask "hello world", both under gunicorn (2 workers).

    .venv/bin/python bench/incidents.py [--seconds 5] [--rounds 5] [--database-url URL]

Seeds 1,000 incidents and 10,000 updates (SQLite in a temporary folder unless
--database-url names an empty PostgreSQL database), serves the panel and a hello-world app
with gunicorn, loads both with `wrk` (apt-get install wrk) in the same run, and prints
requests/second and their ratio (target: the journal at >= 50 % of hello world). It also
counts the SQL statements of one /incidents page with 10 and with 1,000 incidents (they must
be equal) and of a page served from the fragment cache. Run by hand; CI never runs it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, insert, text  # noqa: E402

from app.cli import upgrade_database  # noqa: E402
from app.db import utcnow  # noqa: E402
from app.incidents.models import Incident, IncidentService, IncidentUpdate  # noqa: E402

HELLO = """from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
"""
SERVICES = ("mail", "cloud", "pad")


def seed(url: str, incidents: int, updates: int, rng: random.Random) -> None:
    """Resolved history over three years, a few open incidents and planned maintenance."""
    engine = create_engine(url)
    now = utcnow()
    per_incident = max(1, updates // incidents)
    incident_rows: list[dict[str, Any]] = []
    for n in range(incidents):
        started = now - timedelta(hours=26 * (incidents - n) + rng.randint(0, 20))
        if n >= incidents - 3:
            status, resolved = "monitoring", None
            started = now - timedelta(hours=n % 5 + 1)
        else:
            status, resolved = "resolved", started + timedelta(minutes=rng.randint(5, 600))
        incident_rows.append(
            {
                "id": n + 1,
                "title": f"Incident {n + 1}: {rng.choice(SERVICES)} trouble",
                "impact": rng.choice(("none", "minor", "major", "critical")),
                "status": status,
                "visibility": "users" if n % 10 == 0 else "public",
                "started_at": started,
                "resolved_at": resolved,
                "created_at": started,
                "changed_at": resolved or started,
                "postmortem": "A full disk. We now watch it." if n % 50 == 0 else None,
            }
        )
    service_rows = [
        {"incident_id": row["id"], "service_slug": slug}
        for row in incident_rows
        for slug in rng.sample(SERVICES, rng.randint(1, 2))
    ]
    update_rows = []
    for row in incident_rows:
        for k in range(per_incident):
            update_rows.append(
                {
                    "incident_id": row["id"],
                    "created_at": row["started_at"] + timedelta(minutes=k),
                    "status": "investigating" if k < per_incident - 1 else row["status"],
                    "body": f"Update {k}: **still** looking at the [logs](https://example.org).",
                    "source": "cli",
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(Incident), incident_rows)
        conn.execute(insert(IncidentService), service_rows)
        conn.execute(insert(IncidentUpdate), update_rows)
        start = now + timedelta(days=2)
        conn.execute(
            insert(Incident),
            [
                {
                    "id": incidents + 1,
                    "title": "Planned upgrade",
                    "impact": "maintenance",
                    "status": "scheduled",
                    "visibility": "public",
                    "scheduled_start": start,
                    "scheduled_end": start + timedelta(hours=2),
                    "created_at": now,
                    "changed_at": now,
                }
            ],
        )
        conn.execute(
            insert(IncidentService), [{"incident_id": incidents + 1, "service_slug": "pad"}]
        )
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('incident_id_seq', (SELECT max(id) FROM incident))"))
        total = conn.execute(text("SELECT count(*) FROM incident_update")).scalar()
    engine.dispose()
    print(f"seeded {incidents + 1} incidents and {total} updates")


def statements_per_page(url: str) -> tuple[int, int]:
    """SQL statements of one anonymous /incidents page: without cache, then from the cache."""
    from app import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    engine = app.extensions["panel_db"].engine
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    client = app.test_client()
    event.listen(engine, "before_cursor_execute", record)
    assert client.get("/incidents").status_code == 200
    miss = len(seen)
    seen.clear()
    assert client.get("/incidents").status_code == 200
    hit = len(seen)
    event.remove(engine, "before_cursor_execute", record)
    engine.dispose()
    return miss, hit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn(
    app_spec: str, chdir: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(chdir),
            "--log-level",
            "warning",
            app_spec,
        ],
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise SystemExit(f"gunicorn {app_spec} did not start")
    return process, f"http://127.0.0.1:{port}"


def wrk(url: str, seconds: int, connections: int) -> float:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"errors while loading {url}:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="bench-incidents-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        rng = random.Random(5)
        small_url = f"sqlite:///{work / 'small.sqlite3'}"
        upgrade_database(small_url)
        seed(small_url, 10, 100, rng)
        url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        upgrade_database(url)
        seed(url, 1000, 10_000, rng)
        small_miss, small_hit = statements_per_page(small_url)
        miss, hit = statements_per_page(url)

        (work / "hello.py").write_text(HELLO)
        panel_env = {
            "PANEL_DATABASE_URL": url,
            "PANEL_SECRET_KEY": "bench-secret",
            "PANEL_ENV": "demo",
        }
        hello, hello_url = gunicorn("hello:app", work, {})
        journal, journal_url = gunicorn("wsgi:app", ROOT, panel_env)
        uncached, uncached_url = gunicorn(
            "wsgi:app", ROOT, {**panel_env, "PANEL_INCIDENTS_CACHE_SECONDS": "0"}
        )
        processes += [hello, journal, uncached]
        targets = {
            "hello world": hello_url + "/",
            # The cheapest panel page (a constant), to show the stack's own per-request cost.
            "/theme.css (floor)": journal_url + "/theme.css",
            "/incidents": journal_url + "/incidents",
            "/incidents (no cache)": uncached_url + "/incidents",
        }
        for target in targets.values():
            wrk(target, 2, 2)  # warm up: imports, first queries, caches
        best: dict[str, float] = dict.fromkeys(targets, 0.0)
        ratios: list[float] = []
        for round_number in range(1, args.rounds + 1):
            rates = {
                name: wrk(target, args.seconds, args.connections)
                for name, target in targets.items()
            }
            for name, rate in rates.items():
                best[name] = max(best[name], rate)
            ratios.append(rates["/incidents"] / rates["hello world"])
            print(
                f"round {round_number}: "
                + ", ".join(f"{name} {rate:.0f}/s" for name, rate in rates.items())
                + f" -> ratio {ratios[-1]:.1%}"
            )

        print()
        print(
            f"== gunicorn 2 workers each, wrk -t2 -c{args.connections}, "
            f"{args.rounds} rounds of {args.seconds} s =="
        )
        for name, rate in best.items():
            print(f"{name:<22} best {rate:9.1f} requests/s")
        print(
            f"ratio /incidents : hello world — median of rounds {statistics.median(ratios):.1%}, "
            f"best of each {best['/incidents'] / best['hello world']:.1%} (target >= 50%)"
        )
        uncached_ratio = best["/incidents (no cache)"] / best["hello world"]
        print(f"ratio without the page cache (best of each) = {uncached_ratio:.1%}")
        floor = best["/theme.css (floor)"] / best["hello world"]
        print(f"ratio of the panel's cheapest page, /theme.css (best of each) = {floor:.1%}")
        print(
            f"SQL statements per /incidents page: {small_miss} with 11 incidents, "
            f"{miss} with 1,001 incidents (uncached); {small_hit} and {hit} from the cache"
        )
        if small_miss != miss or small_hit != hit:
            raise SystemExit("the number of statements grows with the history")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
