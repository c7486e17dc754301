"""Plain-language wording of the profile's codes (provider type, server type...) for the pages."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.profile.model import Host, HosterProfile
from app.profile.texts import LocalizedText, country_name

PROVIDER_TYPE_LABELS = {
    "HOME": _l("At home (self-hosted at a member's place)"),
    "HOSTEDBAY": _l("Our own server in a rented data-centre bay"),
    "HOSTEDSERVER": _l("Server rented from a provider"),
    "OUTSOURCED": _l("Infrastructure run by a provider"),
}
SERVER_TYPE_LABELS = {
    "NANO": _l("Nano-computer"),
    "PHYSICAL": _l("Physical server"),
    "VIRTUAL": _l("Virtual machine"),
    "SHARED": _l("Shared hosting"),
    "CLOUD": _l("Cloud instances"),
}
REGISTRATION_LABELS = {
    "None": _l("No account needed"),
    "Free": _l("Open to anyone, free account"),
    "Member": _l("For members only"),
    "Client": _l("For clients only"),
}
INSTALL_TYPE_LABELS = {
    "DISTRIBUTION": _l("Package of the distribution"),
    "PROVIDER": _l("Provided by the hosting provider"),
    "PACKAGE": _l("Package from the software's own repository"),
    "TOOLING": _l("Installed with a deployment tool"),
    "CLONEREPO": _l("Cloned from the source repository"),
    "ARCHIVE": _l("Installed from a release archive"),
    "SOURCES": _l("Built from source"),
    "CONTAINER": _l("Container image"),
}
STATUS_LABELS = {
    "ok": _l("Working normally"),
    "warning": _l("Minor trouble"),
    "alert": _l("Degraded"),
    "error": _l("Out of order"),
    "over": _l("Closed"),
    "void": _l("Status unknown"),
}
ORGANISATION_TYPE_LABELS = {
    "association": _l("Association"),
    "informal": _l("Informal group"),
    "co-op": _l("Co-operative"),
    "micro-company": _l("Micro-company"),
    "company": _l("Company"),
    "individual": _l("Individual"),
    "other": _l("Other"),
}
MEMBERSHIP_LABELS = {
    "ACTIVE": _l("Active member"),
    "IDLE": _l("Member, currently inactive"),
    "AWAY": _l("Former member"),
}
ACCESSIBILITY_LEVEL_LABELS = {
    "full": _l("Fully compliant"),
    "partial": _l("Partially compliant"),
    "none": _l("Not compliant"),
}

_SERVER_SENTENCES = {
    "NANO": _l("Your data is on a nano-computer (a small single-board server)."),
    "PHYSICAL": _l("Your data is on a physical server."),
    "VIRTUAL": _l("Your data is on a virtual machine (a share of a bigger physical server)."),
    "SHARED": _l("Your data is on a shared hosting space (a server shared with other customers)."),
    "CLOUD": _l("Your data is on cloud instances (virtual servers created on demand)."),
}


# SPDX identifiers shown as the licence's name. GNU and other proper names stay as they
# are; generic words ("License") are translated.
_LICENCE_NAMES = {
    "AGPL-3.0": "GNU Affero General Public License v3.0",
    "GPL-2.0": "GNU General Public License v2.0",
    "GPL-3.0": "GNU General Public License v3.0",
    "LGPL-2.1": "GNU Lesser General Public License v2.1",
    "LGPL-3.0": "GNU Lesser General Public License v3.0",
    "MPL-2.0": "Mozilla Public License 2.0",
    "EUPL-1.2": "European Union Public Licence 1.2",
    "CECILL-2.1": "CeCILL 2.1",
    "CC0-1.0": "Creative Commons Zero v1.0",
    "Unlicense": "The Unlicense",
    "MIT": _l("MIT License"),
    "Apache-2.0": _l("Apache License 2.0"),
    "BSD-2-Clause": _l("BSD 2-Clause License"),
    "BSD-3-Clause": _l("BSD 3-Clause License"),
    "ISC": _l("ISC License"),
}
_LICENCE_OPERATORS = {"AND": _l("and"), "OR": _l("or"), "WITH": _l("with")}


def licence_name(expression: str) -> str:
    """An SPDX expression in words: "MIT AND LGPL-2.1-only" → "MIT License and GNU … only"."""
    words = []
    for token in re.split(r"(\s+|[()])", expression):
        if not token or token.isspace():
            continue
        if token in ("(", ")"):
            words.append(token)
        elif token in _LICENCE_OPERATORS:
            words.append(str(_LICENCE_OPERATORS[token]))
        else:
            words.append(_one_licence(token))
    return re.sub(r"\( | \)", lambda m: m.group(0).strip(), " ".join(words))


def _one_licence(identifier: str) -> str:
    for suffix, wording in (
        ("-or-later", _l("%(licence)s or later")),
        ("-only", _l("%(licence)s only")),
        ("+", _l("%(licence)s or later")),
    ):
        base = identifier.removesuffix(suffix)
        if base != identifier and base in _LICENCE_NAMES:
            return str(wording) % {"licence": _LICENCE_NAMES[base]}
    return str(_LICENCE_NAMES.get(identifier, identifier))


def country(code: str | None) -> str:
    if not code:
        return ""
    return country_name(code, str(get_locale() or "en"))


def provider_sentence(host: Host) -> str:
    where = country(host.country)
    name = host.provider_name
    if host.provider_type == "HOME":
        if where:
            return _(
                "The machine is at the home of one of our members (%(country)s).", country=where
            )
        return _("The machine is at the home of one of our members.")
    if host.provider_type == "HOSTEDBAY":
        if where:
            return _(
                "We own the machine; it sits in a bay rented from %(provider)s (%(country)s).",
                provider=name,
                country=where,
            )
        return _("We own the machine; it sits in a bay rented from %(provider)s.", provider=name)
    if host.provider_type == "OUTSOURCED":
        if where:
            return _(
                "%(provider)s runs the machine for us (%(country)s).", provider=name, country=where
            )
        return _("%(provider)s runs the machine for us.", provider=name)
    if where:
        return _(
            "We rent the machine from %(provider)s (%(country)s).", provider=name, country=where
        )
    return _("We rent the machine from %(provider)s.", provider=name)


def contract_sentence(host: Host) -> str:
    if host.provider_type == "HOME":
        return ""
    if host.contract_forbids_access is True:
        return _(
            "%(provider)s's contract forbids it to access the data.", provider=host.provider_name
        )
    if host.contract_forbids_access is False:
        return _(
            "%(provider)s's contract does not forbid it to access the data.",
            provider=host.provider_name,
        )
    return _(
        "We have not said whether %(provider)s's contract forbids it to access the data.",
        provider=host.provider_name,
    )


def _sentence(message: str, who: LocalizedText) -> Markup:
    """The hoster's words inside a translated sentence, marked with their language.

    `message` is translated without arguments (so not yet formatted): Markup's `%` then
    escapes the sentence and keeps the `<span lang>` of the hoster's words.
    """
    sentence = Markup(escape(message))  # nosec B704 # noqa: S704 - escaped just here
    return sentence % {"who": who.map(lambda words: words.rstrip("."))}


def host_summary(host: Host) -> list[str]:
    """The host in a few plain sentences: what machine, where, whose, who can get at the data."""
    sentences = [str(_SERVER_SENTENCES[host.server_type]), provider_sentence(host)]
    contract = contract_sentence(host)
    if contract:
        sentences.append(contract)
    if host.root_access:
        sentences.append(_sentence(_("Administrator (root) access: %(who)s."), host.root_access))
    else:
        sentences.append(_("We have not said who has administrator (root) access."))
    if host.physical_access:
        sentences.append(_sentence(_("Physical access: %(who)s."), host.physical_access))
    return sentences


def labels() -> dict[str, object]:
    """Every label table, for templates."""
    return {
        "provider_types": PROVIDER_TYPE_LABELS,
        "server_types": SERVER_TYPE_LABELS,
        "registrations": REGISTRATION_LABELS,
        "install_types": INSTALL_TYPE_LABELS,
        "statuses": STATUS_LABELS,
        "organisation_types": ORGANISATION_TYPE_LABELS,
        "memberships": MEMBERSHIP_LABELS,
        "accessibility_levels": ACCESSIBILITY_LEVEL_LABELS,
    }


# What hoster.toml says that is not for the public: staff's connector settings and
# deletion instructions, and the organisation's details the JSON never carried.
_NOT_PUBLIC: dict[str, Any] = {
    "timezone": True,
    "language": True,
    "organisation": {
        "logo",
        "status_description",
        "guide_user_url",
        "guide_technical_url",
        "social_networks",
        "chat_rooms",
        "funding",
        "geolocation",
    },
    "services": {"__all__": {"connector", "manual_deletion", "guide_technical_url"}},
}


def profile_for_json(profile: HosterProfile) -> dict[str, Any]:
    """The public disclosures as plain JSON values (codes, not translated labels).

    Texts are in the reader's language (Accept-Language or ?lang), else French.
    """
    document = profile.model_dump(mode="json", exclude=_NOT_PUBLIC)
    for service in document["services"]:
        service["host"] = service["host"] or None  # "" while no host is declared
    return document
