"""Charter self-assessment: each criterion flips as soon as its data or its feature is added."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

EN = {"Accept-Language": "en"}


def criteria(client: Any) -> dict[str, tuple[bool, str]]:
    """criterion key → (fulfilled, text of its entry) as the page shows them."""
    body = client.get("/charter", headers=EN).get_data(as_text=True)
    found = {}
    for match in re.finditer(
        r'<li class="criterion (fulfilled|missing)" id="criterion-([a-z_]+)">(.*?)</li>', body, re.S
    ):
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(3)))
        found[match.group(2)] = (match.group(1) == "fulfilled", text.replace("&#39;", "'"))
    return found


def test_demo_profile_fulfils_its_data_criteria(client: Any) -> None:
    result = criteria(client)
    for key in (
        "provider",
        "control",
        "backups",
        "security",
        "authority_register",
        "sources",
        "free_licences",
        "nonfree",
        "contact",
        "accessibility",
        "encryption",
        "logs",
        "sub_processors",
        "legal_notice",
        "offer",
        "target_public",
        "reports",
    ):
        assert result[key][0], key
    assert "Where to check: Hosting page, backups" in result["backups"][1]


def test_page_counts_fulfilled_criteria(client: Any) -> None:
    body = client.get("/charter", headers=EN).get_data(as_text=True)
    result = criteria(client)
    done = sum(1 for fulfilled, _ in result.values() if fulfilled)
    assert f"Criteria fulfilled: {done} of {len(result)}" in body


def test_adding_the_backup_policy_flips_its_criterion(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    backups = demo_data["policies"].pop("backups")
    fulfilled, text = criteria(app_with_profile(demo_data).test_client())["backups"]
    assert not fulfilled
    assert "What is missing: Add [policies.backups] with what, frequency" in text
    demo_data["policies"]["backups"] = backups
    assert criteria(app_with_profile(demo_data).test_client())["backups"][0]


def test_stating_no_nonfree_component_fulfils_the_criterion(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    del demo_data["policies"]["nonfree"]
    assert not criteria(app_with_profile(demo_data).test_client())["nonfree"][0]
    demo_data["policies"]["nonfree"] = []
    client = app_with_profile(demo_data).test_client()
    assert criteria(client)["nonfree"][0]
    assert "No non-free component is used." in client.get("/hosting", headers=EN).get_data(
        as_text=True
    )


def test_missing_control_details_name_the_host_and_keys(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    del demo_data["hosts"][0]["root_access"], demo_data["hosts"][0]["contract_forbids_access"]
    fulfilled, text = criteria(app_with_profile(demo_data).test_client())["control"]
    assert not fulfilled
    assert "main: root_access, contract_forbids_access" in text


def test_a_non_free_licence_is_reported(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    demo_data["services"][1]["software"]["licence"] = "LicenseRef-Proprietary"
    fulfilled, text = criteria(app_with_profile(demo_data).test_client())["free_licences"]
    assert not fulfilled
    assert "not a known free-software licence: cloud" in text


def test_a_source_link_missing_is_reported(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    pad = next(s for s in demo_data["services"] if s["slug"] == "pad")
    del pad["software"]["source_url"]
    fulfilled, text = criteria(app_with_profile(demo_data).test_client())["sources"]
    assert not fulfilled
    assert "Add software.source_url to these services: pad." in text


def test_installing_a_feature_flips_its_criterion(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    fulfilled, text = criteria(app.test_client())["incidents"]
    assert fulfilled
    assert "Where to check: Incident journal" in text
    body = app.test_client().get("/charter", headers=EN).get_data(as_text=True)
    assert 'href="/incidents"' in body

    without_journal = make_app()
    del without_journal.view_functions["incidents.journal"]
    assert not criteria(without_journal.test_client())["incidents"][0]
