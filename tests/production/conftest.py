"""Fixtures for production-shaped tests: real gunicorn processes on loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ldap_server
from helpers import missing_tool, wait_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


class Instance:
    def __init__(self, env: dict[str, str], log: Path, workers: int = 1) -> None:
        self.log = log
        self.port = ldap_server.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            **env,
            "PANEL_BIND": f"127.0.0.1:{self.port}",
            "PANEL_WORKERS": str(workers),
        }
        if "SCRIPT_NAME" in env:
            full_env["SCRIPT_NAME"] = env["SCRIPT_NAME"]
        if "PANEL_BASE_URL" not in env:
            # Its public address is where the test reaches it (absolute links in feeds).
            full_env["PANEL_BASE_URL"] = self.url + env.get("SCRIPT_NAME", "")
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: an undrained pipe fills up and blocks the workers.
            stderr=self.log.open("wb"),
            start_new_session=True,
        )
        try:
            wait_port(self.port, timeout=30)
        except RuntimeError:
            self.stop()
            raise

    def errors(self) -> str:
        """The tracebacks gunicorn logged, for assertion messages."""
        text = self.log.read_text(errors="replace")
        return "\n".join(line for line in text.splitlines() if "Error" in line)[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def start_instance(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Instance]]:
    """Start gunicorn instances of the panel on the test database; stopped afterwards."""
    if not GUNICORN.exists():
        pytest.fail(f"gunicorn is missing next to {sys.executable}")
    started: list[Instance] = []
    secret = uuid.uuid4().hex

    def start(workers: int = 1, script_name: str | None = None, **settings: str) -> Instance:
        env = {
            "PANEL_DATABASE_URL": database_url,
            "PANEL_SECRET_KEY": secret,
            **{f"PANEL_{k}": v for k, v in settings.items()},
        }
        if script_name:
            env["SCRIPT_NAME"] = script_name
        instance = Instance(env, tmp_path / f"gunicorn-{len(started)}.log", workers=workers)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture
def redis_url() -> str:
    if shutil.which("redis-cli") is None:
        missing_tool("Redis is not installed: apt-get install redis-server")
    return "redis://127.0.0.1:6379/14"
