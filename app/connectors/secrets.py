"""Connector secrets (passwords, tokens) read from a file or an environment variable.

hoster.toml never holds a secret: a connector names where to find it with `<name>_file`
or `<name>_env`. The value is wrapped in `Secret`, whose repr and str never show it, so a
secret cannot reach a log line, an error page or the export by accident; the one place
that needs the clear value calls `reveal()`.
"""

from __future__ import annotations

import os
from pathlib import Path


class SecretError(ValueError):
    """The secret cannot be read; the message names the key and the place, never the value."""


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source  # "file /etc/chatons-panel/imap.secret" or "variable X"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from {self.source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.source)

    def __reduce__(self) -> tuple[object, ...]:
        # A secret must never be pickled into a task queue or a cache.
        raise TypeError("a Secret cannot be pickled")


def read_secret_file(path: Path, where: str) -> Secret:
    """The first line of a file (a trailing newline is not part of the secret)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SecretError(f"{where}: the file {path} does not exist.") from exc
    except PermissionError as exc:
        raise SecretError(
            f"{where}: the file {path} cannot be read by the panel's user (check its owner "
            "and mode, e.g. chown root:chatons-panel and chmod 640)."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"{where}: the file {path} cannot be read as UTF-8 text.") from exc
    value = text.splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise SecretError(f"{where}: the file {path} is empty.")
    return Secret(value, f"file {path}")


def read_secret_env(variable: str, where: str, environ: dict[str, str] | None = None) -> Secret:
    env = os.environ if environ is None else environ
    value = (env.get(variable) or "").strip()
    if not value:
        raise SecretError(
            f"{where}: the environment variable {variable} is not set (or empty) for the "
            "panel's processes (web and worker)."
        )
    return Secret(value, f"variable {variable}")
