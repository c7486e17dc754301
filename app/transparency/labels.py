"""Readable names of the register's codes, shared by forms and pages."""

from flask_babel import lazy_gettext as _l

AUTHORITY_KIND_LABELS = {
    "judicial": _l("Court or judge"),
    "police": _l("Police or gendarmerie"),
    "administrative": _l("Administrative authority"),
    "intelligence": _l("Intelligence service"),
    "foreign": _l("Foreign authority"),
    "other": _l("Other authority"),
}
REQUEST_KIND_LABELS = {
    "identification": _l("Identify an account holder (subscriber data)"),
    "content": _l("Hand over content (messages, files)"),
    "removal": _l("Remove content"),
    "suspension": _l("Suspend or close an account"),
    "preservation": _l("Preserve data for later"),
    "other": _l("Other request"),
}
RESPONSE_LABELS = {
    "pending": _l("Not answered yet"),
    "complied": _l("Complied"),
    "partial": _l("Partly complied"),
    "refused": _l("Refused"),
    "contested": _l("Contested before a court"),
    "no_data": _l("No data held"),
}
