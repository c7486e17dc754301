"""CPU time per request in one process (Flask's test client) on PostgreSQL.

    .venv/bin/python bench/cpu_per_request.py      # after bench/pages.py made panel_pages

The CPU time a request costs this process moves much less with the machine's load than a
rate does, so it compares two versions of the code run minutes apart (run it from each
checkout's root). Prints best (median) of 3 rounds of 100 requests, in milliseconds.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

ROOT = os.getcwd()
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from app import create_app  # noqa: E402
from helpers import do_login  # noqa: E402

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/panel_pages"


def bench_app() -> Any:
    """The panel in this process on the benchmark's database, sign-in limits lifted."""
    return create_app(
        {
            "DATABASE_URL": os.environ.get("PANEL_BENCH_DATABASE_URL", DATABASE_URL),
            "SECRET_KEY": "bench",
            "RATELIMIT_STORAGE_URL": "memory://",
            "LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
            "LOGIN_LIMIT_PER_LOGIN": "100000 per minute",
        }
    )


def main() -> None:
    app = bench_app()
    signed_in = app.test_client()
    if do_login(signed_in, "alice", "demo").status_code != 302:
        raise SystemExit("sign-in as alice failed")
    visitor = app.test_client()
    headers = {"Accept-Language": "fr"}
    found = {}
    for path, client in (("/", signed_in), ("/support", signed_in), ("/hosting", visitor)):
        for _ in range(20):  # warm up
            if client.get(path, headers=headers).status_code != 200:
                raise SystemExit(f"{path} did not answer 200")
        rounds = []
        for _ in range(3):
            start = time.process_time()
            for _ in range(100):
                client.get(path, headers=headers)
            rounds.append((time.process_time() - start) * 10)  # ms per request
        found[path] = (min(rounds), statistics.median(rounds))
    figures = " ".join(f"{path}: {best:.2f} ({mid:.2f}) ms" for path, (best, mid) in found.items())
    print(f"{ROOT} {figures}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
