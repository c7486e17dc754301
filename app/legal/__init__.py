"""Terms of service and privacy clause: versions, public pages, publishing, acceptance gate."""

from flask import Blueprint

bp = Blueprint("legal", __name__, url_prefix="/legal")

from app.legal import views  # noqa: E402,F401
from app.legal.setup import init_app  # noqa: E402

__all__ = ["bp", "init_app"]
