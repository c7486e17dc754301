"""Plain-language wording of the profile's codes (provider type, server type...) for the pages."""

from __future__ import annotations

import re
from dataclasses import asdict, is_dataclass
from datetime import date

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.hoster.model import Closing, Host, HosterProfile
from app.hoster.texts import LocalizedText, country_name

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


def profile_for_json(profile: HosterProfile) -> dict[str, object]:
    """The public disclosures as plain JSON values (codes, not translated labels).

    Connector settings and staff deletion instructions are internal and left out.
    """
    org = profile.organisation

    def day(value: object) -> str | None:
        return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

    policies = profile.policies
    return {
        "organisation": {
            "name": org.name,
            "type": org.type,
            "description": _plain(org.description),
            "website": org.website,
            "contact_url": org.contact_url,
            "contact_email": org.contact_email,
            "country": org.country,
            "legal_notice_url": org.legal_notice_url,
            "start_date": day(org.start_date),
            "status": org.status,
            "end_date": day(org.end_date),
            "closing": _closing(org.closing),
            "membership": {"status": org.membership_status, "since": org.membership_since},
        },
        "hosts": [
            {
                "slug": h.slug,
                "name": _plain(h.name),
                "description": _plain(h.description),
                "provider_name": h.provider_name,
                "provider_website": h.provider_website,
                "provider_type": h.provider_type,
                "server_type": h.server_type,
                "hypervisor": h.hypervisor,
                "country": h.country,
                "root_access": _plain(h.root_access),
                "physical_access": _plain(h.physical_access),
                "contract_forbids_access": h.contract_forbids_access,
                "contract_url": h.contract_url,
                "distribution": h.distribution,
            }
            for h in profile.hosts
        ],
        "services": [
            {
                "slug": s.slug,
                "name": _plain(s.name),
                "description": _plain(s.description),
                "url": s.url,
                "host": s.host or None,
                "status": s.status,
                "registration": s.registration,
                "registration_load": s.registration_load,
                "end_date": day(s.end_date),
                "closing": _closing(s.closing),
                "install_type": s.install_type,
                "guide_url": s.guide_url,
                "data_location": _plain(s.data_location),
                "retention": _plain(s.retention),
                "start_date": day(s.start_date),
                "software": {
                    "name": s.software.name,
                    "version": s.software.version,
                    "licence": s.software.licence,
                    "website": s.software.website,
                    "source_url": s.software.source_url,
                    "modifications_url": s.software.modifications_url,
                },
            }
            for s in profile.services
        ],
        "policies": {
            "backups": _as_dict(policies.backups),
            "security": _as_dict(policies.security),
            "encryption": _as_dict(policies.encryption),
            "logs": _as_dict(policies.logs),
            "sub_processors": [_as_dict(p) for p in policies.sub_processors]
            if policies.sub_processors is not None
            else None,
            "nonfree": [_as_dict(c) for c in policies.nonfree]
            if policies.nonfree is not None
            else None,
            "accessibility": _as_dict(policies.accessibility),
        },
        "offer": _as_dict(profile.offer),
        "reports": _as_dict(profile.reports),
    }


def _as_dict(value: object) -> object:
    if value is None or not is_dataclass(value) or isinstance(value, type):
        return None

    def clean(item: object) -> object:
        if isinstance(item, date):
            return item.isoformat()
        if isinstance(item, LocalizedText):
            return _plain(item)
        if isinstance(item, dict):
            return {k: clean(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [clean(v) for v in item]
        return item

    return clean(asdict(value))


def _closing(closing: Closing | None) -> dict[str, object] | None:
    if closing is None:
        return None
    return {"date": closing.date.isoformat(), "message": _plain(closing.message)}


def _plain(text: LocalizedText | None) -> str | None:
    """JSON carries the reader's language (Accept-Language or ?lang), else French."""
    return str(text) if text else None
