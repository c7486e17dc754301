"""Flask extensions, created here and bound to the app in create_app."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from app.directory import Directory

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)


def directory() -> Directory:
    """The directory adapter of the running app (real LDAP or the demo directory)."""
    found: Directory = current_app.extensions["panel_directory"]
    return found


def running_app() -> Flask:
    """The app behind `current_app`, for what outlives the context (a thread, a CLI run).

    Flask types `current_app` as the app itself, which hides the proxy's own method.
    """
    return cast("LocalProxy[Flask]", current_app)._get_current_object()
