"""hoster.toml validation: every mistake is refused with a message naming the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.profile.loading import load_profile
from app.profile.model import ProfileError
from app.profile.parsing import parse_profile

ROOT = Path(__file__).resolve().parents[2]


def test_demo_profile_has_every_section(demo_data: dict[str, Any]) -> None:
    profile = parse_profile(demo_data)
    assert profile.service_slugs == ("mail", "cloud", "calendars", "pad")
    connectors = {s.slug: (s.connector or {}).get("type") for s in profile.services}
    assert connectors == {"mail": "imap", "cloud": "files", "calendars": "dav", "pad": None}
    assert [h.slug for h in profile.hosts] == ["main", "backup"]
    assert profile.service("cloud").host == "main"  # type: ignore[union-attr]
    assert profile.policies.backups and profile.policies.security
    assert profile.policies.encryption and profile.policies.logs
    assert profile.policies.sub_processors and profile.policies.nonfree
    assert profile.policies.accessibility and profile.policies.accessibility.audit_date
    assert profile.offer and profile.offer.prices
    assert profile.reports and profile.reports.activity[0].year == 2024


def test_documented_example_is_valid() -> None:
    profile = load_profile(ROOT / "docs" / "hoster.example.toml")
    assert {"mail", "cloud", "pad"} <= set(profile.service_slugs)
    assert profile.updated_at is not None


def test_a_minimal_profile_is_enough_to_start() -> None:
    profile = parse_profile(
        {
            "organisation": {"name": "Mini", "type": "informal"},
            "services": [
                {
                    "slug": "pad",
                    "name": "Pad",
                    "software": {"name": "Etherpad", "licence": "Apache-2.0"},
                }
            ],
        }
    )
    assert profile.hosts == () and profile.policies.backups is None and profile.offer is None


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return change


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


MISTAKES = [
    pytest.param(_delete("organisation.name"), "organisation.name is missing", id="missing-name"),
    pytest.param(
        _set("hosts.0.provider_type", "DATACENTRE"),
        "hosts[0].provider_type: 'DATACENTRE' is not a known provider type; expected HOME, "
        "HOSTEDBAY, HOSTEDSERVER or OUTSOURCED",
        id="unknown-provider-type",
    ),
    pytest.param(
        _set("hosts.1.server_type", "MAINFRAME"),
        "hosts[1].server_type: 'MAINFRAME' is not a known server type",
        id="unknown-server-type",
    ),
    pytest.param(
        _set("organisation.website", "demo.chatons.org"),
        "organisation.website: 'demo.chatons.org' is not a web address",
        id="bad-url-without-scheme",
    ),
    pytest.param(
        _set("services.1.software.source_url", "javascript:alert(1)"),
        "services[1].software.source_url: 'javascript:alert(1)' is not a web address",
        id="bad-url-scheme",
    ),
    pytest.param(
        _set("services.2.host", "mian"),
        "services[2].host: 'mian' is not a host of this file (declared hosts: main or backup)",
        id="unknown-host",
    ),
    pytest.param(
        _delete("services.0.host"),
        "services[0].host is missing: say which host runs 'mail' (main or backup)",
        id="service-without-host-among-several",
    ),
    pytest.param(
        _set("organisation.type", "ngo"),
        "organisation.type: 'ngo' is not a known organisation type",
        id="unknown-organisation-type",
    ),
    pytest.param(
        _set("hosts.0.country", "France"),
        "hosts[0].country: 'France' is not a country code",
        id="country-name-instead-of-code",
    ),
    pytest.param(
        _set("services.0.software.licence", "GPL v3"),
        "services[0].software.licence: 'GPL v3' is not an SPDX licence identifier",
        id="licence-not-spdx",
    ),
    pytest.param(
        _set("services.1.registration", "Everyone"),
        "services[1].registration: 'Everyone' is not a known registration; "
        "expected None, Free, Member or Client",
        id="unknown-registration",
    ),
    pytest.param(
        _set("hosts.0.contract_forbids_access", "yes"),
        "hosts[0].contract_forbids_access must be true or false",
        id="boolean-in-quotes",
    ),
    pytest.param(
        _set("policies.accessibility.audit_date", "12/03/2024"),
        "policies.accessibility.audit_date: '12/03/2024' is not a date like 2024-05-31",
        id="bad-date",
    ),
    pytest.param(
        _set("services.2.slug", "mail"),
        "services: the slug 'mail' is used twice",
        id="duplicate-service",
    ),
    pytest.param(
        _set("services.0.slug", "Mail Box"),
        "services[0].slug: 'Mail Box' must be lowercase letters",
        id="bad-slug",
    ),
    pytest.param(
        _set("services.1.slug", "organization"),
        "services[1].slug: 'organization' is reserved",
        id="reserved-slug",
    ),
    pytest.param(
        _set("policies.nonfree.0.host", "ghost"),
        "policies.nonfree[0].host: 'ghost' is not a host of this file",
        id="nonfree-on-unknown-host",
    ),
    pytest.param(
        _delete("policies.backups.frequency"),
        "policies.backups.frequency is missing",
        id="incomplete-backup-policy",
    ),
    pytest.param(
        _set("organisation.contact_email", "contact at demo"),
        "organisation.contact_email: 'contact at demo' is not an e-mail address",
        id="bad-email",
    ),
    pytest.param(
        _set("offer.services", ["mail", "forge"]),
        "offer.services[1]: 'forge' is not a service of this file",
        id="offer-of-unknown-service",
    ),
    pytest.param(
        _set("timezone", "Paris"),
        "timezone: 'Paris' is not a time zone",
        id="bad-timezone",
    ),
]


@pytest.mark.parametrize(("mistake", "message"), MISTAKES)
def test_each_mistake_is_refused_with_the_key_named(
    demo_data: dict[str, Any], mistake: Callable[[dict[str, Any]], None], message: str
) -> None:
    mistake(demo_data)
    with pytest.raises(ProfileError) as caught:
        parse_profile(demo_data)
    assert message in str(caught.value)


def test_a_misspelt_key_is_refused_with_a_suggestion(demo_data: dict[str, Any]) -> None:
    demo_data["hosts"][0]["hypervisr"] = demo_data["hosts"][0].pop("hypervisor")
    with pytest.raises(ProfileError) as caught:
        parse_profile(demo_data)
    assert "hosts[0].hypervisr is not a known key: did you mean 'hypervisor'?" in str(caught.value)


def test_a_misspelt_required_key_is_pointed_out(demo_data: dict[str, Any]) -> None:
    demo_data["hosts"][0]["provider_nmae"] = demo_data["hosts"][0].pop("provider_name")
    with pytest.raises(ProfileError) as caught:
        parse_profile(demo_data)
    assert str(caught.value) == (
        "hosts[0].provider_name is missing: add it to hoster.toml. "
        "('provider_nmae' looks like a misspelling of it.)"
    )


def test_keys_of_other_features_are_kept(demo_data: dict[str, Any]) -> None:
    demo_data["services"][0]["export_format"] = "mbox"
    demo_data["legal"] = {"terms_url": "https://example.org"}
    profile = parse_profile(demo_data)
    assert profile.raw["legal"]["terms_url"] == "https://example.org"


def test_a_single_host_is_the_default_host(demo_data: dict[str, Any]) -> None:
    demo_data["hosts"] = demo_data["hosts"][:1]
    del demo_data["policies"]["nonfree"][0]["host"]
    for service in demo_data["services"]:
        del service["host"]
    assert {s.host for s in parse_profile(demo_data).services} == {"main"}


def test_codes_are_accepted_in_any_case(demo_data: dict[str, Any]) -> None:
    demo_data["hosts"][0]["provider_type"] = "hostedServer"
    demo_data["services"][0]["status"] = "WARNING"
    demo_data["services"][0]["registration"] = "free"
    profile = parse_profile(demo_data)
    assert profile.hosts[0].provider_type == "HOSTEDSERVER"
    assert profile.services[0].status == "warning"
    assert profile.services[0].registration == "Free"


def test_a_broken_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hoster.toml"
    path.write_text('[organisation]\nname = "x\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="is not valid TOML"):
        load_profile(path)


def test_the_app_refuses_to_start_on_a_wrong_profile(
    app_with_profile: Callable[..., Any], demo_data: dict[str, Any]
) -> None:
    demo_data["services"][1]["host"] = "nowhere"
    with pytest.raises(ProfileError, match=r"services\[1\]\.host: 'nowhere'"):
        app_with_profile(demo_data)
