"""Load and validate hoster.toml into frozen dataclasses; errors name the key at fault."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app

DEMO_FILE = Path(__file__).resolve().parent / "demo.toml"


class ProfileError(Exception):
    """hoster.toml is wrong; the message names the key and says what is expected."""


@dataclass(frozen=True)
class Software:
    name: str
    licence: str
    website: str | None = None
    source_url: str | None = None
    version: str | None = None
    modifications_url: str | None = None


@dataclass(frozen=True)
class Service:
    slug: str
    name: str
    description: str
    url: str | None
    host: str
    software: Software
    status: str = "ok"
    registration: str = "Member"
    install_type: str | None = None
    guide_url: str | None = None
    data_location: str | None = None
    # What is kept after deletion and why (legal retention), shown before a deletion request.
    retention: str | None = None
    # Export/delete connector: {"type": "files", "path": "/srv/files/{uid}", ...}, or None.
    connector: dict[str, Any] | None = None
    # For services without a connector: what staff do by hand to delete the data.
    manual_deletion: str | None = None


@dataclass(frozen=True)
class Organisation:
    name: str
    type: str
    description: str
    website: str | None = None
    contact_url: str | None = None
    contact_email: str | None = None
    country: str | None = None
    legal_notice_url: str | None = None
    membership_status: str | None = None
    membership_since: str | None = None
    logo: str | None = None


@dataclass(frozen=True)
class HosterProfile:
    organisation: Organisation
    services: tuple[Service, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    timezone: str = "Europe/Paris"

    def service(self, slug: str) -> Service | None:
        return next((s for s in self.services if s.slug == slug), None)

    @property
    def service_slugs(self) -> tuple[str, ...]:
        return tuple(s.slug for s in self.services)


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table or table[key] in ("", None):
        raise ProfileError(f"{where}.{key} is missing: add it to hoster.toml.")
    return table[key]


def _text(table: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = _require(table, key, where) if required else table.get(key)
    if value is not None and not isinstance(value, str):
        raise ProfileError(f"{where}.{key} must be a text value in quotes.")
    return value


def parse_profile(data: dict[str, Any]) -> HosterProfile:
    org = data.get("organisation")
    if not isinstance(org, dict):
        raise ProfileError("[organisation] is missing: hoster.toml must describe the hoster.")
    organisation = Organisation(
        name=str(_text(org, "name", "organisation", required=True)),
        type=str(_text(org, "type", "organisation", required=True)),
        description=str(_text(org, "description", "organisation") or ""),
        website=_text(org, "website", "organisation"),
        contact_url=_text(org, "contact_url", "organisation"),
        contact_email=_text(org, "contact_email", "organisation"),
        country=_text(org, "country", "organisation"),
        legal_notice_url=_text(org, "legal_notice_url", "organisation"),
        membership_status=_text(org.get("membership", {}), "status", "organisation.membership"),
        membership_since=str(org.get("membership", {}).get("since") or "") or None,
        logo=_text(org, "logo", "organisation"),
    )
    services = []
    for index, raw in enumerate(data.get("services", [])):
        where = f"services[{index}]"
        software = raw.get("software") or {}
        services.append(
            Service(
                slug=str(_text(raw, "slug", where, required=True)),
                name=str(_text(raw, "name", where, required=True)),
                description=str(_text(raw, "description", where) or ""),
                url=_text(raw, "url", where),
                host=str(_text(raw, "host", where) or ""),
                software=Software(
                    name=str(_text(software, "name", f"{where}.software", required=True)),
                    licence=str(_text(software, "licence", f"{where}.software", required=True)),
                    website=_text(software, "website", f"{where}.software"),
                    source_url=_text(software, "source_url", f"{where}.software"),
                    version=_text(software, "version", f"{where}.software"),
                    modifications_url=_text(software, "modifications_url", f"{where}.software"),
                ),
                status=str(raw.get("status", "ok")),
                registration=str(raw.get("registration", "Member")),
                install_type=_text(raw, "install_type", where),
                guide_url=_text(raw, "guide_url", where),
                data_location=_text(raw, "data_location", where),
                retention=_text(raw, "retention", where),
                connector=dict(raw["connector"])
                if isinstance(raw.get("connector"), dict)
                else None,
                manual_deletion=_text(raw, "manual_deletion", where),
            )
        )
    slugs = [s.slug for s in services]
    duplicates = {s for s in slugs if slugs.count(s) > 1}
    if duplicates:
        raise ProfileError(f"services: the slug {sorted(duplicates)[0]!r} is used twice.")
    return HosterProfile(
        organisation=organisation,
        services=tuple(services),
        raw=data,
        timezone=str(data.get("timezone", "Europe/Paris")),
    )


def load_profile(path: Path) -> HosterProfile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(
            f"{path} does not exist: set PANEL_HOSTER_FILE to your hoster.toml."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path} is not valid TOML: {exc}") from exc
    return parse_profile(data)


def init_app(app: Flask) -> None:
    configured = app.config.get("HOSTER_FILE")
    if configured:
        path = Path(configured)
    else:
        default = Path(app.instance_path) / "hoster.toml"
        if default.exists():
            path = default
        elif app.config["ENV"] == "production":
            raise ProfileError(
                f"{default} does not exist: write your hoster.toml there "
                "(see docs/hoster.example.toml) or set PANEL_HOSTER_FILE."
            )
        else:
            path = DEMO_FILE
    profile = load_profile(path)
    app.extensions["panel_hoster"] = profile
    app.config["BABEL_DEFAULT_TIMEZONE"] = profile.timezone
    if profile.organisation.name and not app.config.get("HOSTER_NAME_FROM_CONFIG"):
        app.config["HOSTER_NAME"] = profile.organisation.name


def current_profile() -> HosterProfile:
    profile: HosterProfile = current_app.extensions["panel_hoster"]
    return profile
