"""Staff forms of the incident journal; the rules themselves live in services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.incidents.labels import IMPACT_HINTS, IMPACT_LABELS, VISIBILITY_LABELS
from app.incidents.models import INCIDENT_IMPACTS, VISIBILITIES

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
MARKDOWN_HINT = _l("Plain text; Markdown links, lists and emphasis work. HTML is not allowed.")


class StaffForm(FlaskForm):
    """The global CSRFProtect checks every POST; pages hold several prefixed forms, so the
    templates carry one plain `csrf_token` input instead of a per-form token field."""

    class Meta:
        csrf = False


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def service_choices(services: Any) -> list[SelectChoice]:
    return [SelectChoice(s.slug, s.name) for s in services]


def impact_choices() -> list[SelectChoice]:
    return [SelectChoice(i, f"{IMPACT_LABELS[i]} — {IMPACT_HINTS[i]}") for i in INCIDENT_IMPACTS]


def visibility_choices() -> list[SelectChoice]:
    return [SelectChoice(v, VISIBILITY_LABELS[v]) for v in VISIBILITIES]


def to_utc(local: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A datetime-local value, read in the hoster's time zone."""
    if local is None:
        return None
    return local.replace(tzinfo=tz).astimezone(UTC)


def _services_field() -> CheckboxesField:
    return CheckboxesField(
        _l("Affected services"), description=_l("Tick every service that is affected.")
    )


def _visibility_field() -> RadioField:
    return RadioField(
        _l("Who can see it"),
        choices=visibility_choices(),
        default="public",
        description=_l("Hosted-users-only entries stay out of the public page and the feeds."),
    )


def _within_reason(_form: Any, field: Any) -> None:
    """Refuse the ends of the calendar: they cannot even be moved to UTC."""
    if field.data is not None and not 1970 <= field.data.year <= 9000:
        raise ValidationError(_l("Choose a date between 1970 and 9000."))


def _time_field(label: Any, description: Any) -> DateTimeLocalField:
    return DateTimeLocalField(
        label,
        format=LOCAL_FORMAT,
        validators=[Optional(), _within_reason],
        description=description,
    )


class OpenIncidentForm(StaffForm):
    title = StringField(_l("Title"), description=_l("Short and plain: what users notice."))
    services = _services_field()
    impact = RadioField(_l("Impact"), choices=[], default="minor")
    visibility = _visibility_field()
    started_at = _time_field(
        _l("Started at (optional)"),
        _l("Leave empty for now. Times are in the hoster's time zone."),
    )
    body = TextAreaField(_l("First message (optional)"), description=MARKDOWN_HINT)


class MaintenanceForm(StaffForm):
    title = StringField(_l("Title"), description=_l("What will be done, in plain words."))
    services = _services_field()
    window_start = _time_field(_l("Window starts"), _l("In the hoster's time zone."))
    window_end = _time_field(_l("Window ends"), _l("In the hoster's time zone."))
    visibility = _visibility_field()
    body = TextAreaField(_l("Announcement (optional)"), description=MARKDOWN_HINT)


class UpdateForm(StaffForm):
    body = TextAreaField(_l("Update"), description=MARKDOWN_HINT)
    status = SelectField(_l("New status"), choices=[], default="")
    reopen = BooleanField(
        _l("Reopen this resolved incident"),
        description=_l("Needed to move a resolved incident back to an open status."),
    )
    corrects_id = SelectField(
        _l("This corrects an earlier update"),
        choices=[],
        default="",
        description=_l("The earlier update stays in the timeline, marked as corrected."),
    )


class ResolveForm(StaffForm):
    body = TextAreaField(_l("Closing message (optional)"), description=MARKDOWN_HINT)
    resolved_at = _time_field(
        _l("Resolved at (optional)"),
        _l("Leave empty for now. In the hoster's time zone."),
    )


class DetailsForm(StaffForm):
    title = StringField(_l("Title"))
    services = _services_field()
    impact = RadioField(_l("Impact"), choices=[])
    window_start = _time_field(_l("Window starts"), _l("In the hoster's time zone."))
    window_end = _time_field(_l("Window ends"), _l("In the hoster's time zone."))
    visibility = _visibility_field()


class PostmortemForm(StaffForm):
    postmortem = TextAreaField(
        _l("Post-mortem"),
        description=_l(
            "What happened, why, and what changes so it does not happen again. "
            "Markdown; leave empty to remove it."
        ),
    )
