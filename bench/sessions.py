"""Cost of server-side sessions on a signed-in page, against Flask's signed-cookie sessions.

    .venv/bin/python bench/sessions.py [--requests 400]

Same app, same SQLite database file, same signed-in page (/account/activity) through the
Flask test client, in one process: Flask's own signed-cookie session (the baseline, what the
panel did before), the database store, and the Redis store (when a server answers on
127.0.0.1:6379). Prints the median time per request and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask.sessions import SecureCookieSessionInterface  # noqa: E402

from app import create_app  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from helpers import do_login  # noqa: E402


def measure(app, requests: int) -> float:
    client = app.test_client()
    assert do_login(client, "alice", "demo").status_code == 302
    for _ in range(20):
        client.get("/account/activity")
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/account/activity")
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    url = f"sqlite:///{folder / 'panel.sqlite3'}"
    upgrade_database(url)
    base = {"SECRET_KEY": "bench", "DATABASE_URL": url, "RATELIMIT_STORAGE_URL": "memory://"}

    cookie_app = create_app(base)
    cookie_app.session_interface = SecureCookieSessionInterface()
    baseline = measure(cookie_app, args.requests)
    print(f"signed cookie (baseline): {baseline * 1000:.2f} ms per request")
    database = measure(create_app(base), args.requests)
    print(f"database store:           {database * 1000:.2f} ms  ({database / baseline:.2f} x)")
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/12", socket_connect_timeout=1).ping()
    except Exception:
        print("redis store:              skipped (no server on 127.0.0.1:6379)")
        return
    stored = measure(
        create_app({**base, "SESSION_STORE": "redis://127.0.0.1:6379/12"}), args.requests
    )
    print(f"redis store:              {stored * 1000:.2f} ms  ({stored / baseline:.2f} x)")


if __name__ == "__main__":
    main()
