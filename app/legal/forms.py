"""Forms of the terms area: publishing a version (staff) and accepting new terms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.legal.services import MAX_SUMMARY_CHARS


class PublishForm(FlaskForm):
    summary_fr = TextAreaField(
        _l("What changes, in French"),
        validators=[
            DataRequired(_l("Say in a sentence or two what changes in this version.")),
            Length(max=MAX_SUMMARY_CHARS),
        ],
        description=_l(
            "Shown to every user before they accept, and in the history. Plain words, no Markdown."
        ),
        render_kw={"rows": 3, "lang": "fr"},
    )
    body_fr = TextAreaField(
        _l("Text in French (Markdown)"),
        validators=[DataRequired(_l("The text is empty. Write the text of this version."))],
        description=_l(
            "The full text, not only the changes. Markdown: “## Title” for a section, "
            "“- ” for a list, [words](https://…) for a link. HTML is shown as text."
        ),
        render_kw={"rows": 24, "lang": "fr", "spellcheck": "true"},
    )
    summary_en = TextAreaField(
        _l("What changes, in English"),
        validators=[Optional(), Length(max=MAX_SUMMARY_CHARS)],
        description=_l("Optional. Without it, English readers see the French summary."),
        render_kw={"rows": 3, "lang": "en"},
    )
    body_en = TextAreaField(
        _l("Text in English (Markdown)"),
        validators=[Optional()],
        description=_l(
            "Optional translation. Without it, English readers see the French text, "
            "which is the one that applies."
        ),
        render_kw={"rows": 24, "lang": "en", "spellcheck": "true"},
    )
    effective_on = DateField(
        _l("Takes effect on"),
        validators=[Optional()],
        description=_l(
            "Leave empty for now. With a later date, users are asked to accept from that "
            "day on, and the current version stays in effect until then."
        ),
        format="%Y-%m-%d",
    )


class AcceptForm(FlaskForm):
    versions = HiddenField()
    next = HiddenField()
