"""Start-up of support: settings, staff queue line, panel data section, labels, CLI, mailbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.attention import Attention
from app.features import Feature, WorkerTask
from app.staff import StaffQueue
from app.support import (
    SETTINGS,
    bp,
    check_settings,
    contact_views,
    mail_cli,
    queries,
    staff_views,  # noqa: F401 - routes
    statistics,
    views,
)
from app.support.attachments import AttachmentStore
from app.support.cli import support_group
from app.support.forms import CATEGORY_LABELS
from app.support.section import TicketsSection
from app.tasks import crontab


def waiting_for_person(session: Session, account: Any) -> list[Attention]:
    """The account page's lines: tickets where the team waits for the person's answer."""
    return [
        Attention(
            _(
                "Request no. %(number)s, “%(subject)s”, waits for your answer.",
                number=ticket.id,
                subject=ticket.subject,
            ),
            link=(url_for("support.ticket", ticket_id=ticket.id), _("Answer")),
        )
        for ticket in queries.tickets_waiting_for(session, account.id)
    ]


def _category_label(code: str) -> str:
    """A ticket's kind in words (mails to the team show no codes)."""
    return str(CATEGORY_LABELS.get(code, code))


def _service_name(slug: str) -> str:
    return views.service_names().get(slug, slug)


def _init(app: Flask) -> None:
    check_settings(app)
    # The public home links to the contact form without importing this feature.
    app.extensions["panel_contact_form"] = lambda: contact_views.contact_form_for_visitors()
    app.jinja_env.globals.update(
        support_category_label=_category_label, support_service_name=_service_name
    )


FEATURE = Feature(
    name="support",
    settings=SETTINGS,
    init=_init,
    blueprints=(bp,),
    commands=(support_group,),
    tasks=(WorkerTask("support.fetch_mailbox", mail_cli.fetch_job, crontab()),),
    attention=((waiting_for_person, queries.waiting_probe),),
    staff_queues=(
        StaffQueue(
            label=lambda: str(_("Support tickets waiting for an answer")),
            count=queries.count_needing_staff,
            endpoint="support.staff_queue",
        ),
    ),
    panel_sections=lambda app: (
        TicketsSection(AttachmentStore(Path(app.config["SUPPORT_ATTACHMENT_DIR"]))),
    ),
    statistics=statistics.STATISTICS,
    audit_labels={
        "support.ticket_opened": _l("Support ticket opened"),
        "support.ticket_closed": _l("Support ticket closed"),
        "support.ticket_reopened": _l("Support ticket reopened"),
        "support.ticket_auto_closed": _l(
            "Support ticket closed automatically (no answer from you)"
        ),
        "support.mail_reply": _l("Reply to a support ticket received by mail"),
        "support.visitor_ticket_opened": _l("Ticket opened by a visitor (contact form)"),
        "support.visitor_tickets_deleted": _l("Old visitors' tickets deleted"),
    },
)
