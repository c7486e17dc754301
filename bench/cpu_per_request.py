"""CPU time per request in one process (Flask's test client) on PostgreSQL.

    .venv/bin/python bench/cpu_per_request.py      # after bench/pages.py made panel_pages

The CPU time a request costs this process moves much less with the machine's load than a
rate does, so it compares two versions of the code run minutes apart (run it from each
checkout's root). Prints best (median) of 3 rounds of 100 requests, in milliseconds.
"""
import os
import statistics
import sys
import time

root = os.getcwd()
sys.path.insert(0, root); sys.path.insert(0, os.path.join(root, "tests"))
from app import create_app

app = create_app({"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/panel_pages", "SECRET_KEY": "x", "RATELIMIT_STORAGE_URL": "memory://", "LOGIN_LIMIT_PER_ADDRESS": "100000 per minute", "LOGIN_LIMIT_PER_LOGIN": "100000 per minute"})
from helpers import do_login

signed = app.test_client(); assert do_login(signed, "alice", "demo").status_code == 302
anon = app.test_client()
out = {}
for path, c in (("/", signed), ("/support", signed), ("/hosting", anon)):
    for _ in range(20): assert c.get(path, headers={"Accept-Language": "fr"}).status_code == 200
    rounds = []
    for _ in range(3):
        t = time.process_time()
        for _ in range(100): c.get(path, headers={"Accept-Language": "fr"})
        rounds.append((time.process_time() - t) * 10)
    out[path] = (min(rounds), statistics.median(rounds))
print(root, " ".join(f"{p}: {b:.2f} ({m:.2f}) ms" for p, (b, m) in out.items()), f"load {os.getloadavg()[0]:.1f}")
