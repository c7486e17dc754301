"""Fixtures: the panel against the real slapd and a real OpenID provider (node oidc-provider)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import missing_tool
from flask import Flask

import oidc_server


@pytest.fixture
def provider_setup(request: pytest.FixtureRequest) -> str:
    """The provider's set-up: "rs256" unless a test asks for another (indirect parametrize)."""
    return str(getattr(request, "param", "rs256"))


@pytest.fixture
def password_login() -> bool | None:
    """PANEL_PASSWORD_LOGIN for the panel (None = the default: off with a provider)."""
    return None


@pytest.fixture
def provider(provider_setup: str, tmp_path: Path) -> Iterator[oidc_server.Provider]:
    """The provider, not started yet: the panel's address must be known first."""
    if not oidc_server.node_available():
        missing_tool("node and tests/oidc_provider/node_modules are needed: npm ci there")
    found = oidc_server.Provider(oidc_server.SET_UPS[provider_setup], tmp_path)
    yield found
    found.stop()


@pytest.fixture
def app(
    make_app: Callable[..., Flask],
    slapd: Any,
    provider: oidc_server.Provider,
    password_login: bool | None,
) -> Flask:
    settings = {**slapd.settings(), **provider.panel_settings()}
    if password_login is not None:
        settings["PASSWORD_LOGIN"] = password_login
    return make_app(**settings)


@pytest.fixture
def logout_posts(app: Flask) -> list[bytes]:
    """The back-channel logout requests the panel received, as sent (to replay one)."""
    received: list[bytes] = []
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/login/oidc/backchannel-logout":
            import io

            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            received.append(body)
            environ["wsgi.input"] = io.BytesIO(body)
        return inner(environ, start_response)

    app.wsgi_app = recording  # type: ignore[method-assign]
    return received


@pytest.fixture
def oidc(
    provider: oidc_server.Provider, logout_posts: list[bytes], live_server: Any
) -> oidc_server.Provider:
    """The provider started, its client pointing at the running panel."""
    provider.start(live_server.url)
    return provider
