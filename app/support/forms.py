"""Forms of the support area (the services check the values again, as domain rules)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)


class Required:
    """Marks a field required (label and browser); the support services check the value."""

    field_flags = {"required": True}

    def __call__(self, form: object, field: object) -> None:
        return None


CATEGORY_LABELS = {
    "question": _l("A question"),
    "problem": _l("Something does not work"),
    "account": _l("My account"),
    "data_request": _l("My personal data (access, correction, export)"),
    "other": _l("Something else"),
}


def attachments_field() -> MultipleFileField:
    return MultipleFileField(
        _l("Attachments"),
        description=_l("Optional."),
        render_kw={"accept": ".png,.jpg,.jpeg,.gif,.webp,.pdf,.txt,.log,.odt,.ods,.odp"},
    )


class TicketForm(FlaskForm):
    subject = StringField(
        _l("Subject"),
        validators=[Required()],
        description=_l("A few words, for example “Cannot sign in to the cloud from my phone”."),
        render_kw={"maxlength": 200, "autocomplete": "off"},
    )
    service = SelectField(_l("Service"), validators=[Required()], validate_choice=False)
    category = SelectField(
        _l("Kind of request"),
        # A required select starts with an empty choice: no kind is picked for the person.
        choices=[
            SelectChoice("", _l("Choose the kind of request")),
            *(SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()),
        ],
        validators=[Required()],
        validate_choice=False,
    )
    body = TextAreaField(
        _l("Your message"),
        validators=[Required()],
        description=_l(
            "Say what you did, what you expected and what happened. "
            "Never send your password: the team will never ask for it."
        ),
        render_kw={"rows": 10},
    )
    attachments = attachments_field()


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Your reply"),
        validators=[Required()],
        render_kw={"rows": 8},
    )
    attachments = attachments_field()


class StaffReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Message"),
        validators=[Required()],
        render_kw={"rows": 10},
    )
    internal = BooleanField(
        _l("Internal note (only staff see it; the requester is not told)"),
    )
    then_state = SelectField(
        _l("After a reply, the ticket is"),
        choices=[
            SelectChoice("waiting_user", _l("Waiting for the requester")),
            SelectChoice("closed", _l("Closed")),
        ],
        default="waiting_user",
        validate_choice=False,
        description=_l("Ignored for internal notes, which never change the state."),
    )
    attachments = attachments_field()


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assigned to"), validate_choice=False)


class StateForm(FlaskForm):
    state = SelectField(_l("State"), validate_choice=False)


class CannedReplyForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[Required()],
        render_kw={"maxlength": 120},
    )
    body = TextAreaField(
        _l("Text in French"),
        validators=[Required()],
        description=_l(
            "Used for requesters who read French, and for everyone when there is no English "
            "text. Placeholders such as {name} are filled in when the reply is inserted."
        ),
        render_kw={"rows": 8, "lang": "fr"},
    )
    body_en = TextAreaField(
        _l("Text in English"),
        description=_l("Optional. Used for requesters who read English."),
        render_kw={"rows": 8, "lang": "en"},
    )
    reply_id = HiddenField()


class ContactForm(FlaskForm):
    """The public contact form: a visitor opens a ticket with an address, no account."""

    email = StringField(
        _l("Your e-mail address"),
        validators=[Required()],
        description=_l("The team answers you there. It is used for nothing else."),
        render_kw={"type": "email", "maxlength": 320, "autocomplete": "email"},
    )
    subject = StringField(
        _l("Subject"),
        validators=[Required()],
        description=_l("A few words, for example “Can I join?”."),
        render_kw={"maxlength": 200, "autocomplete": "off"},
    )
    body = TextAreaField(
        _l("Your message"), validators=[Required()], render_kw={"rows": 8, "maxlength": 100_000}
    )
    # The honeypot: hidden from people (CSS and aria-hidden), filled in by form-filling robots.
    website = StringField(
        _l("Leave this field empty"),
        render_kw={"autocomplete": "off", "tabindex": "-1"},
    )
