"""The task queue: long work (deletion steps, mail, reading a mailbox) runs in a worker.

Built on Huey. Where the queue lives comes from PANEL_QUEUE_URL:

- unset: a SQLite file in instance/ (queue.sqlite3), enough for one machine and the demo;
- `redis://…` / `rediss://…`: Redis, for several panel instances;
- `sqlite:////path/queue.sqlite3`: a SQLite file elsewhere;
- `immediate`: no queue, a task runs at once in the caller (tests, and scripts that want it).

Features register their tasks at start-up with `register_task(app, name, function)`; the
function is called as `function(app, *args)` inside an application context, in the worker
(`flask worker`) or in the caller in immediate mode. Arguments must be plain values (ids,
strings): they are pickled into the queue, so never a Secret, a password or a model.

Results are not stored by the real queues (nobody reads them: the work writes its outcome
to the database); in immediate mode the caller gets the task's return value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.api import Result, TaskWrapper

import config as panel_config

log = logging.getLogger(__name__)

__all__ = ["crontab", "enqueue", "queue", "register_periodic_task", "register_task"]

QUEUE_NAME = "chatons-panel"
TaskFunction = Callable[..., Any]


def _make_queue(app: Flask) -> Huey:
    url = str(app.config.get("QUEUE_URL") or "").strip()
    # Several panels may share one Redis: each has its own queue name.
    name = str(app.config.get("QUEUE_NAME") or QUEUE_NAME)
    if url == "immediate" or (not url and app.testing):
        return MemoryHuey(name, immediate=True)
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        return SqliteHuey(
            name, filename=str(Path(app.instance_path) / "queue.sqlite3"), results=False
        )
    if urlsplit(url).scheme in ("redis", "rediss", "unix"):
        return RedisHuey(name, url=url, results=False)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        # As in SQLAlchemy URLs: sqlite:////abs/path, or sqlite:///relative/path.
        return SqliteHuey(name, filename=url[len("sqlite:///") :], results=False)
    raise panel_config.ConfigError(
        "PANEL_QUEUE_URL must be redis://host:6379/0, sqlite:////path/queue.sqlite3 or "
        "'immediate' (leave it unset for a SQLite file in instance/)."
    )


def queue(app: Flask) -> Huey:
    """This app's Huey instance, created on first use from PANEL_QUEUE_URL."""
    found: Huey | None = app.extensions.get("panel_queue")
    if found is None:
        found = _make_queue(app)
        app.extensions["panel_queue"] = found
        app.extensions["panel_tasks"] = {}
    return found


def is_immediate(app: Flask) -> bool:
    return bool(queue(app).immediate)


def _bind(app: Flask, name: str, function: TaskFunction) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        with app.app_context():
            return function(app, *args, **kwargs)

    run.__name__ = name.replace(".", "_").replace("-", "_")
    run.__qualname__ = run.__name__
    return run


def register_task(
    app: Flask, name: str, function: TaskFunction, *, retries: int = 0, retry_delay: int = 0
) -> TaskWrapper:
    """Make `function(app, *args)` runnable in the worker under a stable `name`."""
    wrapper = queue(app).task(name=name, retries=retries, retry_delay=retry_delay)(
        _bind(app, name, function)
    )
    app.extensions["panel_tasks"][name] = wrapper
    return wrapper


def register_periodic_task(
    app: Flask, name: str, function: TaskFunction, schedule: crontab
) -> TaskWrapper:
    """Run `function(app)` on a schedule while a worker runs (e.g. crontab(minute="*/5"))."""
    wrapper = queue(app).periodic_task(schedule, name=name)(_bind(app, name, function))
    app.extensions["panel_tasks"][name] = wrapper
    return wrapper


def enqueue(app: Flask, name: str, *args: Any, **kwargs: Any) -> Result | None:
    """Queue a registered task; in immediate mode it has already run when this returns."""
    queue(app)
    wrapper: TaskWrapper = app.extensions["panel_tasks"][name]
    result: Result | None = wrapper(*args, **kwargs)
    return result


def describe(app: Flask) -> str:
    """Where the queue lives, without any password of its URL (for logs and `flask doctor`)."""
    url = str(app.config.get("QUEUE_URL") or "")
    huey = queue(app)
    if huey.immediate:
        return "immediate (tasks run in the caller)"
    if isinstance(huey, RedisHuey):
        parts = urlsplit(url)
        return f"Redis at {parts.hostname}:{parts.port or 6379}"
    return f"SQLite file {getattr(huey.storage, 'filename', '?')}"


def pending(app: Flask) -> int:
    """How many tasks wait for a worker (0 in immediate mode)."""
    huey = queue(app)
    return 0 if huey.immediate else int(huey.pending_count())


def init_app(app: Flask) -> None:
    app.config.setdefault("QUEUE_URL", None)
    app.config.setdefault("QUEUE_NAME", QUEUE_NAME)
    app.config.setdefault("QUEUE_WORKERS", 2)
    queue(app)

    @app.cli.command(
        "worker",
        help="Run the task worker (deletion steps and other long work) until stopped. "
        "Start it next to the web server, e.g. with the systemd unit of docs/deployment.md.",
    )
    @click.option("--workers", type=int, default=None, help="Tasks run at the same time.")
    def worker(workers: int | None) -> None:
        huey = queue(app)
        if huey.immediate:
            raise click.ClickException(
                "PANEL_QUEUE_URL is 'immediate': tasks run in the web process, no worker needed."
            )
        if not logging.getLogger().handlers:
            # Huey reports each task (its name and id; arguments are plain ids) at INFO.
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
        count = workers or int(app.config["QUEUE_WORKERS"])
        click.echo(
            f"worker: {describe(app)}, {count} thread(s); tasks: "
            + ", ".join(sorted(app.extensions["panel_tasks"]))
        )
        consumer = huey.create_consumer(workers=count, worker_type="thread", periodic=True)
        consumer.run()
