"""WSGI entry point: `gunicorn wsgi:app`."""

from app import create_app
from config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One plain sentence instead of a traceback, for gunicorn and every `flask` command.
    raise SystemExit(f"chatons-panel cannot start: {exc}") from None
