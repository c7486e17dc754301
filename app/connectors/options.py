"""Typed reading of a `[services.connector]` table, with hoster.toml's error messages.

Every connector type reads its options through `ConnectorOptions`, so a mistake is
reported at start-up the way the rest of hoster.toml reports it: the full key
(`services.mail.connector.url`), what is expected, and a "did you mean" for a misspelt
key. Secrets come from `<name>_file` or `<name>_env` (see `app.connectors.secrets`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from app.connectors.base import redact_url
from app.connectors.secrets import Secret, SecretError, read_secret_env, read_secret_file
from app.profile.model import ProfileError
from app.profile.parsing import missing_key

# Keys every connector table may hold besides its own.
COMMON_KEYS = ("type",)


class ConnectorOptions:
    """One connector table under validation; every getter names `where.key` in its errors."""

    def __init__(
        self,
        data: dict[str, Any],
        where: str,
        *,
        base_dir: Path | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.data = dict(data)
        self.where = where
        self.base_dir = base_dir
        self.environ = environ
        self.known: set[str] = set(COMMON_KEYS)

    def path(self, key: str) -> str:
        return f"{self.where}.{key}"

    def error(self, key: str, message: str) -> ProfileError:
        return ProfileError(f"{self.path(key)}{message}")

    def _get(self, key: str, required: bool, example: str = "") -> Any:
        self.known.add(key)
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise missing_key(self.path(key), key, self.data, example)
            return None
        return value

    def text(
        self, key: str, *, required: bool = False, default: str | None = None, example: str = ""
    ) -> str | None:
        value = self._get(key, required, example)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(key, " must be a text value in quotes.")
        return value.strip()

    def required_text(self, key: str, example: str = "") -> str:
        value = self.text(key, required=True, example=example)
        assert value is not None
        return value

    def template(self, key: str, placeholders: tuple[str, ...], *, default: str) -> str:
        """A text where only the given {placeholders} may appear, e.g. login = "{uid}"."""
        value = self.text(key, default=default) or default
        try:
            value.format(**{name: "x" for name in placeholders})
        except (KeyError, IndexError, ValueError) as exc:
            allowed = ", ".join("{" + p + "}" for p in placeholders)
            raise self.error(key, f": {value!r} may only use {allowed}.") from exc
        return value

    def url(self, key: str, schemes: tuple[str, ...], *, required: bool = True) -> SplitResult:
        example = f'"{schemes[0]}://server.example.org"'
        value = self.text(key, required=required, example=example)
        if value is None:
            raise self.error(key, " is missing.")
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname or any(c.isspace() for c in value):
            raise self.error(
                key,
                f": {redact_url(value)!r} is not a valid address; write it in full, like {example} "
                f"(scheme {' or '.join(schemes)}).",
            )
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise self.error(key, f": {redact_url(value)!r} has an invalid port number.") from exc
        return parts

    def choice(self, key: str, allowed: tuple[str, ...]) -> str | None:
        """One of `allowed` (e.g. auth = "digest"), or None when the key is absent."""
        value = self.text(key)
        if value is None:
            return None
        if value not in allowed:
            choices = " or ".join(f'"{a}"' for a in allowed)
            raise self.error(key, f": {value!r} is not known; write {choices}.")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, " must be true or false (without quotes).")
        return value

    def seconds(self, key: str, *, default: float) -> float:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.error(key, " must be a number of seconds above 0 (without quotes).")
        return float(value)

    def integer(self, key: str, *, default: int, minimum: int = 1) -> int:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f" must be a whole number, at least {minimum}.")
        return value

    def file(self, key: str) -> Path | None:
        """An optional file path (a CA bundle…), relative to the panel's folder."""
        value = self.text(key)
        if value is None:
            return None
        found = Path(value)
        if not found.is_absolute() and self.base_dir is not None:
            found = self.base_dir / found
        if not found.is_file():
            raise self.error(key, f": the file {found} does not exist.")
        return found

    def secret(self, name: str, *, required: bool = True) -> Secret | None:
        """`<name>_file` or `<name>_env`; the value itself in hoster.toml is refused."""
        file_key, env_key = f"{name}_file", f"{name}_env"
        self.known.update((name, file_key, env_key))
        if self.data.get(name) not in (None, ""):
            raise self.error(
                name,
                f": secrets do not belong in hoster.toml; put it in a file readable by the "
                f'panel only and write {file_key} = "/etc/chatons-panel/{name}", or use '
                f'{env_key} = "PANEL_…".',
            )
        from_file = self.text(file_key)
        from_env = self.text(env_key)
        if from_file and from_env:
            raise self.error(file_key, f": give either {file_key} or {env_key}, not both.")
        try:
            if from_file:
                path = Path(from_file)
                if not path.is_absolute() and self.base_dir is not None:
                    path = self.base_dir / path
                return read_secret_file(path, self.path(file_key))
            if from_env:
                return read_secret_env(from_env, self.path(env_key), self.environ)
        except SecretError as exc:
            raise ProfileError(str(exc)) from exc
        if required:
            raise ProfileError(
                f"{self.path(file_key)} is missing: say where the panel reads the {name}, "
                f'e.g. {file_key} = "/etc/chatons-panel/{name}" (or {env_key} = "PANEL_…").'
            )
        return None

    def required_secret(self, name: str) -> Secret:
        secret = self.secret(name)
        assert secret is not None  # secret() raises when a required one is missing
        return secret

    def finish(self) -> None:
        """Refuse unknown keys: in a connector a stray key is a typo that would be ignored."""
        for key in self.data:
            if key in self.known:
                continue
            close = difflib.get_close_matches(key, sorted(self.known), n=1, cutoff=0.7)
            hint = f" did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self.known))
            raise self.error(key, f" is not a known key of this connector:{hint} (known: {known}).")
