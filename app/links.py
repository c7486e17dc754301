"""Absolute links for mail, built from BASE_URL (never from a request's Host header)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app

DEMO_BASE_URL = "http://127.0.0.1:5000"


def external_url(endpoint: str, **values: Any) -> str:
    """`url_for(..., _external=True)` that works in a request, the CLI and the worker alike."""
    base = urlsplit(str(current_app.config.get("BASE_URL") or DEMO_BASE_URL))
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def mail_domain() -> str:
    """The domain of the panel's own addresses (Message-IDs, List-Id)."""
    sender = str(current_app.config.get("MAIL_FROM") or "")
    return (
        sender.rpartition("@")[2]
        or urlsplit(str(current_app.config.get("BASE_URL") or DEMO_BASE_URL)).hostname
        or "localhost"
    )
