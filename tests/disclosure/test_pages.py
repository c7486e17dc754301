"""The public hosting pages show every field of hoster.toml, in plain words, in both languages."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask

EN = {"Accept-Language": "en"}


def page_text(response: Any) -> str:
    """The visible text of <main>, tags removed and spaces collapsed."""
    body = response.get_data(as_text=True)
    main = body[body.index("<main") : body.index("</main>")]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))


def test_hosting_page_says_in_plain_words_who_holds_the_data(client: Any) -> None:
    response = client.get("/hosting", headers=EN)
    assert response.status_code == 200
    text = page_text(response)
    assert "Your data is on a virtual machine (a share of a bigger physical server)." in text
    assert "We rent the machine from Hébergeur Associatif Exemple (France)." in text
    assert "Hébergeur Associatif Exemple's contract forbids it to access the data." in text
    assert "Administrator (root) access: Our two volunteer administrators." in text
    assert "The machine is at the home of one of our members (France)." in text
    assert "Your data is on a nano-computer" in text


def test_hosting_page_is_in_french_by_default(client: Any) -> None:
    text = page_text(client.get("/hosting"))
    assert "Qui héberge vos données" in text
    assert "Vos données sont sur une machine virtuelle" in text
    assert "Le contrat de Hébergeur Associatif Exemple lui interdit d'accéder aux données." in text


def test_hosting_page_shows_every_field(client: Any) -> None:
    body = client.get("/hosting", headers=EN).get_data(as_text=True)
    text = page_text(client.get("/hosting", headers=EN))
    for expected in (
        # hosts
        "Main server",
        "Server rented from a provider",
        "Virtual machine",
        "KVM",
        "Debian 12",
        "Only the provider's staff, in its data centre",
        "The board member who keeps it at home",
        # policies
        "Mailboxes, cloud files, databases and server configuration.",
        "Every night at 3 a.m.",
        "7 daily, 4 weekly and 6 monthly copies.",
        "A full restore is tested every three months on a spare machine.",
        "Security updates are installed within 48 hours",
        "Debian security updates are applied automatically",
        "HTTPS (TLS 1.2 and 1.3) for every service",
        "Backups are encrypted with BorgBackup",
        "14 days, then deleted.",
        "Web server logs (IP address, date, page)",
        "Relais Courriel Coop",
        "Relays outgoing mail to large providers",
        "Belgium",
        "CPU microcode and BIOS of the backup server",
        "Partially compliant (RGAA 4.1), 82 % of the criteria met",
        # offer and reports
        "Mail, cloud and pads for members of the association",
        "Services offered Mail , Cloud , Pads",
        "People and associations of the Lyon area.",
        "Membership, individual (all services included): 20 € per year",
        "Join the association (membership fee)",
        "No employee: all work is done by volunteers.",
        "Translations of Etherpad plugins",
        # organisation
        "A non-profit association that hosts free-software services",
        "Active member — since May 1, 2019",
    ):
        assert expected in text, expected
    for link in (
        "https://hosting.example.org/contract",
        "https://demo.chatons.org/accessibilite",
        "https://demo.chatons.org/adherer",
        "https://www.chatons.org/",
        "https://demo.chatons.org/rapport-activite-2024.pdf",
        "https://demo.chatons.org/comptes-2024.pdf",
        "mailto:security@demo.chatons.org",
        "https://demo.chatons.org/mentions-legales",
        "/.well-known/chatonsinfos/organization.properties",
        "/hosting.json",
    ):
        assert f'href="{link}"' in body, link
    assert '<time datetime="2024-03-12">' in body
    for code in ("HOSTEDSERVER", "VIRTUAL", "NANO", "HOME"):
        assert code not in text, code  # codes are shown as words


def test_licences_are_shown_by_name_in_the_reader_s_language(client: Any) -> None:
    english = page_text(client.get("/services", headers=EN))
    assert "GNU Affero General Public License v3.0 or later" in english
    assert "MIT License and GNU Lesser General Public License v2.1 only" in english
    french = page_text(client.get("/services"))
    assert "Licence MIT et GNU Lesser General Public License v2.1 uniquement" in french
    assert "AGPL-3.0-or-later" not in english + french


def test_sections_left_out_say_so(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    del demo_data["policies"], demo_data["offer"], demo_data["reports"]
    text = page_text(app_with_profile(demo_data).test_client().get("/hosting", headers=EN))
    assert text.count("Not published yet.") == 9  # 7 policies, offer, reports


def test_a_host_with_unstated_control_says_what_is_unknown(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    main = demo_data["hosts"][0]
    del main["root_access"], main["contract_forbids_access"], main["country"]
    text = page_text(app_with_profile(demo_data).test_client().get("/hosting", headers=EN))
    assert "We rent the machine from Hébergeur Associatif Exemple." in text
    assert "We have not said who has administrator (root) access." in text
    assert "We have not said whether Hébergeur Associatif Exemple's contract forbids it" in text


def test_services_page_shows_software_licence_source_and_status(client: Any) -> None:
    response = client.get("/services", headers=EN)
    body = response.get_data(as_text=True)
    text = page_text(response)
    for expected in (
        "Mail",
        "E-mail address with webmail.",
        "Dovecot 2.3",
        "MIT License and GNU Lesser General Public License v2.1 only",
        "Nextcloud 29",
        "Etherpad 2.2",
        "Working normally",
        "For members only",
        "Open to anyone, free account",
        "Built from source",
        "Installed from a release archive",
        "main server, /srv/nextcloud/data",
        "Pads are deleted after one year without edits.",
        "How to use Cloud",
    ):
        assert expected in text, expected
    for link in (
        "https://github.com/nextcloud/server",
        "https://spdx.org/licenses/AGPL-3.0-or-later.html",
        "https://git.demo.chatons.org/chatons-demo/nextcloud-theme",
        "https://docs.demo.chatons.org/pad",
        "https://cloud.demo.chatons.org",
        "/hosting#host-main",
        "/.well-known/chatonsinfos/pad.properties",
    ):
        assert f'href="{link}"' in body, link
    # An SPDX expression has no single licence page to link to.
    assert 'href="https://spdx.org/licenses/MIT AND' not in body
    assert 'id="service-mail"' in body


def test_service_status_from_the_profile_is_shown(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    next(s for s in demo_data["services"] if s["slug"] == "pad")["status"] = "over"
    text = page_text(app_with_profile(demo_data).test_client().get("/services", headers=EN))
    assert "Pads Closed" in text


def test_hosting_json_carries_the_disclosures_but_no_internal_settings(client: Any) -> None:
    response = client.get("/hosting.json", headers=EN)
    assert response.status_code == 200
    data = response.get_json()
    assert data["organisation"]["name"] == "Chatons du Demo"
    assert data["hosts"][0]["provider_type"] == "HOSTEDSERVER"
    assert data["hosts"][0]["contract_forbids_access"] is True
    assert [s["slug"] for s in data["services"]] == ["mail", "cloud", "pad"]
    assert data["services"][1]["software"]["licence"] == "AGPL-3.0-or-later"
    assert data["policies"]["backups"]["encrypted"] is True
    assert data["policies"]["accessibility"]["audit_date"] == "2024-03-12"
    assert data["offer"]["prices"][0]["amount"] == "20 € per year"
    assert data["reports"]["activity"][0]["year"] == 2024
    assert {"criterion": "provider", "fulfilled": True} in data["charter"]
    assert data["links"]["chatonsinfos"].endswith(
        "/.well-known/chatonsinfos/organization.properties"
    )
    raw = response.get_data(as_text=True)
    assert "connector" not in raw and "doveadm" not in raw


def test_pages_are_public_and_reachable_before_accepting_terms(client: Any) -> None:
    for path in ("/hosting", "/services", "/charter", "/hosting.json"):
        response = client.get(path)
        assert response.status_code == 200, path


def test_page_contents_are_rendered_once_per_language(client: Any, monkeypatch: Any) -> None:
    """/hosting, /services and /charter depend on hoster.toml and the language only."""
    from app.disclosure import disclosure

    calls = []
    labels = disclosure.labels

    def counted() -> dict[str, object]:
        calls.append(1)
        return labels()

    monkeypatch.setattr(disclosure, "labels", counted)
    french = [client.get("/hosting").get_data(as_text=True) for _ in range(3)]
    english = [client.get("/hosting", headers=EN).get_data(as_text=True) for _ in range(2)]
    assert len(calls) == 2  # once in French, once in English
    assert "Qui héberge vos données" in french[-1]
    assert "Who hosts your data" in english[-1]
    assert "Qui héberge vos données" not in english[-1]
    for path in ("/services", "/charter"):
        client.get(path)
        client.get(path)
    assert len(calls) == 3  # /services once more; /charter does not use the labels


def test_a_cached_page_still_shows_who_is_signed_in(client: Any, login_as: Any) -> None:
    anonymous = client.get("/hosting").get_data(as_text=True)
    login_as("alice")
    signed_in = client.get("/hosting").get_data(as_text=True)
    assert 'action="/logout"' in signed_in and 'action="/logout"' not in anonymous
