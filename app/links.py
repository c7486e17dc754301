"""Absolute links and the mail domain for mail, from configuration (never from a Host header)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app

DEMO_BASE_URL = "http://127.0.0.1:5000"


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link on BASE_URL, in a request, the CLI and the worker alike.

    PanelFlask (app/urls.py) builds every external URL on BASE_URL; this is its short name.
    """
    return current_app.url_for(endpoint, _external=True, **values)


def mail_domain() -> str:
    """The domain of the panel's own addresses (Message-IDs, List-Id)."""
    sender = str(current_app.config.get("MAIL_FROM") or "")
    return (
        sender.rpartition("@")[2]
        or urlsplit(str(current_app.config.get("BASE_URL") or DEMO_BASE_URL)).hostname
        or "localhost"
    )
