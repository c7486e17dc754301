"""Default settings of the panel; every key can be overridden by a PANEL_* environment variable."""

from __future__ import annotations

import secrets
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
    # Only these direct peers may set that header; from anyone else it is ignored.
    REMOTE_USER_PROXIES: tuple[str, ...] = ("127.0.0.1", "::1")
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


def validate(config: dict[str, Any]) -> None:
    """Refuse settings that are unsafe in production, one plain sentence per problem."""
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
        # Demo only: a random key per run, so sessions end when the demo restarts.
        config["SECRET_KEY"] = secrets.token_hex(32)
