"""Default settings of the panel; every key can be overridden by a PANEL_* environment variable."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class Defaults:
    """Embedded defaults: SQLite in instance/, demo directory, mail to the log."""

    ENV = "demo"
    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None  # None = sqlite:///<instance>/panel.sqlite3

    # Directory (LDAP). LDAP_URL unset = the bundled demo directory.
    LDAP_URL: str | list[str] | None = None
    LDAP_STARTTLS = False
    LDAP_CA_FILE: str | None = None
    LDAP_BIND_DN: str | None = None
    LDAP_BIND_PASSWORD: str | None = None
    LDAP_USER_DN_TEMPLATE: str | None = None
    LDAP_USER_BASE = "ou=people,dc=demo,dc=chatons,dc=org"
    LDAP_USER_FILTER = "(uid={login})"
    LDAP_ATTRIBUTES: dict[str, str] = {
        "login": "uid",
        "display_name": "cn",
        "email": "mail",
        "language": "preferredLanguage",
    }
    LDAP_STAFF_GROUP: str | None = None
    LDAP_STAFF_MEMBERSHIP = "auto"  # auto, member, uniqueMember, memberUid, memberOf
    LDAP_TIMEOUT = 5
    DIRECTORY_RECHECK_SECONDS = 300
    # Where people recover or change their password and details (LDAP Tool Box Self Service
    # Password, the YunoHost portal, Keycloak…): linked from the login and account pages.
    PASSWORD_RESET_URL: str | None = None
    ACCOUNT_SETTINGS_URL: str | None = None

    HOSTER_FILE: str | None = None
    HOSTER_NAME = "Chatons du Demo"
    HOSTER_LOGO: str | None = None  # path of an image under static/, or None
    HOSTER_ACCENT_COLOUR = "#1f5f8b"
    # Transparency register (/transparency): true = anyone, false = signed-in hosted users only.
    TRANSPARENCY_PUBLIC = True

    SMTP_URL: str | None = None
    MAIL_FROM = "panel@localhost"

    RATELIMIT_STORAGE_URL = "memory://"
    LOGIN_LIMIT_PER_LOGIN = "5 per minute;20 per hour"
    LOGIN_LIMIT_PER_ADDRESS = "30 per minute"
    # A browser that signed in before keeps a signed "device cookie" this long; failed
    # sign-ins of strangers then never lock it out (only failures count, per login).
    LOGIN_DEVICE_COOKIE_DAYS = 180

    # Number of reverse-proxy hops whose X-Forwarded-For/Proto/Host/Prefix are trusted.
    TRUSTED_PROXIES = 0
    # Opt-in SSO: header carrying the login, set by the proxy (e.g. "Remote-User").
    REMOTE_USER_HEADER: str | None = None
    # Only these direct peers may set that header; from anyone else it is ignored. "unix" is
    # a unix socket (PANEL_BIND=unix:…), which has no peer address.
    REMOTE_USER_PROXIES: tuple[str, ...] = ("127.0.0.1", "::1", "unix")
    # Optional header with the epoch time of the SSO authentication (counts as re-auth).
    REMOTE_USER_AUTH_TIME_HEADER: str | None = None
    # Optional: send re-authentication to the SSO portal instead of asking the password;
    # "{next}" is replaced by the URL-encoded address to come back to.
    SSO_REAUTH_URL: str | None = None

    # The panel's public address, for every absolute link (mail, feeds, ChatonsInfos), with
    # its path prefix if any: https://panel.example.org or https://example.org/panel.
    # Required in production; the demo default is the address of `make run`.
    BASE_URL: str | None = None
    # Host names the panel answers to; others get 400. Production default: BASE_URL's host.
    TRUSTED_HOSTS: list[str] | str | None = None

    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    SESSION_COOKIE_NAME = "panel_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = 0
    PERMANENT_SESSION_LIFETIME = 12 * 3600
    REAUTH_SECONDS = 600

    BABEL_DEFAULT_LOCALE = "fr"
    LANGUAGES = ("fr", "en")
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"


class ConfigError(Exception):
    """A setting is missing or wrong; the message says what to set."""


def defaults() -> dict[str, Any]:
    return {key: getattr(Defaults, key) for key in dir(Defaults) if key.isupper()}


DEMO_SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


def demo_secret(instance_path: str | Path) -> str:
    """The demo's secret key, made once and kept in instance/secret_key (mode 0600).

    The web server, the task worker and every `flask` command of the demo read the same
    file, so a link the worker signs (incident mail) opens on the web server, and sessions
    survive a restart. Two processes starting together agree: the first to link its file
    in place wins, the other reads it.
    """
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEMO_SECRET_FILE
    if not path.exists():
        draft = folder / f".{DEMO_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # atomic, and refuses to replace another process's key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    deadline = time.monotonic() + 5
    while True:
        value = path.read_text(encoding="ascii").strip()
        if value or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(value) < 32:
        raise ConfigError(f"{path} holds no usable secret key: delete it to make a new one.")
    return value


def validate(config: dict[str, Any], instance_path: str | Path | None = None) -> None:
    """Refuse settings that are unsafe in production, one plain sentence per problem.

    `instance_path` is where the demo keeps its secret key; without it a demo gets a random
    key for this process only."""
    if config["ENV"] not in ("demo", "production"):
        raise ConfigError("PANEL_ENV must be 'demo' or 'production'.")
    if config["ENV"] == "production":
        if not config.get("SECRET_KEY"):
            raise ConfigError(
                "Production needs a secret key: set PANEL_SECRET_KEY to a long random string."
            )
        if not config.get("LDAP_URL"):
            raise ConfigError(
                "Production refuses the demo directory: set PANEL_LDAP_URL to your LDAP server."
            )
        if not config.get("SESSION_COOKIE_SECURE"):
            raise ConfigError(
                "Production needs secure cookies: set PANEL_SESSION_COOKIE_SECURE=true "
                "and serve the panel over HTTPS."
            )
        if not config.get("BASE_URL"):
            raise ConfigError(
                "Production needs the panel's public address for links in mail and feeds: "
                "set PANEL_BASE_URL, e.g. https://panel.example.org."
            )
        if not str(config["BASE_URL"]).startswith("https://"):
            raise ConfigError("PANEL_BASE_URL must start with https:// in production.")
        if not config.get("SESSION_COOKIE_HTTPONLY"):
            raise ConfigError("Production needs PANEL_SESSION_COOKIE_HTTPONLY=true.")
        if config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
            raise ConfigError(
                "Production needs PANEL_SESSION_COOKIE_SAMESITE set to Lax or Strict."
            )
    for key in ("PASSWORD_RESET_URL", "ACCOUNT_SETTINGS_URL"):
        url = config.get(key)
        if url and not str(url).startswith(("https://", "http://")):
            raise ConfigError(f"PANEL_{key} must be an address starting with https://.")
    config["BASE_URL"] = str(config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    base = urlsplit(config["BASE_URL"])
    if base.scheme not in ("http", "https") or not base.hostname or base.query or base.fragment:
        raise ConfigError(
            "PANEL_BASE_URL must be an http(s) address such as https://panel.example.org "
            "(a path prefix is allowed, no query or fragment)."
        )
    membership = config["LDAP_STAFF_MEMBERSHIP"]
    if membership not in ("auto", "member", "uniqueMember", "memberUid", "memberOf"):
        raise ConfigError(
            "PANEL_LDAP_STAFF_MEMBERSHIP must be auto, member, uniqueMember, memberUid or memberOf."
        )
    if not config.get("SECRET_KEY"):
        # Demo only (production refused to start above): one key for the web server, the
        # worker and the CLI.
        config["SECRET_KEY"] = (
            demo_secret(instance_path) if instance_path is not None else secrets.token_hex(32)
        )
