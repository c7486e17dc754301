"""The task queue: work queued by one panel instance runs in the worker of another."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from app import tasks
from config import ConfigError
from helpers import missing_tool

REDIS = os.environ.get("PANEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def record(app, value: str) -> str:
    app.config.setdefault("RECORDED", []).append(value)
    return value


def drain(app) -> int:
    huey = tasks.queue(app)
    done = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        done += 1
    return done


def test_a_sqlite_queue_hands_work_from_the_web_app_to_the_worker(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    web, worker = make_app(QUEUE_URL=url), make_app(QUEUE_URL=url)
    for app in (web, worker):
        tasks.register_task(app, "test.record", record)
    tasks.enqueue(web, "test.record", "hello")
    assert "RECORDED" not in web.config  # not run in the request
    assert tasks.pending(web) == 1
    assert drain(worker) == 1
    assert worker.config["RECORDED"] == ["hello"]


def test_a_redis_queue_is_shared_by_instances(make_app):
    if not redis_reachable():
        missing_tool("no Redis on 127.0.0.1:6379: apt-get install redis-server")
    # A queue of its own: other test runs may share this Redis.
    settings = {"QUEUE_URL": REDIS, "QUEUE_NAME": f"panel-test-{uuid.uuid4().hex[:8]}"}
    web, worker = make_app(**settings), make_app(**settings)
    for app in (web, worker):
        tasks.register_task(app, "test.record", record)
    token = uuid.uuid4().hex
    tasks.enqueue(web, "test.record", token)
    assert drain(worker) == 1
    assert worker.config["RECORDED"] == [token]
    assert "Redis at 127.0.0.1:6379" in tasks.describe(web)
    tasks.queue(web).flush()


def test_a_bad_queue_url_is_refused_at_start(make_app):
    with pytest.raises(ConfigError, match="PANEL_QUEUE_URL"):
        make_app(QUEUE_URL="amqp://broker")
