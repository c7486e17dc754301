"""Start-up of transparency: the register's and the canary's staff lines, the panel's figures."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.features import Feature
from app.profile.loading import current_profile
from app.staff import StaffQueue
from app.transparency import bp, services, statistics, views  # noqa: F401 - routes
from app.transparency.section import TransparencySection

FEATURE = Feature(
    name="transparency",
    blueprints=(bp,),
    staff_queues=(
        StaffQueue(
            label=lambda: str(_l("Authority requests awaiting our answer")),
            count=services.pending_count,
            endpoint="transparency.staff_register",
        ),
        StaffQueue(
            label=lambda: str(_l("Warrant canary to renew")),
            count=lambda session: services.canary_needs_renewal(
                session, services.local_today(current_profile().timezone)
            ),
            endpoint="transparency.staff_canary",
        ),
    ),
    panel_sections=lambda _app: (TransparencySection(),),
    statistics=statistics.STATISTICS,
    audit_labels={
        "transparency.request_recorded": _l("Authority request recorded in the register"),
        "transparency.request_updated": _l("Authority request updated in the register"),
        "transparency.canary_published": _l("Warrant canary statement published"),
    },
)
