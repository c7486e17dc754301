"""Forms of moving house: the archive to upload, or the old panel and its transfer code."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FileField, PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, Length


class UploadForm(FlaskForm):
    archive = FileField(
        _l("The ZIP archive exported from your old panel"),
        render_kw={"accept": ".zip,application/zip"},
    )


class TransferForm(FlaskForm):
    panel_url = StringField(
        _l("Address of your old panel"),
        validators=[DataRequired(_l("Give the address of your old panel.")), Length(max=2000)],
        render_kw={"autocomplete": "url", "inputmode": "url", "spellcheck": "false",
                   "autocapitalize": "none", "placeholder": "https://panel.example.org"},
    )  # fmt: skip
    code = PasswordField(
        _l("Transfer code"),
        validators=[DataRequired(_l("Give the transfer code you made there.")), Length(max=200)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )

    def validate_panel_url(self, field: StringField) -> None:
        parts = urlsplit((field.data or "").strip())
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.username:
            raise ValidationError(_l("Give an address starting with https://."))
