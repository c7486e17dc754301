"""Staff forms of the transparency register and the warrant canary."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.transparency.labels import AUTHORITY_KIND_LABELS, REQUEST_KIND_LABELS, RESPONSE_LABELS


def _choices(labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


NO_PERSONAL_DATA = _l("No names, addresses or account identifiers: this text is public.")


class AuthorityRequestForm(FlaskForm):
    received_on = DateField(
        _l("Date received"), validators=[InputRequired(_l("Give the date the request arrived."))]
    )
    authority_kind = SelectField(_l("Kind of authority"), choices=_choices(AUTHORITY_KIND_LABELS))
    legal_basis = StringField(
        _l("Legal basis"),
        validators=[DataRequired(_l("Give the law or procedure invoked.")), Length(max=300)],
        description=_l("The law or procedure the authority invoked, e.g. an article of a code."),
    )
    request_kind = SelectField(_l("What was asked"), choices=_choices(REQUEST_KIND_LABELS))
    summary = TextAreaField(
        _l("Details of the request"),
        validators=[DataRequired(_l("Describe what was asked.")), Length(max=2000)],
        description=NO_PERSONAL_DATA,
    )
    accounts_concerned = IntegerField(
        _l("Number of accounts concerned"),
        default=1,
        validators=[
            InputRequired(_l("Give the number of accounts concerned (0 if none).")),
            NumberRange(min=0, max=1_000_000),
        ],
    )
    response = SelectField(_l("Our answer"), choices=_choices(RESPONSE_LABELS))
    response_summary = TextAreaField(
        _l("Details of the answer"),
        validators=[Optional(), Length(max=2000)],
        description=NO_PERSONAL_DATA,
    )
    answered_on = DateField(
        _l("Date of the answer"),
        validators=[Optional()],
        description=_l("Leave empty while the answer is pending."),
    )


class CanaryForm(FlaskForm):
    statement_date = DateField(
        _l("Date of the statement"), validators=[InputRequired(_l("Give the statement's date."))]
    )
    next_update_by = DateField(
        _l("Next update by"),
        validators=[InputRequired(_l("Give the date of the next statement."))],
        description=_l(
            "If no new statement is published by then, the page marks this one as stale."
        ),
    )
    statement = TextAreaField(
        _l("Statement"),
        validators=[DataRequired(_l("Write the statement.")), Length(max=5000)],
    )
    signed_text = TextAreaField(
        _l("OpenPGP clear-signed text (optional)"),
        validators=[Optional(), Length(max=20000)],
        description=_l(
            "Paste the output of gpg --clearsign: it is shown exactly as pasted so anyone "
            "can check the signature."
        ),
    )
    signing_key = StringField(
        _l("Fingerprint of the signing key (optional)"),
        validators=[Optional(), Length(max=200)],
        render_kw={"spellcheck": "false", "autocapitalize": "none"},
    )
