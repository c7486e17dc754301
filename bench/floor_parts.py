"""Where the signed-in floor's CPU goes: the floor page in one process, each hook removed.

    .venv/bin/python bench/floor_parts.py      # after bench/pages.py made panel_pages

The signed-in floor (`common.add_signed_in_floor`) is the least a signed-in page costs. This
runs it through Flask's test client in one process (PostgreSQL, alice signed in), beside a
Flask hello world through the same test client, and again with each before- and
after-request hook of the panel taken out in turn (a measure, not a configuration: some of
those hooks are what keeps the panel safe). Rounds are interleaved; prints best (median)
CPU milliseconds per request, and what each hook costs (the floor minus the floor
without it, medians). What is left when no hook runs is the session's row with its account,
Flask-Login, the request's transaction and Flask's own request handling; the public floor
(the same empty page for a visitor without a session cookie, `common.PUBLIC_FLOOR`) runs
the hooks with no session to read.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.getcwd()
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests"), os.path.join(ROOT, "bench")]

from common import FLOOR, PUBLIC_FLOOR, add_signed_in_floor  # noqa: E402
from cpu_per_request import bench_app  # noqa: E402
from flask import Flask  # noqa: E402

from helpers import do_login  # noqa: E402

REQUESTS = 200
ROUNDS = 5


def name_of(hook: Any) -> str:
    target = getattr(hook, "func", hook)  # functools.partial (Flask-Limiter's)
    return str(getattr(target, "__qualname__", repr(target)))


def cpu_ms(get: Callable[[], Any]) -> float:
    start = time.process_time()
    for _ in range(REQUESTS):
        get()
    return (time.process_time() - start) * 1000 / REQUESTS


def main() -> None:
    app = add_signed_in_floor(bench_app())
    client = app.test_client()
    if do_login(client, "alice", "demo").status_code != 302:
        raise SystemExit("sign-in as alice failed")
    hello = Flask("hello")
    hello.get("/")(lambda: "Hello, world!")
    hello_client = hello.test_client()
    visitor = app.test_client()
    headers = {"Accept-Language": "fr"}
    before = app.before_request_funcs[None]
    after = app.after_request_funcs[None]
    variants: dict[str, tuple[list[Any], list[Any]]] = {"signed-in floor": (before, after)}
    for hook in before:
        variants[f"without before {name_of(hook)}"] = ([h for h in before if h is not hook], after)
    for hook in after:
        variants[f"without after {name_of(hook)}"] = (before, [h for h in after if h is not hook])
    variants["without any hook"] = ([], [])
    every_before, every_after = list(before), list(after)

    def floor() -> None:
        if client.get(FLOOR, headers=headers).status_code != 200:
            raise SystemExit(f"{FLOOR} did not answer 200")

    timings: dict[str, list[float]] = {
        name: [] for name in ["hello world", "public floor (a visitor)", *variants]
    }
    for _ in range(20):
        floor()
        hello_client.get("/")
    for _ in range(ROUNDS):
        timings["hello world"].append(cpu_ms(lambda: hello_client.get("/")))
        timings["public floor (a visitor)"].append(
            cpu_ms(lambda: visitor.get(PUBLIC_FLOOR, headers=headers))
        )
        for name, (hooks_before, hooks_after) in variants.items():
            app.before_request_funcs[None] = list(hooks_before)
            app.after_request_funcs[None] = list(hooks_after)
            floor()  # the first request of a variant is not timed
            timings[name].append(cpu_ms(floor))
        app.before_request_funcs[None] = list(every_before)
        app.after_request_funcs[None] = list(every_after)
    full = statistics.median(timings["signed-in floor"])
    print(f"CPU ms per request, best (median) of {ROUNDS} x {REQUESTS}, one process:")
    for name, values in timings.items():
        cost = ""
        if name.startswith("without"):
            cost = f"   its share: {full - statistics.median(values):+.3f} ms"
        print(f"{name:<58} {min(values):.3f} ({statistics.median(values):.3f}){cost}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
