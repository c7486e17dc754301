"""Forms of the accounts area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    login = StringField(
        _l("Login"),
        validators=[DataRequired(_l("Enter your login.")), Length(max=256)],
        description=_l("The account name you use for the hoster's services."),
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class ReauthForm(FlaskForm):
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=1024)],
        description=_l("For your safety we ask for your password again before this action."),
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class TimeZoneForm(FlaskForm):
    """Which zone times are shown in: the device's (detected by the browser) or the hoster's."""

    zone = SelectField(
        _l("Show times in"),
        choices=[
            SelectChoice("device", _l("My device's time zone (when it differs, with the offset)")),
            SelectChoice("hoster", _l("The hoster's time zone, always")),
        ],
    )
