"""Sign-in through the hoster's OpenID provider (OpenID Connect relying party, Authlib).

Off unless PANEL_OIDC_ISSUER is set. The login page then offers the provider; re-auth
before export and deletion goes back to it with max_age=0; signing out ends the provider's
session too (RP-initiated logout), and its back-channel logout ends the panel's sessions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, session, url_for

import config as panel_config
from app.connectors.secrets import Secret, SecretError, read_secret_env, read_secret_file
from app.oidc.client import OpenIDProvider, ProviderSettings, ProviderUnavailable

bp = Blueprint("oidc", __name__)

SETTINGS: dict[str, Any] = {
    # The provider's issuer, exactly as its discovery document names it, e.g.
    # https://sso.example.org/realms/chatons (Keycloak); unset = no OpenID sign-in.
    "OIDC_ISSUER": None,
    "OIDC_CLIENT_ID": None,
    # The client secret, from a file or an environment variable (never in the settings).
    # Neither = a public client, which proves itself with PKCE alone.
    "OIDC_CLIENT_SECRET_FILE": None,
    "OIDC_CLIENT_SECRET_ENV": None,
    # The claim that holds the directory login (looked up with the LDAP user filter).
    "OIDC_LOGIN_CLAIM": "preferred_username",
    "OIDC_SCOPES": "openid profile email",
    # How the provider is named on the login and sessions pages; default: its host name.
    "OIDC_PROVIDER_NAME": None,
    # Seconds to wait for the provider before showing "unavailable".
    "OIDC_TIMEOUT": 5,
    # Clock difference tolerated between the panel and the provider, in seconds.
    "OIDC_CLOCK_SKEW": 60,
}


def _read_secret(config: dict[str, Any]) -> Secret | None:
    try:
        if config.get("OIDC_CLIENT_SECRET_FILE"):
            return read_secret_file(
                Path(config["OIDC_CLIENT_SECRET_FILE"]), "PANEL_OIDC_CLIENT_SECRET_FILE"
            )
        if config.get("OIDC_CLIENT_SECRET_ENV"):
            return read_secret_env(
                str(config["OIDC_CLIENT_SECRET_ENV"]),
                "PANEL_OIDC_CLIENT_SECRET_ENV",
                dict(os.environ),
            )
    except SecretError as exc:
        raise panel_config.ConfigError(str(exc)) from None
    return None


def check_settings(app: Flask) -> None:
    """Check the provider's settings (SETTINGS, overridden by PANEL_OIDC_*) and build it."""
    issuer = app.config["OIDC_ISSUER"]
    # With a provider, the panel's own password form is off unless the hoster keeps it.
    app.config.setdefault("PASSWORD_LOGIN", not issuer)
    if not issuer:
        return
    issuer = str(issuer)
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise panel_config.ConfigError(
            "PANEL_OIDC_ISSUER must be the provider's https:// address, e.g. "
            "https://sso.example.org/realms/chatons."
        )
    if app.config["ENV"] == "production" and parts.scheme != "https":
        raise panel_config.ConfigError("PANEL_OIDC_ISSUER must start with https:// in production.")
    if not app.config.get("OIDC_CLIENT_ID"):
        raise panel_config.ConfigError(
            "PANEL_OIDC_ISSUER is set: set PANEL_OIDC_CLIENT_ID too (the panel's client id "
            "at the provider)."
        )
    for key in ("OIDC_TIMEOUT", "OIDC_CLOCK_SKEW"):
        try:
            app.config[key] = int(app.config[key])
        except (TypeError, ValueError):
            raise panel_config.ConfigError(f"PANEL_{key} must be a number of seconds.") from None
    if not app.config["OIDC_PROVIDER_NAME"]:
        app.config["OIDC_PROVIDER_NAME"] = parts.hostname
    app.extensions["panel_oidc"] = OpenIDProvider(
        ProviderSettings(
            issuer=issuer,
            client_id=str(app.config["OIDC_CLIENT_ID"]),
            client_secret=_read_secret(app.config),
            scopes=str(app.config["OIDC_SCOPES"]),
            timeout=float(app.config["OIDC_TIMEOUT"]),
            leeway=int(app.config["OIDC_CLOCK_SKEW"]),
        )
    )


def current_provider() -> OpenIDProvider | None:
    provider: OpenIDProvider | None = current_app.extensions.get("panel_oidc")
    return provider


def signed_in_through_provider() -> bool:
    return isinstance(session.get("oidc"), dict)


def redirect_uris(app: Flask) -> dict[str, str]:
    """What the provider's client settings need, from BASE_URL."""
    base = str(app.config["BASE_URL"]).rstrip("/")
    return {
        "redirect URI": f"{base}/login/oidc/callback",
        "back-channel logout URI": f"{base}/login/oidc/backchannel-logout",
        "post-logout redirect URI": f"{base}/",
    }


def reauth_url(next_path: str) -> str | None:
    """Re-authentication of a person who signed in through the provider: ask it again."""
    if current_provider() is None or not signed_in_through_provider():
        return None
    return url_for("oidc.start", reauth="1", next=next_path)


def end_session_url() -> str | None:
    """After the panel's sign-out, the provider's (RP-initiated logout), if it offers one."""
    provider = current_provider()
    signed_in = session.get("oidc")
    if provider is None or not isinstance(signed_in, dict) or not signed_in.get("id_token"):
        return None
    try:
        return provider.end_session_url(
            id_token_hint=str(signed_in["id_token"]),
            post_logout_redirect_uri=redirect_uris(current_app)["post-logout redirect URI"],
        )
    except ProviderUnavailable:
        # The panel's own session ends anyway; the provider's ends when it is back.
        return None


def _origin(url: object) -> str | None:
    parts = urlsplit(str(url or ""))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def allow_forms_to_reach_provider(response: Response) -> Response:
    """A form whose answer redirects to the provider (sign-out, then its end-session page;
    export or deletion, then re-authentication there) must be allowed to: browsers apply
    the CSP's form-action to redirects, too. Only the provider's own origins are added."""
    policy = response.headers.get("Content-Security-Policy")
    provider = current_provider()
    if not policy or provider is None or "form-action 'self'" not in policy:
        return response
    origins = {_origin(provider.settings.issuer)}
    known = provider.cached_metadata()
    for key in ("authorization_endpoint", "end_session_endpoint"):
        origins.add(_origin(known.get(key)))
    allowed = " ".join(sorted(o for o in origins if o))
    response.headers["Content-Security-Policy"] = policy.replace(
        "form-action 'self'", f"form-action 'self' {allowed}"
    )
    return response


def doctor_check() -> list[tuple[bool, str]]:
    """`flask doctor`: the provider answers, and the addresses its client settings need."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    provider = current_provider()
    if provider is None:
        return [(True, "not configured (PANEL_OIDC_ISSUER unset): password sign-in only")]
    lines: list[tuple[bool, str]] = []
    try:
        metadata = provider.metadata()
        keys = provider.key_set(refresh=True)
        lines.append((True, f"{metadata['issuer']} answers; {len(keys.keys)} signing key(s)"))
        if not metadata.get("end_session_endpoint"):
            lines.append((False, "the provider offers no end_session_endpoint (sign-out)"))
        if not metadata.get("backchannel_logout_supported"):
            lines.append((False, "the provider does not say it supports back-channel logout"))
    except ProviderUnavailable as exc:
        lines.append((False, f"unreachable: {exc}"))
    for name, uri in redirect_uris(app).items():
        lines.append((True, f"{name}: {uri}"))
    lines.append((True, f"password form: {'offered' if app.config['PASSWORD_LOGIN'] else 'off'}"))
    return lines
