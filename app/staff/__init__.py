"""Staff home: an overview of the queues; each feature keeps its own staff views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, render_template
from sqlalchemy.orm import Session

from app import mail
from app.db import get_session
from app.security import staff_required

bp = Blueprint("staff", __name__, url_prefix="/staff")


@dataclass(frozen=True)
class StaffQueue:
    """One line on the staff home: a label, how many items wait, where to process them."""

    label: Callable[[], str]
    count: Callable[[Session], int]
    endpoint: str


def register_queue(app: Flask, queue: StaffQueue) -> None:
    app.extensions.setdefault("panel_staff_queues", []).append(queue)


@bp.route("/")
@staff_required
def home() -> str:
    queues = current_app.extensions.get("panel_staff_queues", [])
    db = get_session()
    rows = [(q.label(), q.count(db), q.endpoint) for q in queues]
    return render_template("staff/home.html", queues=rows, undelivered_mail=mail.dead_letters(db))
