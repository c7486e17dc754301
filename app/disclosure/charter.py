"""Charter self-assessment: each CHATONS criterion a visitor can check, fulfilled or missing.

Criteria are computed from hoster.toml and from which panel features are installed (an
endpoint name in `app.view_functions`), so a criterion flips as soon as its data or its
feature is added.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.profile.model import HosterProfile

# Common free-software licences (FSF- or OSI-approved), by SPDX identifier.
FREE_LICENCES = frozenset(
    [
        "0BSD",
        "AFL-3.0",
        "AGPL-3.0",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "Apache-1.1",
        "Apache-2.0",
        "APSL-2.0",
        "Artistic-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSD-3-Clause-Clear",
        "BSL-1.0",
        "CC0-1.0",
        "CDDL-1.0",
        "CECILL-2.0",
        "CECILL-2.1",
        "CECILL-B",
        "CECILL-C",
        "ECL-2.0",
        "EFL-2.0",
        "EPL-1.0",
        "EPL-2.0",
        "EUPL-1.1",
        "EUPL-1.2",
        "GPL-2.0",
        "GPL-2.0-only",
        "GPL-2.0-or-later",
        "GPL-3.0",
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "HPND",
        "IPA",
        "ISC",
        "LGPL-2.0-only",
        "LGPL-2.0-or-later",
        "LGPL-2.1",
        "LGPL-2.1-only",
        "LGPL-2.1-or-later",
        "LGPL-3.0",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
        "LPPL-1.3c",
        "MIT",
        "MIT-0",
        "MPL-1.1",
        "MPL-2.0",
        "MS-PL",
        "MS-RL",
        "NCSA",
        "OFL-1.1",
        "OpenSSL",
        "OSL-3.0",
        "PHP-3.01",
        "PostgreSQL",
        "Python-2.0",
        "Ruby",
        "Sleepycat",
        "Unlicense",
        "UPL-1.0",
        "Vim",
        "W3C",
        "WTFPL",
        "X11",
        "Zlib",
        "ZPL-2.1",
    ]
)


@dataclass(frozen=True)
class Criterion:
    key: str
    group: str
    title: str  # what the charter asks, in plain words
    fulfilled: bool
    evidence: str | None = None  # where a visitor can check it
    url: str | None = None
    todo: str | None = None  # what the hoster must add when it is missing


GROUPS = {
    "transparency": _l("Transparency about the hosting"),
    "software": _l("Free software"),
    "rights": _l("Users' rights"),
    "data": _l("Protection of personal data"),
    "offer": _l("Offer and accountability"),
}


def licence_ids(expression: str) -> list[str]:
    """The licence identifiers of an SPDX expression (exceptions after WITH left out)."""
    tokens = [t for t in re.split(r"[()\s]+", expression) if t]
    ids: list[str] = []
    skip_next = False
    for word in tokens:
        if word in ("AND", "OR"):
            continue
        if word == "WITH":
            skip_next = True
            continue
        if skip_next:
            skip_next = False
            continue
        ids.append(word)
    return ids


def assess(profile: HosterProfile, endpoints: Container[str]) -> list[Criterion]:
    """Every criterion, in charter order, for the current request (URLs are built here)."""
    hosting = url_for("hosting.hosting")
    services = url_for("hosting.services")
    policies = profile.policies
    items: list[Criterion] = []

    def add(
        key: str,
        group: str,
        title: str,
        fulfilled: bool,
        evidence: str | None,
        url: str | None,
        todo: str,
    ) -> None:
        items.append(
            Criterion(
                key=key,
                group=group,
                title=title,
                fulfilled=fulfilled,
                evidence=evidence if fulfilled else None,
                url=url if fulfilled else None,
                todo=None if fulfilled else todo,
            )
        )

    def feature(key: str, group: str, title: str, endpoint: str, evidence: str, todo: str) -> None:
        present = endpoint in endpoints
        add(key, group, title, present, evidence, url_for(endpoint) if present else None, todo)

    # Transparency about the hosting -----------------------------------------------------
    add(
        "provider",
        "transparency",
        _("Name the hosting provider of every server"),
        bool(profile.hosts),
        _("Hosting page, one section per server"),
        hosting + "#hosts",
        _("Add a [[hosts]] section per server with provider_name, provider_type and server_type."),
    )
    gaps = []
    for host in profile.hosts:
        missing = [
            key
            for key, value in (
                ("root_access", host.root_access),
                ("physical_access", host.physical_access),
                (
                    "contract_forbids_access",
                    True if host.provider_type == "HOME" else host.contract_forbids_access,
                ),
            )
            if value is None
        ]
        if missing:
            gaps.append(f"{host.slug}: {', '.join(missing)}")
    add(
        "control",
        "transparency",
        _("Say how much control you have over the hardware, the software and the data"),
        bool(profile.hosts) and not gaps,
        _("Hosting page: who has root, who has physical access, what the contract says"),
        hosting + "#hosts",
        _("Complete these [[hosts]] keys: %(keys)s.", keys="; ".join(gaps))
        if gaps
        else _("Add [[hosts]] sections first."),
    )
    add(
        "backups",
        "transparency",
        _("Publish the backup policy"),
        policies.backups is not None,
        _("Hosting page, backups"),
        hosting + "#backups",
        _("Add [policies.backups] with what, frequency, retention, location and encrypted."),
    )
    add(
        "security",
        "transparency",
        _("Publish the security policy"),
        policies.security is not None,
        _("Hosting page, security"),
        hosting + "#security",
        _("Add [policies.security] with a summary, how updates are applied and a contact."),
    )
    feature(
        "incidents",
        "transparency",
        _("Keep a public journal of technical incidents"),
        "incidents.journal",
        _("Incident journal"),
        _("Install a panel version with the incident journal and keep it up to date."),
    )
    feature(
        "authority_register",
        "transparency",
        _("Keep a list of the requests from authorities about users"),
        "transparency.register",
        _("Transparency register"),
        _("Install a panel version with the transparency register."),
    )

    # Free software ----------------------------------------------------------------------
    no_source = [s.slug for s in profile.services if not s.software.source_url]
    add(
        "sources",
        "software",
        _("Publish the software of each service, with a link to its source code"),
        bool(profile.services) and not no_source,
        _("Services page: software, licence and source of each service"),
        services,
        _("Add software.source_url to these services: %(services)s.", services=", ".join(no_source))
        if no_source
        else _("Add a [[services]] section per service."),
    )
    not_free = [
        s.slug
        for s in profile.services
        if not all(i in FREE_LICENCES for i in licence_ids(s.software.licence))
    ]
    add(
        "free_licences",
        "software",
        _("Run the services on free software"),
        bool(profile.services) and not not_free,
        _("Services page: the licence of each service"),
        services,
        _(
            "The licence of these services is not a known free-software licence: %(services)s. "
            "Use the SPDX identifier of the licence in software.licence.",
            services=", ".join(not_free),
        )
        if not_free
        else _("Add a [[services]] section per service."),
    )
    add(
        "nonfree",
        "software",
        _("List the non-free components (firmware, BIOS…) and why they are needed"),
        policies.nonfree is not None,
        _("Hosting page, non-free components"),
        hosting + "#nonfree",
        _(
            "Add [[policies.nonfree]] entries, "
            "or write nonfree = [] under [policies] if there is none."
        ),
    )

    # Users' rights ----------------------------------------------------------------------
    feature(
        "terms",
        "rights",
        _("Publish clear terms of service, with a personal-data clause"),
        "legal.current_terms",
        _("Terms of service"),
        _("Install a panel version with the terms of service and publish a version."),
    )
    feature(
        "export",
        "rights",
        _("Let users take all their data away, in open formats"),
        "export.export_page",
        _("Data export (for signed-in users)"),
        _("Install a panel version with the data export."),
    )
    feature(
        "deletion",
        "rights",
        _("Delete an account and its data on request"),
        "deletion.request_page",
        _("Account deletion (for signed-in users)"),
        _("Install a panel version with account deletion requests."),
    )
    feature(
        "support",
        "rights",
        _("Offer support to users"),
        "support.index",
        _("Support (for signed-in users)"),
        _("Install a panel version with support tickets."),
    )
    org = profile.organisation
    add(
        "contact",
        "rights",
        _("Give a way to contact the hoster"),
        bool(org.contact_url or org.contact_email),
        _("Hosting page, about the hoster"),
        hosting + "#organisation",
        _("Add organisation.contact_url or organisation.contact_email."),
    )
    accessibility = policies.accessibility
    add(
        "accessibility",
        "rights",
        _("Publish an accessibility statement (conformance level and audit date)"),
        accessibility is not None and accessibility.audit_date is not None,
        _("Hosting page, accessibility"),
        hosting + "#accessibility",
        _("Add [policies.accessibility] with level and audit_date."),
    )

    # Personal data ----------------------------------------------------------------------
    encryption = policies.encryption
    add(
        "encryption",
        "data",
        _("Say how data is encrypted in transit and at rest"),
        encryption is not None and bool(encryption.in_transit and encryption.at_rest),
        _("Hosting page, encryption"),
        hosting + "#encryption",
        _("Add [policies.encryption] with in_transit and at_rest."),
    )
    add(
        "logs",
        "data",
        _("Say which logs are kept and for how long"),
        policies.logs is not None,
        _("Hosting page, logs"),
        hosting + "#logs",
        _("Add [policies.logs] with retention and content."),
    )
    add(
        "sub_processors",
        "data",
        _("List the third-party providers that handle data, and why"),
        policies.sub_processors is not None,
        _("Hosting page, third-party providers"),
        hosting + "#sub-processors",
        _(
            "Add [[policies.sub_processors]] entries, "
            "or write sub_processors = [] under [policies] if there is none."
        ),
    )
    add(
        "legal_notice",
        "data",
        _("Publish a legal notice"),
        bool(org.legal_notice_url),
        _("Legal notice of the hoster"),
        org.legal_notice_url,
        _("Add organisation.legal_notice_url."),
    )

    # Offer and accountability -----------------------------------------------------------
    offer = profile.offer
    add(
        "offer",
        "offer",
        _("Publish the offer and its prices (or say it is free)"),
        offer is not None and offer.prices_stated,
        _("Hosting page, offer"),
        hosting + "#offer",
        _("Add [offer] with a summary and [[offer.prices]] entries, or free = true."),
    )
    add(
        "target_public",
        "offer",
        _("Say who the services are for, and point others to other CHATONS"),
        offer is not None and bool(offer.target_public),
        _("Hosting page, offer"),
        hosting + "#offer",
        _("Add offer.target_public (and offer.other_chatons_url if needed)."),
    )
    reports = profile.reports
    add(
        "reports",
        "offer",
        _("Publish activity reports"),
        reports is not None and bool(reports.activity),
        _("Hosting page, reports"),
        hosting + "#reports",
        _("Add [[reports.activity]] entries with year and url."),
    )
    return items


def grouped(criteria: list[Criterion]) -> list[tuple[str, str, list[Criterion]]]:
    """(group key, group title, criteria) in page order."""
    return [
        (key, str(title), [c for c in criteria if c.group == key])
        for key, title in GROUPS.items()
        if any(c.group == key for c in criteria)
    ]
