"""The task queue: long work (deletion steps, mail, reading a mailbox) runs in a worker.

Built on Huey. Where the queue lives comes from PANEL_QUEUE_URL:

- unset: a SQLite file in instance/ (queue.sqlite3), enough for one machine and the demo;
- `redis://…` / `rediss://…`: Redis, for several panel instances;
- `sqlite:////path/queue.sqlite3`: a SQLite file elsewhere;
- `immediate`: no queue, a task runs at once in the caller (tests, and scripts that want it).

Features declare their tasks in their `Feature(tasks=...)` (app/features.py), which
registers them at start-up with `register_task(app, name, function)`; the function is
called as `function(app, *args)` inside an application context, in the worker (`flask
worker`) or in the caller in immediate mode. Arguments must be plain values (ids,
strings): they are pickled into the queue, so never a Secret, a password or a model.

Huey is imported and the queue opened on first use (the first task queued, or the worker):
its storage module pulls in redis and psycopg, which a web worker that never queues
anything need not load. Results are not stored by the real queues (the work writes its
outcome to the database); in immediate mode the caller gets the task's return value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from flask import Flask

import config as panel_config

if TYPE_CHECKING:
    from huey import Huey
    from huey.api import Result

log = logging.getLogger(__name__)

QUEUE_NAME = "chatons-panel"
TaskFunction = Callable[..., Any]

__all__ = ["crontab", "enqueue", "queue", "register_periodic_task", "register_task"]


@dataclass(frozen=True)
class crontab:
    """A schedule for register_periodic_task; fields as in cron (`crontab(minute="*/5")`).

    Named and used like huey.crontab, which it becomes when the queue opens."""

    minute: str = "*"
    hour: str = "*"
    day: str = "*"
    month: str = "*"
    day_of_week: str = "*"


@dataclass
class _Registry:
    """What features registered, and the queue once it is open."""

    tasks: dict[str, tuple[TaskFunction, dict[str, Any]]] = field(default_factory=dict)
    periodic: dict[str, tuple[TaskFunction, crontab | Callable[..., bool]]] = field(
        default_factory=dict
    )
    huey: Huey | None = None
    wrappers: dict[str, Any] = field(default_factory=dict)


def _registry(app: Flask) -> _Registry:
    found: _Registry | None = app.extensions.get("panel_tasks")
    if found is None:
        found = _Registry()
        app.extensions["panel_tasks"] = found
    return found


def _kind(app: Flask) -> str:
    """ "immediate", "sqlite" or "redis", refusing any other PANEL_QUEUE_URL at start."""
    url = str(app.config.get("QUEUE_URL") or "").strip()
    if url == "immediate" or (not url and app.testing):
        return "immediate"
    if not url or (url.startswith("sqlite:///") and len(url) > len("sqlite:///")):
        return "sqlite"
    if urlsplit(url).scheme in ("redis", "rediss", "unix"):
        return "redis"
    raise panel_config.ConfigError(
        "PANEL_QUEUE_URL must be redis://host:6379/0, sqlite:////path/queue.sqlite3 or "
        "'immediate' (leave it unset for a SQLite file in instance/)."
    )


def _open(app: Flask) -> Huey:
    # On first use (see the module's docstring): its storage pulls in redis and psycopg.
    from huey import MemoryHuey, RedisHuey, SqliteHuey

    url = str(app.config.get("QUEUE_URL") or "").strip()
    # Several panels may share one Redis: each has its own queue name.
    name = str(app.config.get("QUEUE_NAME") or QUEUE_NAME)
    kind = _kind(app)
    if kind == "immediate":
        return MemoryHuey(name, immediate=True)
    if kind == "redis":
        return RedisHuey(name, url=url, results=False)
    if url:
        # As in SQLAlchemy URLs: sqlite:////abs/path, or sqlite:///relative/path.
        return SqliteHuey(name, filename=url[len("sqlite:///") :], results=False)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(Path(app.instance_path) / "queue.sqlite3"), results=False)


def _bind(app: Flask, name: str, function: TaskFunction) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        with app.app_context():
            return function(app, *args, **kwargs)

    run.__name__ = name.replace(".", "_").replace("-", "_")
    run.__qualname__ = run.__name__
    return run


def queue(app: Flask) -> Huey:
    """This app's Huey instance, opened on first use with every registered task."""
    registry = _registry(app)
    if registry.huey is None:
        import huey as huey_api  # on first use, as in _open

        huey = _open(app)
        for name, (function, options) in registry.tasks.items():
            registry.wrappers[name] = huey.task(name=name, **options)(_bind(app, name, function))
        for name, (function, schedule) in registry.periodic.items():
            # huey.crontab(...) itself is accepted too (a function of the time).
            when = (
                huey_api.crontab(**asdict(schedule)) if isinstance(schedule, crontab) else schedule
            )
            registry.wrappers[name] = huey.periodic_task(when, name=name)(
                _bind(app, name, function)
            )
        registry.huey = huey
    return registry.huey


