"""Deletion step outcomes in the reader's language.

Connectors and the pipeline record an outcome as plain English text (it is also what the
logs carry; the worker runs connectors in English for that). The staff page and the
receipt show the outcomes they know in the reader's language, and anything else — a
program's own output, a remote service's own words, an exception — as it was written.

The protocol connectors list their messages in OUTCOMES (English msgids marked with N_);
each becomes a pattern here, its placeholders matching the recorded values, which are
translated in turn when they are known messages too ("… cannot be reached: Connection
refused"). A recorded outcome may hold one message a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

# (the recorded English text as a pattern, its translatable wording with the same groups)
_KNOWN = [
    (r"no panel account: nothing to delete", _l("No panel account: nothing to delete.")),
    (r"panel data deleted", _l("Panel data deleted.")),
    (r"Panel data and account removed\.", _l("Panel data and account removed.")),
    (r"no folder: nothing to delete", _l("No folder: nothing to delete.")),
    (r"Nothing to delete: checked by hand\.", _l("Nothing to delete: checked by hand.")),
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


@cache
def connector_messages() -> tuple[str, ...]:
    """Every protocol connector's outcome messages.

    Imported here, on the first outcome shown (a staff page, a receipt), not at start-up:
    the deletion views import this module, and web workers otherwise never load the IMAP,
    DAV, Matrix and HTTP connectors (XML, tar, imaplib: several MiB per worker).
    """
    # Web workers' memory: the protocol connectors load on the first outcome shown.
    from app.connectors import dav, http, imap, matrix, web

    return (*web.OUTCOMES, *dav.OUTCOMES, *http.OUTCOMES, *matrix.OUTCOMES, *imap.OUTCOMES)


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _pattern(msgid: str) -> str:
    """The msgid as a pattern: its text literally, each placeholder as a named group."""
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for found in _PLACEHOLDER.finditer(msgid):
        parts.append(re.escape(msgid[position : found.start()]))
        name = found.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = found.end()
    parts.append(re.escape(msgid[position:]))
    return "".join(parts)


def _translated(msgid: str) -> Callable[[], str]:
    return lambda: gettext(msgid)


@cache
def _compiled() -> list[tuple[re.Pattern[str], Callable[[], str]]]:
    known: list[tuple[str, Callable[[], str]]] = [
        *((pattern, wording.__str__) for pattern, wording in _KNOWN),
        *((_pattern(msgid), _translated(msgid)) for msgid in connector_messages()),
    ]
    # The longest literal text first, so that "%(x)s removed" never takes a more precise one.
    known.sort(key=lambda entry: len(_PLACEHOLDER.sub("", entry[0])), reverse=True)
    return [(re.compile(pattern, re.DOTALL), wording) for pattern, wording in known]


# ConnectorError.staff_detail(): a connector's message, then the server's own words. Tried
# first: "refused %(command)s" would otherwise take the server's words as its command.
_SERVER_ANSWER = re.compile(r"(?P<message>.+?) \(server: (?P<answer>.*)\)", re.DOTALL)
_WITH_ANSWER = _l("%(message)s (the server answered: %(answer)s)")


def _sentence(text: str, depth: int = 0) -> Markup:
    with_answer = _SERVER_ANSWER.fullmatch(text.strip())
    if with_answer and depth == 0:
        answered = Markup(escape(str(_WITH_ANSWER)))  # nosec B704 # noqa: S704 - escaped here
        return answered % {
            "message": _sentence(with_answer["message"], depth + 1),
            "answer": escape(with_answer["answer"]),
        }
    for pattern, wording in _compiled():
        found = pattern.fullmatch(text.strip())
        if found:
            # Paths and reasons are technical text: kept as recorded, escaped; a value that
            # is itself a known message (a reason) is translated too.
            values = {
                name: _sentence(value, depth + 1) if depth < 2 else escape(value)
                for name, value in found.groupdict().items()
            }
            template = _PLACEHOLDER.sub(lambda m: f"%({m.group(1)})s", wording())
            sentence = Markup(escape(template))  # nosec B704 # noqa: S704 - escaped just here
            return sentence % values
    return escape(text)


def describe_outcome(detail: str | None) -> Markup:
    """The recorded outcome in the reader's language, line by line, where it is known."""
    if not detail:
        return Markup("")
    lines = [line for line in detail.splitlines() if line.strip()]
    return Markup("<br>").join(_sentence(line) for line in lines)


def describe_outcome_text(detail: str | None) -> str:
    """The same as plain text (for e-mail), one line a message."""
    if not detail:
        return ""
    lines = [line for line in detail.splitlines() if line.strip()]
    return "\n".join(_sentence(line).unescape() for line in lines)
