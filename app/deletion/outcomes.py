"""Deletion step outcomes in the reader's language.

Connectors and the pipeline record an outcome as plain English text (it is also what the
logs carry). The staff page shows the outcomes it knows in the reader's language, and
anything else — a program's own output, an exception — as it was written.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

# (the recorded English text as a pattern, its translatable wording with the same groups)
_KNOWN = [
    (r"no panel account: nothing to delete", _l("No panel account: nothing to delete.")),
    (r"panel data deleted", _l("Panel data deleted.")),
    (r"Panel data and account removed\.", _l("Panel data and account removed.")),
    (r"no folder: nothing to delete", _l("No folder: nothing to delete.")),
    (
        r"(?P<path>.+) is a link: delete its target by hand",
        _l("%(path)s is a link: delete its target by hand."),
    ),
    (
        r"(?P<path>.+) could not be removed: (?P<reason>.+)",
        _l("%(path)s could not be removed: %(reason)s."),
    ),
    (r"(?P<path>/.+) removed", _l("%(path)s removed.")),
    (r"entry removed", _l("Directory entry removed.")),
    (r"entry already gone", _l("The entry was already gone from the directory.")),
    (r"Entry and group memberships removed\.", _l("Entry and group memberships removed.")),
    (
        r"The entry was already gone from the directory\.",
        _l("The entry was already gone from the directory."),
    ),
    (
        r"no delete command configured: delete by hand",
        _l("No delete command is configured: delete by hand."),
    ),
    (
        r"the program took longer than (?P<seconds>[\d.]+) s",
        _l("The program took longer than %(seconds)s s."),
    ),
    (
        r"the program could not be started: (?P<reason>.+)",
        _l("The program could not be started: %(reason)s."),
    ),
    (
        r"No connector is registered for this service any more: delete the data by hand, "
        r"then mark the step done\.",
        _l(
            "No connector is registered for this service any more: delete the data by hand, "
            "then mark the step done."
        ),
    ),
    (
        r"The directory could not be reached: (?P<reason>.+)",
        _l("The directory could not be reached: %(reason)s"),
    ),
    (
        r"The service did not answer in time \((?P<reason>.+)\)\.",
        _l("The service did not answer in time (%(reason)s)."),
    ),
]
_COMPILED = [(re.compile(pattern, re.DOTALL), wording) for pattern, wording in _KNOWN]


def describe_outcome(detail: str | None) -> Markup:
    """The recorded outcome in the reader's language when it is a known one."""
    if not detail:
        return Markup("")
    for pattern, wording in _COMPILED:
        found = pattern.fullmatch(detail.strip())
        if found:
            # Paths and reasons are technical text: kept as recorded, escaped.
            sentence = Markup(escape(str(wording)))  # nosec B704 # noqa: S704 - escaped just here
            return sentence % found.groupdict()
    return escape(detail)
