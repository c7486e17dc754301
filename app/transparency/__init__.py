"""Transparency register (requests from authorities), warrant canary and usage statistics."""

from flask import Blueprint, Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import audit

bp = Blueprint("transparency", __name__)

from app.transparency import views  # noqa: E402,F401

audit.register_labels(
    {
        "transparency.request_recorded": _l("Authority request recorded in the register"),
        "transparency.request_updated": _l("Authority request updated in the register"),
        "transparency.canary_published": _l("Warrant canary statement published"),
    }
)


def init_app(app: Flask) -> None:
    from app.connectors.base import register_panel_section
    from app.hoster.profile import current_profile
    from app.staff import StaffQueue, register_queue
    from app.transparency import services, statistics
    from app.transparency.section import TransparencySection

    app.register_blueprint(bp)
    statistics.register_builtin(app)
    register_panel_section(app, TransparencySection())
    register_queue(
        app,
        StaffQueue(
            label=lambda: str(_("Authority requests awaiting our answer")),
            count=services.pending_count,
            endpoint="transparency.staff_register",
        ),
    )
    register_queue(
        app,
        StaffQueue(
            label=lambda: str(_("Warrant canary to renew")),
            count=lambda session: services.canary_needs_renewal(
                session, services.local_today(current_profile().timezone)
            ),
            endpoint="transparency.staff_canary",
        ),
    )