def forget_queue(app: Flask) -> None:
    """Open the queue again on next use: in a process forked from the one that opened it,
    its SQLite or Redis connections belong to that process."""
    registry = _registry(app)
    registry.huey = None
    registry.wrappers.clear()


def register_task(
    app: Flask, name: str, function: TaskFunction, *, retries: int = 0, retry_delay: int = 0
) -> None:
    """Make `function(app, *args)` runnable in the worker under a stable `name`."""
    registry = _registry(app)
    if registry.huey is not None:
        raise RuntimeError(f"task {name!r} registered after the queue was opened")
    registry.tasks[name] = (function, {"retries": retries, "retry_delay": retry_delay})


def register_periodic_task(
    app: Flask, name: str, function: TaskFunction, schedule: crontab | Callable[..., bool]
) -> None:
    """Run `function(app)` on a schedule while a worker runs (e.g. crontab(minute="*/5"))."""
    registry = _registry(app)
    if registry.huey is not None:
        raise RuntimeError(f"task {name!r} registered after the queue was opened")
    registry.periodic[name] = (function, schedule)


def enqueue(app: Flask, name: str, *args: Any, **kwargs: Any) -> Result | None:
    """Queue a registered task; in immediate mode it has already run when this returns."""
    queue(app)
    result: Result | None = _registry(app).wrappers[name](*args, **kwargs)
    return result


def is_immediate(app: Flask) -> bool:
    return _kind(app) == "immediate"


def describe(app: Flask) -> str:
    """Where the queue lives, without any password of its URL (for logs and `flask doctor`)."""
    kind = _kind(app)
    if kind == "immediate":
        return "immediate (tasks run in the caller)"
    if kind == "redis":
        parts = urlsplit(str(app.config["QUEUE_URL"]))
        return f"Redis at {parts.hostname}:{parts.port or 6379}"
    return f"SQLite file {getattr(queue(app).storage, 'filename', '?')}"


def pending(app: Flask) -> int:
    """How many tasks wait for a worker (0 in immediate mode)."""
    return 0 if is_immediate(app) else int(queue(app).pending_count())


def init_app(app: Flask) -> None:
    app.config.setdefault("QUEUE_URL", None)
    app.config.setdefault("QUEUE_NAME", QUEUE_NAME)
    app.config.setdefault("QUEUE_WORKERS", 2)
    _kind(app)  # a wrong PANEL_QUEUE_URL stops the start, before any task is queued
    # Features test for this key to know the app has a task queue (it opens on first use).
    app.extensions["panel_queue"] = _registry(app)

    @app.cli.command(
        "worker",
        help="Run the task worker (deletion steps and other long work) until stopped. "
        "Start it next to the web server, e.g. with the systemd unit of docs/deployment.md.",
    )
    @click.option("--workers", type=int, default=None, help="Tasks run at the same time.")
    def worker(workers: int | None) -> None:
        if is_immediate(app):
            raise click.ClickException(
                "PANEL_QUEUE_URL is 'immediate': tasks run in the web process, no worker needed."
            )
        if not logging.getLogger().handlers:
            # Huey reports each task (its name and id; arguments are plain ids) at INFO.
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
        huey = queue(app)
        count = workers or int(app.config["QUEUE_WORKERS"])
        click.echo(
            f"worker: {describe(app)}, {count} thread(s); tasks: "
            + ", ".join(sorted(_registry(app).wrappers))
        )
        consumer = huey.create_consumer(workers=count, worker_type="thread", periodic=True)
        consumer.run()
