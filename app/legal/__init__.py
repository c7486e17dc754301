"""Terms of service and privacy clause: versions, public pages, publishing, acceptance gate."""

from flask import Blueprint

# Public pages live under /legal, the staff pages under /staff/legal.
bp = Blueprint("legal", __name__)

from app.legal import views  # noqa: E402,F401
from app.legal.setup import init_app  # noqa: E402

__all__ = ["bp", "init_app"]
