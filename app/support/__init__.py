"""Support tickets: users open and follow requests, staff answer from a queue, mail both ways."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import Blueprint, Flask, current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from limits import parse_many

import config as panel_config
from app import audit
from app.support.attachments import DEFAULT_ALLOWED, KNOWN_TYPES, AttachmentStore

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.accounts.attention import Attention

bp = Blueprint("support", __name__)

SETTINGS: dict[str, Any] = {
    # Where new-ticket notifications go (a team mailbox); unset = no mail to staff.
    "SUPPORT_STAFF_EMAIL": None,
    # When the person writes again within this many minutes of their previous message,
    # staff get one mail for the lot when the time is up (0 = a mail for every message).
    "SUPPORT_STAFF_MAIL_GROUP_MINUTES": 10,
    # Put the text of a staff reply in the mail to the user (off: only a link, for privacy).
    "SUPPORT_MAIL_INCLUDE_TEXT": False,
    # Folder of attachment files; unset = <instance>/support-attachments.
    "SUPPORT_ATTACHMENT_DIR": None,
    "SUPPORT_ATTACHMENT_MAX_FILES": 3,
    "SUPPORT_ATTACHMENT_MAX_BYTES": 5 * 1024 * 1024,
    "SUPPORT_ATTACHMENT_TYPES": list(DEFAULT_ALLOWED),
    # Tickets waiting for their requester this many days are closed by `flask support
    # auto-close` (run it from cron); 0 = never.
    "SUPPORT_AUTO_CLOSE_DAYS": 14,
    # Replies by mail: the support address, plus-addressed per ticket and recipient
    # (support+<ticket>.<token>@domain); unset = mail says "answer in the panel".
    "SUPPORT_REPLY_ADDRESS": None,
    # Largest reply mail read (bytes); unset = room for the attachment limits in base64.
    "SUPPORT_MAIL_MAX_BYTES": None,
    # A reply to a ticket closed longer than this is refused (a recent one reopens it).
    "SUPPORT_MAIL_CLOSED_DAYS": 30,
    # A reply mail is parsed only after its token was checked, and then within bounds: more
    # MIME parts, deeper nesting or more CPU seconds than this and it is refused unread.
    "SUPPORT_MAIL_MAX_PARTS": 50,
    "SUPPORT_MAIL_MAX_DEPTH": 10,
    "SUPPORT_MAIL_PARSE_SECONDS": 5,
    # Automatic answers to refused reply mail, for all senders together (each sender gets
    # one an hour at most); beyond this, refused mail is only logged.
    "SUPPORT_MAIL_ANSWERS_PER_HOUR": 20,
    # `flask support fetch`: imap[s]://user:password@host:port/FOLDER[?starttls=true].
    "SUPPORT_IMAP_URL": None,
    "SUPPORT_IMAP_CA_FILE": None,
    "SUPPORT_IMAP_DONE_FOLDER": "Handled",
    "SUPPORT_IMAP_REFUSED_FOLDER": "Refused",
    # The public contact form (home page and visitors' support page): visitors open a
    # ticket with an e-mail address, without an account. Off unless the hoster turns it on.
    "SUPPORT_CONTACT_FORM": False,
    # Messages sent with the contact form (Flask-Limiter syntax), per address and per client.
    "SUPPORT_CONTACT_LIMIT_PER_ADDRESS": "3 per hour;10 per day",
    "SUPPORT_CONTACT_LIMIT_PER_IP": "5 per hour;20 per day",
    # Visitors' tickets are deleted this many days after they were closed (by `flask
    # support auto-close`, run daily); 0 = never deleted automatically.
    "SUPPORT_VISITOR_KEEP_DAYS": 90,
}
# Room for the text fields and the multipart framing on top of the files themselves.
FORM_ALLOWANCE = 1024 * 1024


def _configure(app: Flask) -> None:
    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    if not app.config["SUPPORT_MAIL_MAX_BYTES"]:
        files = int(app.config["SUPPORT_ATTACHMENT_MAX_FILES"])
        per_file = int(app.config["SUPPORT_ATTACHMENT_MAX_BYTES"])
        app.config["SUPPORT_MAIL_MAX_BYTES"] = files * per_file * 4 // 3 + FORM_ALLOWANCE
    for key in (
        "SUPPORT_ATTACHMENT_MAX_FILES",
        "SUPPORT_ATTACHMENT_MAX_BYTES",
        "SUPPORT_AUTO_CLOSE_DAYS",
        "SUPPORT_MAIL_MAX_BYTES",
        "SUPPORT_MAIL_CLOSED_DAYS",
        "SUPPORT_MAIL_MAX_PARTS",
        "SUPPORT_MAIL_MAX_DEPTH",
        "SUPPORT_MAIL_PARSE_SECONDS",
        "SUPPORT_MAIL_ANSWERS_PER_HOUR",
        "SUPPORT_STAFF_MAIL_GROUP_MINUTES",
        "SUPPORT_VISITOR_KEEP_DAYS",
    ):
        try:
            app.config[key] = int(app.config[key])
        except (TypeError, ValueError):
            raise panel_config.ConfigError(f"PANEL_{key} must be a whole number.") from None
        if app.config[key] < 0:
            raise panel_config.ConfigError(f"PANEL_{key} cannot be negative.")
    types = app.config["SUPPORT_ATTACHMENT_TYPES"]
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    unknown = [t for t in types if t not in KNOWN_TYPES]
    if unknown:
        raise panel_config.ConfigError(
            f"PANEL_SUPPORT_ATTACHMENT_TYPES: {unknown[0]!r} is not a type the panel can "
            f"recognise; choose among {', '.join(KNOWN_TYPES)}."
        )
    app.config["SUPPORT_ATTACHMENT_TYPES"] = list(types)
    app.config["SUPPORT_CONTACT_FORM"] = bool(app.config["SUPPORT_CONTACT_FORM"])
    for key in ("SUPPORT_CONTACT_LIMIT_PER_ADDRESS", "SUPPORT_CONTACT_LIMIT_PER_IP"):
        try:
            parse_many(str(app.config[key]))
        except ValueError:
            raise panel_config.ConfigError(
                f"PANEL_{key} must be a limit such as '3 per hour;10 per day'."
            ) from None
    folder = app.config["SUPPORT_ATTACHMENT_DIR"] or str(
        Path(app.instance_path) / "support-attachments"
    )
    app.config["SUPPORT_ATTACHMENT_DIR"] = folder


def upload_limit(config: Any) -> int:
    """Largest request body a form with attachments may send."""
    allowed = config["SUPPORT_ATTACHMENT_MAX_FILES"] * config["SUPPORT_ATTACHMENT_MAX_BYTES"]
    limit = allowed + FORM_ALLOWANCE
    app_limit = config.get("MAX_CONTENT_LENGTH")
    return min(limit, app_limit) if app_limit else limit


def attachment_store() -> AttachmentStore:
    return AttachmentStore(Path(current_app.config["SUPPORT_ATTACHMENT_DIR"]))


def init_app(app: Flask) -> None:
    """Settings, staff queue line, panel data section, audit labels and CLI of support."""
    from app.accounts.attention import register_attention
    from app.connectors.base import register_panel_section
    from app.staff import StaffQueue, register_queue
    from app.support import cleanup, mail_cli, operations, queries, visitors
    from app.support.section import TicketsSection
    from app.support.settings import SupportSettings

    _configure(app)
    # The public home links to the contact form without importing this feature.
    app.extensions["panel_contact_form"] = lambda: contact_views.contact_form_for_visitors()
    register_attention(app, waiting_for_person, queries.waiting_probe)
    app.jinja_env.globals.update(
        support_category_label=_category_label, support_service_name=_service_name
    )
    register_queue(
        app,
        StaffQueue(
            label=lambda: str(_("Support tickets waiting for an answer")),
            count=queries.count_needing_staff,
            endpoint="support.staff_queue",
        ),
    )
    register_panel_section(
        app, TicketsSection(AttachmentStore(Path(app.config["SUPPORT_ATTACHMENT_DIR"])))
    )
    audit.register_labels(
        {
            "support.ticket_opened": _l("Support ticket opened"),
            "support.ticket_closed": _l("Support ticket closed"),
            "support.ticket_reopened": _l("Support ticket reopened"),
            "support.ticket_auto_closed": _l(
                "Support ticket closed automatically (no answer from you)"
            ),
            "support.mail_reply": _l("Reply to a support ticket received by mail"),
            "support.visitor_ticket_opened": _l("Ticket opened by a visitor (contact form)"),
            "support.visitor_tickets_deleted": _l("Old visitors' tickets deleted"),
        }
    )

    @app.cli.group("support", help="Support tickets.")
    def support_group() -> None:
        pass

    @support_group.command(
        "auto-close",
        help="Close tickets waiting for their requester for too long (run it daily from cron).",
    )
    @click.option("--days", type=int, default=None, help="Override SUPPORT_AUTO_CLOSE_DAYS.")
    def auto_close_command(days: int | None) -> None:
        from app.db import session_scope
        from app.mail import send_queued

        settings = SupportSettings.from_config(app.config)
        with session_scope(app) as session:
            closed = operations.auto_close(session, settings, days=days)
            files = visitors.delete_old_visitor_tickets(
                session, days=int(app.config["SUPPORT_VISITOR_KEEP_DAYS"])
            )
        # Files go once the rows are gone (a file left over is swept by sweep-files).
        AttachmentStore(Path(app.config["SUPPORT_ATTACHMENT_DIR"])).remove(files)
        click.echo(f"{closed} ticket(s) closed")
        if closed:
            send_queued(app)

    @support_group.command(
        "sweep-files",
        help="Remove attachment files that no ticket refers to any more (run it daily).",
    )
    def sweep_files_command() -> None:
        from app.db import session_scope

        with session_scope(app) as session:
            removed = cleanup.sweep_orphan_files(
                session, AttachmentStore(Path(app.config["SUPPORT_ATTACHMENT_DIR"]))
            )
        click.echo(f"{removed} file(s) removed")

    support_group.add_command(mail_cli.receive_command)
    support_group.add_command(mail_cli.fetch_command)
    mail_cli.register_tasks(app)


from app.support import contact_views, staff_views, views  # noqa: E402,F401


def waiting_for_person(session: Session, account: Any) -> list[Attention]:
    """The account page's lines: tickets where the team waits for the person's answer."""
    from app.accounts.attention import Attention
    from app.support import queries

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
    from app.support.forms import CATEGORY_LABELS

    return str(CATEGORY_LABELS.get(code, code))


def _service_name(slug: str) -> str:
    from app.support.views import service_names

    return service_names().get(slug, slug)
