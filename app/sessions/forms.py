"""The staff's confirmation before signing an account out of every browser."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired


class StaffEndAllForm(FlaskForm):
    # A checkbox, not a second page: the list of sessions is what staff confirm against.
    confirm = BooleanField(
        _l("Yes, sign this account out of every browser now"),
        description=_l(
            "The person must sign in again everywhere. Their data and their account stay as "
            "they are; the action is written in their activity log."
        ),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )
