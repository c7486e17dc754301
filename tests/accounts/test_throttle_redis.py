"""Login throttling shared through Redis counts attempts across panel instances."""

from __future__ import annotations

import os
import socket
import uuid

from helpers import do_login, missing_tool

REDIS = os.environ.get("PANEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def test_throttling_counts_across_two_instances_sharing_redis(make_app):
    if not redis_reachable():
        missing_tool("no Redis on 127.0.0.1:6379: apt-get install redis-server")
    login = f"user-{uuid.uuid4().hex[:8]}"  # a fresh counter for every run
    settings = {"RATELIMIT_STORAGE_URL": REDIS, "LOGIN_LIMIT_PER_LOGIN": "3 per minute"}
    first = make_app(**settings).test_client()
    second = make_app(**settings).test_client()
    assert do_login(first, login, "x").status_code == 422
    assert do_login(second, login, "x").status_code == 422
    assert do_login(first, login, "x").status_code == 422
    assert do_login(second, login, "x").status_code == 429
