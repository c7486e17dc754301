"""hoster.toml's data read into the model, checked; every error names the key at fault."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.hoster.model import (
    ACCESSIBILITY_LEVELS,
    INSTALL_TYPES,
    MEMBERSHIP_STATUSES,
    ORGANISATION_STATUSES,
    ORGANISATION_TYPES,
    PROVIDER_TYPES,
    REGISTRATION_LOADS,
    REGISTRATIONS,
    SERVER_TYPES,
    SERVICE_STATUSES,
    SLUG,
    SPDX_ID,
    TOP_LEVEL_KEYS,
    AccessibilityStatement,
    BackupPolicy,
    EncryptionPolicy,
    Geolocation,
    Host,
    HosterProfile,
    LogPolicy,
    Membership,
    NonFreeComponent,
    Offer,
    Organisation,
    Policies,
    Price,
    ProfileError,
    ReportLink,
    Reports,
    SecurityPolicy,
    Service,
    Software,
    SubProcessor,
)
from app.hoster.texts import FALLBACK_LANGUAGE, TEXT_LANGUAGES, LocalizedText
from app.hoster.toml_table import TomlTable, phrase


def _licence(table: TomlTable, key: str) -> str:
    value = table.required_text(key)
    tokens = [t for t in re.split(r"[()\s]+", value) if t]
    expect_id = True
    ok = bool(tokens)
    for token in tokens:
        if expect_id:
            ok = ok and bool(SPDX_ID.match(token)) and token not in ("AND", "OR", "WITH")
        else:
            ok = ok and token in ("AND", "OR", "WITH")
        expect_id = not expect_id
    if not ok or expect_id:
        raise ProfileError(
            f"{table.path(key)}: {value!r} is not an SPDX licence identifier; "
            "use the identifier from https://spdx.org/licenses/, like AGPL-3.0-or-later."
        )
    return value


def _organisation(root: TomlTable) -> Organisation:
    org = root.table("organisation")
    if org is None:
        raise ProfileError("[organisation] is missing: hoster.toml must describe the hoster.")
    membership = org.table("membership", ("status", "since"))
    org_type = org.choice(
        "type", tuple(ORGANISATION_TYPES), required=True, what="organisation type"
    )
    assert org_type is not None
    membership_status = membership_since = None
    if membership is not None:
        membership_status = membership.choice("status", MEMBERSHIP_STATUSES, what="status")
        membership_since = membership.day("since")
    logo = org.text("logo")
    if logo and logo.startswith(("http:", "https:")):
        logo = org.url("logo")
    geolocation = None
    if (place := org.table("geolocation", ("latitude", "longitude", "address"))) is not None:
        geolocation = Geolocation(
            latitude=place.number("latitude", -90, 90),
            longitude=place.number("longitude", -180, 180),
            address=place.text("address"),
        )
        place.finish()
    organisation = Organisation(
        name=org.required_text("name"),
        type=org_type,
        description=org.localized("description"),
        website=org.url("website"),
        contact_url=org.url("contact_url"),
        contact_email=org.email("contact_email"),
        country=org.country("country"),
        legal_notice_url=org.url("legal_notice_url"),
        membership_status=membership_status,
        membership_since=membership_since.isoformat() if membership_since else None,
        logo=logo,
        start_date=org.day("start_date"),
        membership=Membership(status=membership_status, since=membership_since)
        if membership is not None
        else None,
        status=str(org.choice("status", ORGANISATION_STATUSES, default="ACTIVE", what="status")),
        status_description=org.localized("status_description"),
        end_date=org.day("end_date"),
        guide_user_url=org.url("guide_user_url"),
        guide_technical_url=org.url("guide_technical_url"),
        social_networks=org.url_map("social_networks"),
        chat_rooms=org.url_map("chat_rooms"),
        funding=org.url_map("funding"),
        geolocation=geolocation,
        closing=org.closing(),
    )
    if membership:
        membership.finish()
    org.finish()
    return organisation


def _hosts(root: TomlTable) -> tuple[Host, ...]:
    hosts: list[Host] = []
    for table in root.tables("hosts") or []:
        slug = table.required_text("slug")
        if not SLUG.match(slug):
            raise ProfileError(
                f"{table.path('slug')}: {slug!r} must be lowercase letters, digits and dashes."
            )
        provider_type = table.choice(
            "provider_type", PROVIDER_TYPES, required=True, what="provider type"
        )
        server_type = table.choice("server_type", SERVER_TYPES, required=True, what="server type")
        assert provider_type and server_type
        hosts.append(
            Host(
                slug=slug,
                name=table.localized("name") or LocalizedText.neutral(slug),
                description=table.localized("description"),
                provider_name=table.required_text("provider_name"),
                provider_website=table.url("provider_website"),
                provider_type=provider_type,
                server_type=server_type,
                hypervisor=table.text("hypervisor"),
                country=table.country("country"),
                root_access=table.localized("root_access"),
                physical_access=table.localized("physical_access"),
                contract_forbids_access=table.boolean("contract_forbids_access"),
                contract_url=table.url("contract_url"),
                distribution=table.text("distribution"),
            )
        )
        table.finish()
    _no_duplicates("hosts", [h.slug for h in hosts])
    return tuple(hosts)


SERVICE_KEYS = (
    "slug",
    "name",
    "description",
    "url",
    "host",
    "software",
    "status",
    "registration",
    "install_type",
    "guide_url",
    "data_location",
    "retention",
    "connector",
    "manual_deletion",
    "start_date",
    "end_date",
    "registration_load",
    "guide_technical_url",
    "closing",
)


def _services(root: TomlTable, hosts: tuple[Host, ...]) -> tuple[Service, ...]:
    host_slugs = [h.slug for h in hosts]
    services: list[Service] = []
    for table in root.tables("services") or []:
        slug = table.required_text("slug")
        if not SLUG.match(slug):
            raise ProfileError(
                f"{table.path('slug')}: {slug!r} must be lowercase letters, digits and dashes."
            )
        if slug == "organization":
            raise ProfileError(
                f"{table.path('slug')}: 'organization' is reserved for the ChatonsInfos "
                "organisation file; choose another slug."
            )
        host = table.text("host")
        if host is None and len(hosts) == 1:
            host = hosts[0].slug
        if host is None and hosts:
            raise ProfileError(
                f"{table.path('host')} is missing: say which host runs {slug!r} "
                f"({phrase(host_slugs)})."
            )
        if host is not None and host not in host_slugs:
            declared = f"declared hosts: {phrase(host_slugs)}" if hosts else "no host is declared"
            raise ProfileError(
                f"{table.path('host')}: {host!r} is not a host of this file ({declared}); "
                f"add a [[hosts]] section with slug = {host!r} or fix the name."
            )
        software = table.table(
            "software",
            ("name", "licence", "website", "source_url", "version", "modifications_url"),
            required=True,
        )
        assert software is not None
        connector = table.data.get("connector")
        if connector is not None and not isinstance(connector, dict):
            raise ProfileError(f"{table.path('connector')} must be a table ([services.connector]).")
        services.append(
            Service(
                slug=slug,
                name=table.required_localized("name"),
                description=table.localized("description"),
                url=table.url("url"),
                host=host or "",
                software=Software(
                    name=software.required_text("name"),
                    licence=_licence(software, "licence"),
                    website=software.url("website"),
                    source_url=software.url("source_url"),
                    version=str(software.data["version"])
                    if software.data.get("version") not in (None, "")
                    else None,
                    modifications_url=software.url("modifications_url"),
                ),
                status=str(
                    table.choice("status", SERVICE_STATUSES, default="ok", what="service status")
                ),
                registration=str(
                    table.choice(
                        "registration", REGISTRATIONS, default="Member", what="registration"
                    )
                ),
                install_type=table.choice("install_type", INSTALL_TYPES, what="install type"),
                guide_url=table.url("guide_url"),
                data_location=table.localized("data_location"),
                retention=table.localized("retention"),
                connector=dict(connector) if connector is not None else None,
                manual_deletion=table.localized("manual_deletion"),
                start_date=table.day("start_date"),
                end_date=table.day("end_date"),
                registration_load=str(
                    table.choice(
                        "registration_load",
                        REGISTRATION_LOADS,
                        default="OPEN",
                        what="registration load",
                    )
                ),
                guide_technical_url=table.url("guide_technical_url"),
                closing=table.closing(),
            )
        )
        software.finish()
        table.known.update(SERVICE_KEYS)
        table.finish()
    _no_duplicates("services", [s.slug for s in services])
    return tuple(services)


def _policies(root: TomlTable, hosts: tuple[Host, ...]) -> Policies:
    table = root.table("policies")
    if table is None:
        return Policies()
    backups = security = encryption = logs = accessibility = None
    if (t := table.table("backups")) is not None:
        backups = BackupPolicy(
            what=t.required_localized("what"),
            frequency=t.required_localized("frequency"),
            retention=t.required_localized("retention"),
            location=t.required_localized("location"),
            encrypted=t.boolean("encrypted"),
            restore_tested=t.localized("restore_tested"),
        )
        t.finish()
    if (t := table.table("security")) is not None:
        security = SecurityPolicy(
            summary=t.required_localized("summary"),
            updates=t.localized("updates"),
            contact=t.contact("contact"),
        )
        t.finish()
    if (t := table.table("encryption")) is not None:
        encryption = EncryptionPolicy(
            in_transit=t.localized("in_transit"), at_rest=t.localized("at_rest")
        )
        t.finish()
    if (t := table.table("logs")) is not None:
        logs = LogPolicy(
            retention=t.required_localized("retention"), content=t.localized("content")
        )
        t.finish()
    sub_processors: tuple[SubProcessor, ...] | None = None
    if (items := table.tables("sub_processors")) is not None:
        found = []
        for t in items:
            found.append(
                SubProcessor(
                    name=t.required_text("name"),
                    purpose=t.required_localized("purpose"),
                    country=t.country("country"),
                    website=t.url("website"),
                )
            )
            t.finish()
        sub_processors = tuple(found)
    nonfree: tuple[NonFreeComponent, ...] | None = None
    if (items := table.tables("nonfree")) is not None:
        components = []
        for t in items:
            host = t.text("host")
            if host is not None and host not in {h.slug for h in hosts}:
                raise ProfileError(
                    f"{t.path('host')}: {host!r} is not a host of this file; "
                    "use the slug of a [[hosts]] section."
                )
            components.append(
                NonFreeComponent(
                    name=t.required_localized("name"),
                    purpose=t.required_localized("purpose"),
                    host=host,
                )
            )
            t.finish()
        nonfree = tuple(components)
    if (t := table.table("accessibility")) is not None:
        level = t.choice(
            "level", ACCESSIBILITY_LEVELS, required=True, what="accessibility conformance level"
        )
        assert level is not None
        rate = t.data.get("rate")
        t.known.add("rate")
        accessibility = AccessibilityStatement(
            level=level,
            standard=t.text("standard") or "RGAA 4.1",
            audit_date=t.day("audit_date"),
            rate=str(rate) if rate not in (None, "") else None,
            statement_url=t.url("statement_url"),
        )
        t.finish()
    table.finish()
    return Policies(
        backups=backups,
        security=security,
        encryption=encryption,
        logs=logs,
        sub_processors=sub_processors,
        nonfree=nonfree,
        accessibility=accessibility,
    )


def _offer(root: TomlTable, services: tuple[Service, ...]) -> Offer | None:
    table = root.table("offer")
    if table is None:
        return None
    offered = table.text_list("services")
    slugs = [s.slug for s in services]
    for index, slug in enumerate(offered):
        if slug not in slugs:
            raise ProfileError(
                f"offer.services[{index}]: {slug!r} is not a service of this file; "
                f"use the slugs of [[services]] ({phrase(slugs) if slugs else 'none declared'})."
            )
    prices = []
    for t in table.tables("prices") or []:
        amount = t.data.get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            t.data = {**t.data, "amount": str(amount)}
        prices.append(
            Price(label=t.required_localized("label"), amount=t.required_localized("amount"))
        )
        t.finish()
    offer = Offer(
        summary=table.required_localized("summary"),
        services=offered,
        free=bool(table.boolean("free")),
        prices=tuple(prices),
        target_public=table.localized("target_public"),
        how_to_join=table.localized("how_to_join"),
        join_url=table.url("join_url"),
        other_chatons_url=table.url("other_chatons_url") or "https://www.chatons.org/",
    )
    table.finish()
    return offer


def _report_links(table: TomlTable, key: str) -> tuple[ReportLink, ...]:
    links = []
    for t in table.tables(key) or []:
        year = t.year("year")
        links.append(
            ReportLink(
                title=t.localized("title")
                or LocalizedText.neutral(str(year) if year else t.path("title")),
                url=str(t.url("url", required=True)),
                year=year,
            )
        )
        t.finish()
    return tuple(sorted(links, key=lambda r: -(r.year or 0)))


def _reports(root: TomlTable) -> Reports | None:
    table = root.table("reports")
    if table is None:
        return None
    reports = Reports(
        activity=_report_links(table, "activity"),
        accounts=_report_links(table, "accounts"),
        contributions=_report_links(table, "contributions"),
        pay_ratio=table.localized("pay_ratio"),
        pay_ratio_url=table.url("pay_ratio_url"),
    )
    table.finish()
    return reports


def _no_duplicates(where: str, slugs: list[str]) -> None:
    duplicates = {s for s in slugs if slugs.count(s) > 1}
    if duplicates:
        raise ProfileError(f"{where}: the slug {sorted(duplicates)[0]!r} is used twice.")


def parse_profile(data: dict[str, Any], *, updated_at: datetime | None = None) -> HosterProfile:
    root = TomlTable(data, "", TOP_LEVEL_KEYS)
    language = root.choice("language", TEXT_LANGUAGES, default=FALLBACK_LANGUAGE, what="language")
    root.plain_language = str(language)
    organisation = _organisation(root)
    hosts = _hosts(root)
    services = _services(root, hosts)
    policies = _policies(root, hosts)
    offer = _offer(root, services)
    reports = _reports(root)
    timezone = root.text("timezone") or "Europe/Paris"
    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError) as exc:
        raise ProfileError(
            f"timezone: {timezone!r} is not a time zone; use a name like Europe/Paris."
        ) from exc
    root.finish()
    return HosterProfile(
        organisation=organisation,
        services=services,
        raw=data,
        timezone=timezone,
        language=root.plain_language,
        hosts=hosts,
        policies=policies,
        offer=offer,
        reports=reports,
        updated_at=updated_at,
    )
