"""Pages benchmark: `/`, `/support` (signed in) and `/hosting` against a Flask hello world.

Run by hand (not by CI), from the repository root, with PostgreSQL on loopback and `wrk`
installed (Debian: `apt-get install wrk`):

    .venv/bin/python bench/pages.py                       # 3 rounds of 5 s per page
    .venv/bin/python bench/pages.py --rounds 5 --seconds 10

One gunicorn instance of the panel (demo directory, PostgreSQL database `panel_pages`,
recreated) and one of a hello world, both with `gunicorn.conf.py`, 2 workers x 4 threads
(PANEL_WORKERS/PANEL_THREADS change that), recycling off. Each round loads
hello world, then each page, with `wrk -t2 -c8` (keep-alive); the ratio of a page is its
rate over hello world's in the same round. Prints the best and median ratio, the load
generator's share of the CPU, the load average, and the idle workers' resident memory
(at start, and after the rounds), with beside it each worker's and the master's RSS/PSS/USS
(`common.Memory` says what each counts). PANEL_PRELOAD=true measures the panel loaded once
in gunicorn's master.

Beside the rates, each round records the CPU seconds the workers of the serving instance
used (/proc), per request: the ratio of hello world's CPU per request to a page's does not
depend on how the neighbours share the machine, nor on how wrk's 8 keep-alive connections
fell between the 2 workers (all on one worker halves a page's rate for that round; the
rounds where one worker did over 80 % of the work are counted and shown).

The panel is served as `bench.floor_app:app`: the panel plus one benchmark-only page,
`/bench/signed-in-floor`, whose view does nothing but which runs every hook a signed-in page
runs (see `common.add_signed_in_floor`). Its ratio is the ceiling of any signed-in page's.
Goals (issue 22): `/` >= 0.25, `/support` >= 0.35, `/hosting` >= 0.5.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CPUS,
    FLOOR,
    HELLO,
    ROOT,
    Gunicorn,
    Load,
    best_median,
    cpu_seconds,
    generator_share,
    idle_memory_mib,
    idle_rss_mib,
    load_average,
    workers,
    wrk,
)
from load import TOKEN, Client, recreate_database

from app.cli import upgrade_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/panel_pages"
GOALS = {"/": 0.25, "/support": 0.35, "/hosting": 0.5}
FLOOR_NAME = "signed-in floor"
# A round where one worker did more than this share of the work: wrk's keep-alive
# connections all (or nearly all) went to one worker, whose one core then served them.
ONE_SIDED = 0.8


def loaded(
    server: Gunicorn, url: str, seconds: float, connections: int, headers: dict[str, str]
) -> tuple[Load, float, bool]:
    """wrk on one page; with it the serving workers' CPU milliseconds per request, and
    whether one worker did nearly all the work."""
    pids = workers(server.process.pid)
    before = [cpu_seconds(pid) for pid in pids]
    load = wrk(url, seconds, connections, headers)
    used = [cpu_seconds(pid) - start for pid, start in zip(pids, before, strict=True)]
    requests = load.rate * seconds
    per_request = 1000 * sum(used) / requests if requests else float("inf")
    one_sided = sum(used) > 0 and max(used) / sum(used) > ONE_SIDED
    return load, per_request, one_sided


def sign_in(base: str, login: str) -> str:
    client = Client(timeout=30)
    page = client.request(base, "/login")
    match = TOKEN.search(page.text)
    if not match:
        raise RuntimeError("no CSRF token on /login")
    form = {"login": login, "password": "demo", "csrf_token": match.group(1)}
    reply = client.request(base, "/login", form)
    if reply.status != 302:
        raise RuntimeError(f"sign-in as {login} answered {reply.status}")
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--database-url", default=os.environ.get("PANEL_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk")
        return 2
    work = Path(tempfile.mkdtemp(prefix="panel-pages-"))
    print(f"logs in {work}; load average at the start {load_average():.1f} on {CPUS} CPUs")
    recreate_database(args.database_url)
    upgrade_database(args.database_url)
    (work / "hello.py").write_text(HELLO)
    # The setting (2 workers x 4 threads), unless the environment says otherwise.
    common = {
        "PANEL_WORKERS": os.environ.get("PANEL_WORKERS", "2"),
        "PANEL_THREADS": os.environ.get("PANEL_THREADS", "4"),
    }
    panel_env = {
        **common,
        "PANEL_DATABASE_URL": args.database_url,
        "PANEL_SECRET_KEY": uuid.uuid4().hex,
        "PANEL_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
        "PANEL_LOGIN_LIMIT_PER_LOGIN": "100000 per minute",
    }
    hello = Gunicorn("hello:app", work, common, work / "hello.log")
    panel = Gunicorn("bench.floor_app:app", ROOT, panel_env, work / "panel.log")
    failed = False
    try:
        hello.wait_ready("/")
        panel.wait_ready("/healthz")
        time.sleep(1)  # every worker has imported the app
        rss = idle_rss_mib(panel.process.pid)
        memory = idle_memory_mib(panel.process.pid)
        hello_rss = idle_rss_mib(hello.process.pid)
        cookie = sign_in(panel.url, "alice")
        signed_in = {"Cookie": cookie, "Accept-Language": "fr"}
        anonymous = {"Accept-Language": "fr"}
        targets: dict[str, tuple[Gunicorn, str, dict[str, str]]] = {
            "hello world": (hello, hello.url + "/", anonymous),
            "/": (panel, panel.url + "/", signed_in),
            "/support": (panel, panel.url + "/support", signed_in),
            "/hosting": (panel, panel.url + "/hosting", anonymous),
            FLOOR_NAME: (panel, panel.url + FLOOR, signed_in),
        }
        for _, url, headers in targets.values():
            wrk(url, 1, 2, headers)  # warm up: first queries, caches, templates
        pages = [*GOALS, FLOOR_NAME]
        ratios: dict[str, list[float]] = {page: [] for page in pages}
        cpu_ms: dict[str, list[float]] = {name: [] for name in targets}
        one_sided: dict[str, int] = dict.fromkeys(targets, 0)
        loads: list[Load] = []
        for number in range(1, args.rounds + 1):
            rates = {}
            per_request = {}
            lopsided = {}
            for name, (server, url, headers) in targets.items():
                load, per_request[name], lopsided[name] = loaded(
                    server, url, args.seconds, args.connections, headers
                )
                loads.append(load)
                rates[name] = load.rate
                cpu_ms[name].append(per_request[name])
                one_sided[name] += lopsided[name]
                if load.errors:
                    print(f"  {name}: {load.errors} errors")
                    failed = True
            for page in pages:
                ratios[page].append(rates[page] / rates["hello world"])
            print(
                f"round {number}: "
                + ", ".join(
                    f"{name} {rate:.0f}/s ({per_request[name]:.2f} ms CPU"
                    + (", one worker" if lopsided[name] else "")
                    + ")"
                    for name, rate in rates.items()
                )
                + f"; load average {load_average():.1f}"
            )
        time.sleep(1)
        # Idle again, after thousands of requests: what a worker keeps between requests.
        rss_after = idle_rss_mib(panel.process.pid)
        memory_after = idle_memory_mib(panel.process.pid)
    finally:
        panel.stop()
        hello.stop()

    print(
        f"\n== {args.rounds} rounds, wrk -t2 -c{args.connections} -d{args.seconds:g}s per page,"
        f" gunicorn.conf.py with --max-requests 0 =="
    )
    for page, goal in GOALS.items():
        mark = "ok" if statistics.median(ratios[page]) >= goal else "below goal"
        print(f"{page:<10} / hello world: {best_median(ratios[page])}  goal {goal}  {mark}")
    print(
        f"{FLOOR_NAME} / hello world: {best_median(ratios[FLOOR_NAME])}"
        "  (the ceiling of any signed-in page)"
    )
    print("\nworkers' CPU per request, ms, best (median); hello world's over the page's:")
    for name, values in cpu_ms.items():
        # Round by round: hello world's CPU per request over the page's.
        cpu_ratios = [
            hello / page for hello, page in zip(cpu_ms["hello world"], values, strict=True)
        ]
        ratio = f"  ratio {best_median(cpu_ratios)}" if name in pages else ""
        sided = (
            f"  ({one_sided[name]} of {args.rounds} rounds on one worker)"
            if one_sided[name]
            else ""
        )
        print(f"{name:<16} {min(values):.3f} ({statistics.median(values):.3f}){ratio}{sided}")
    print(f"load generator (wrk): {generator_share(loads)}")
    every = [load.load_average for load in loads]
    print(f"load average during the rounds: {min(every):.1f}-{max(every):.1f} on {CPUS} CPUs")
    print(
        "idle worker RSS: panel "
        + ", ".join(f"{size:.0f}" for size in rss)
        + " MiB at start, "
        + ", ".join(f"{size:.0f}" for size in rss_after)
        + " MiB after the rounds; hello world "
        + ", ".join(f"{size:.0f}" for size in hello_rss)
        + " MiB"
    )
    for when, (master, each) in (("at start", memory), ("after the rounds", memory_after)):
        print(
            f"RSS/PSS/USS {when}: panel workers "
            + ", ".join(str(worker) for worker in each)
            + f" MiB, master {master} MiB"
            + (" (PANEL_PRELOAD)" if os.environ.get("PANEL_PRELOAD") == "true" else "")
        )
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
