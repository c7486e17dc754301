"""The `command` connector: a program that writes a person's data as a tar stream.

The argv template is run without a shell; `{uid}` is replaced inside each argument by the
login (checked by safe_uid, so it can be neither a path trick nor an option). A watchdog
kills the program at the timeout; closing the export (client gone) kills it too, so no
process outlives the download.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from typing import IO, Any

from flask_babel import gettext as _

from app.connectors.base import (
    ArchiveEntry,
    ConnectorError,
    DataItem,
    Skipped,
    StepResult,
    safe_uid,
)
from app.connectors.tarstream import tar_entries
from app.directory import Person

CHUNK = 1024 * 1024
STDERR_KEPT = 2000  # bytes of the program's error output kept for the report
DEFAULT_TIMEOUT = 600.0


def _argv(template: list[str], uid: str) -> list[str]:
    return [part.replace("{uid}", uid) for part in template]


class _StderrTail(threading.Thread):
    """Drains the program's error output (so it never blocks on a full pipe), keeps the end."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.tail = b""

    def run(self) -> None:
        for line in iter(lambda: self.stream.read(4096), b""):
            self.tail = (self.tail + line)[-STDERR_KEPT:]

    def text(self) -> str:
        return self.tail.decode("utf-8", "replace").strip()


class CommandConnector:
    """Runs `export` (and `delete`) argv templates; export's stdout is a tar stream."""

    plannable = False  # sizes are only known while the program runs

    def __init__(
        self,
        slug: str,
        *,
        name: str,
        export_argv: list[str],
        delete_argv: list[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        location: str | None = None,
        retention: str | None = None,
    ) -> None:
        if not export_argv:
            raise ValueError("export is empty: give the program and its arguments as a list")
        self.slug = slug
        self.name = name
        self.export_argv = export_argv
        self.delete_argv = delete_argv
        self.timeout = timeout
        self.location = location
        self.retention = retention

    @classmethod
    def from_options(
        cls, service: Any, options: dict[str, Any], timeout: float
    ) -> CommandConnector:
        def argv(key: str) -> list[str] | None:
            value = options.get(key)
            if value is None:
                return None
            if (
                not isinstance(value, list)
                or not all(isinstance(v, str) for v in value)
                or not value
            ):
                raise ValueError(
                    f'{key} must be a list of strings, e.g. {key} = ["/usr/bin/tool", "{{uid}}"]'
                )
            return value

        export_argv = argv("export")
        if export_argv is None:
            raise ValueError('export is missing, e.g. export = ["/usr/local/bin/dump", "{uid}"]')
        raw_timeout = options.get("timeout", timeout)
        if not isinstance(raw_timeout, int | float) or raw_timeout <= 0:
            raise ValueError("timeout must be a number of seconds")
        return cls(
            service.slug,
            name=service.name,
            export_argv=export_argv,
            delete_argv=argv("delete"),
            timeout=float(raw_timeout),
            location=service.data_location,
            retention=service.retention,
        )

    def inventory(self, person: Person) -> list[DataItem]:
        return [
            DataItem(
                service=self.slug,
                kind=_("Your data in %(service)s", service=self.name),
                location=str(self.location or _("the servers of %(service)s", service=self.name)),
                retention=str(self.retention or _("Until you delete it or your account")),
                exported=True,
            )
        ]

    def _start(self, argv: list[str]) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(  # noqa: S603 - argv list, no shell, uid checked
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConnectorError(
                _("the program could not be started: %(error)s", error=exc.strerror)
            ) from exc

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        process = self._start(_argv(self.export_argv, safe_uid(person.uid)))
        assert process.stdout is not None and process.stderr is not None
        stderr = _StderrTail(process.stderr)
        stderr.start()
        timed_out = threading.Event()

        def kill_late() -> None:
            timed_out.set()
            _stop(process)

        def failure(exc: BaseException | None) -> ConnectorError:
            return self._failure(process, stderr, timed_out, exc)

        watchdog = threading.Timer(self.timeout, kill_late)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                archive = tarfile.open(fileobj=process.stdout, mode="r|*")  # noqa: SIM115
            except tarfile.TarError as exc:
                raise self._failure(process, stderr, timed_out, exc) from exc
            try:
                yield from tar_entries(archive, self.slug, failure, CHUNK)
            except (tarfile.TarError, OSError) as exc:
                raise self._failure(process, stderr, timed_out, exc) from exc
            # Whatever follows the end-of-archive marker is read away, so the program ends.
            while process.stdout.read(CHUNK):
                pass
            if process.wait() != 0 or timed_out.is_set():
                raise self._failure(process, stderr, timed_out, None)
        finally:
            watchdog.cancel()
            _stop(process)
            process.stdout.close()
            stderr.join(timeout=5)
            process.stderr.close()

    def _failure(
        self,
        process: subprocess.Popen[bytes],
        stderr: _StderrTail,
        timed_out: threading.Event,
        exc: BaseException | None,
    ) -> ConnectorError:
        status = _stop(process)
        stderr.join(timeout=5)
        if timed_out.is_set():
            return ConnectorError(
                _(
                    "the program took longer than %(seconds)s s and was stopped",
                    seconds=f"{self.timeout:g}",
                )
            )
        if status:
            reason = _("the program ended with status %(status)s", status=status)
        else:
            reason = _("the program's output is not a valid tar archive")
        detail = stderr.text()
        return ConnectorError(f"{reason}: {detail}" if detail else reason)

    def delete(self, person: Person) -> StepResult:
        if not self.delete_argv:
            return StepResult(ok=False, detail="no delete command configured: delete by hand")
        try:
            argv = _argv(self.delete_argv, safe_uid(person.uid))
        except ConnectorError as exc:
            return StepResult(ok=False, detail=str(exc))
        try:
            done = subprocess.run(  # noqa: S603 - argv list, no shell, uid checked
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
                close_fds=True,
            )
        except subprocess.TimeoutExpired:
            return StepResult(ok=False, detail=f"the program took longer than {self.timeout:g} s")
        except OSError as exc:
            return StepResult(ok=False, detail=f"the program could not be started: {exc.strerror}")
        if done.returncode != 0:
            tail = done.stderr[-STDERR_KEPT:].decode("utf-8", "replace").strip()
            return StepResult(ok=False, detail=f"status {done.returncode}: {tail}")
        return StepResult(ok=True, detail=done.stdout[-STDERR_KEPT:].decode("utf-8", "replace"))


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Kill the program and anything it started (its own process group), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait()
