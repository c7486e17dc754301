"""Forms of the deletion area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional


class RequestDeletionForm(FlaskForm):
    confirm_login = StringField(
        _l("Type your login to confirm"),
        validators=[DataRequired(_l("Type your login to confirm.")), Length(max=256)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    # The account's own mailbox is usually deleted with it: the receipt would be lost.
    receipt_to = EmailField(
        _l("Where to send the receipt (optional)"),
        validators=[Optional(), Length(max=320)],
        render_kw={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false"},
    )
    receipt_anyway = BooleanField(
        _l("Send the receipt to this address anyway: it is not deleted with my account.")
    )


class RefuseForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for refusing"),
        validators=[DataRequired(_l("Give the reason: the user will read it.")), Length(max=2000)],
        description=_l(
            "The user reads this on their deletion page and in an e-mail, e.g. a legal hold."
        ),
    )


class ManualStepForm(FlaskForm):
    # The receipt says "deleted by our team" only when the team did delete something.
    found = RadioField(
        _l("What you found"),
        choices=[
            SelectChoice("deleted", _l("I deleted the person's data")),
            SelectChoice("nothing", _l("There was nothing to delete")),
        ],
        default="deleted",
        validators=[DataRequired()],
    )
    comment = TextAreaField(
        _l("What you did"),
        validators=[DataRequired(_l("Say what you did, for the record.")), Length(max=2000)],
        description=_l("Kept in the deletion record; do not write the person's name here."),
    )
