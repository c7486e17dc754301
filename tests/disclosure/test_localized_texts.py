"""The hoster's own texts in each language, and the JSON Schema editors check hoster.toml with."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from pydantic import BaseModel

from app.profile.loading import DEMO_FILE
from app.profile.model import ProfileError
from app.profile.parsing import parse_profile
from app.profile.schema import hoster_schema, schema_json
from app.profile.texts import LocalizedText

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "hoster.schema.json"
EXAMPLE_FILE = ROOT / "docs" / "hoster.example.toml"
EN = {"Accept-Language": "en"}
FR = {"Accept-Language": "fr"}


def _as_editors_see_it(value: Any) -> Any:
    """TOML dates reach JSON Schema validators (Taplo, VS Code) as ISO strings."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _as_editors_see_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_editors_see_it(v) for v in value]
    return value


def _load(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_a_text_falls_back_to_french_when_the_reader_s_language_is_missing() -> None:
    both = LocalizedText({"fr": "Courriel", "en": "Mail"})
    french_only = LocalizedText({"fr": "Courriel"})
    assert both.for_language("en") == "Mail"
    assert both.for_language("fr") == "Courriel"
    assert french_only.for_language("en") == "Courriel"
    assert LocalizedText({"en": "Mail"}).for_language("fr") == "Mail"


def test_a_text_may_be_a_string_or_a_table_of_languages(demo_data: dict[str, Any]) -> None:
    demo_data["services"][0]["name"] = "Courriel"
    demo_data["services"][1]["name"] = {"fr": "Nuage", "en": "Cloud"}
    profile = parse_profile(demo_data)
    assert profile.services[0].name.for_language("en") == "Courriel"
    assert profile.services[1].name.for_language("en") == "Cloud"
    assert profile.services[1].name.for_language("fr") == "Nuage"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"de": "Post"}, "services[0].name.de: 'de' is not a language of the panel; use fr or en."),
        ({"fr": 3}, "services[0].name.fr must be a text value in quotes."),
        ({"fr": " "}, "services[0].name is empty: write the text in French at least."),
        (["Courriel"], "services[0].name must be a text in quotes, or one per language"),
    ],
)
def test_a_wrong_text_table_is_refused_naming_the_key(
    demo_data: dict[str, Any], value: Any, message: str
) -> None:
    demo_data["services"][0]["name"] = value
    with pytest.raises(ProfileError) as caught:
        parse_profile(demo_data)
    assert message in str(caught.value)


def test_the_demo_profile_gives_every_text_in_french_and_english() -> None:
    def texts(value: Any, where: str) -> list[tuple[str, Any]]:
        if isinstance(value, LocalizedText):
            return [(where, value)]
        if isinstance(value, tuple):
            return [t for i, v in enumerate(value) for t in texts(v, f"{where}[{i}]")]
        if isinstance(value, BaseModel):
            return [
                t for name in type(value).model_fields for t in texts(getattr(value, name), name)
            ]
        return []

    for path in (DEMO_FILE, EXAMPLE_FILE):
        profile = parse_profile(_load(path))
        found = texts(profile, "")
        assert len(found) > 40
        one_language = [where for where, text in found if set(text.texts) != {"fr", "en"}]
        # Host names default to the slug and report titles to the year: both are names.
        assert one_language == [], path


def test_hosting_page_shows_the_hoster_s_texts_in_the_reader_s_language(client: Any) -> None:
    french = client.get("/hosting", headers=FR).get_data(as_text=True)
    english = client.get("/hosting", headers=EN).get_data(as_text=True)
    assert "Nos deux administrateurs bénévoles" in french
    assert "Our two volunteer administrators" not in french
    assert "Our two volunteer administrators" in english
    assert "Nos deux administrateurs" not in english


def test_a_french_only_text_on_an_english_page_is_marked_as_french(
    demo_data: dict[str, Any], app_with_profile: Callable[..., Flask]
) -> None:
    demo_data["services"][0]["description"] = "Adresse électronique avec webmail."
    client = app_with_profile(demo_data).test_client()
    english = client.get("/services", headers=EN).get_data(as_text=True)
    assert '<span lang="fr">Adresse électronique avec webmail.</span>' in english
    french = client.get("/services", headers=FR).get_data(as_text=True)
    assert "Adresse électronique avec webmail." in french
    assert '<span lang="fr">Adresse' not in french


def test_plain_texts_take_the_language_the_file_declares(
    demo_data: dict[str, Any], app_with_profile: Callable[..., Flask]
) -> None:
    demo_data["language"] = "en"
    demo_data["services"][0]["description"] = "E-mail with webmail."
    client = app_with_profile(demo_data).test_client()
    french = client.get("/services", headers=FR).get_data(as_text=True)
    assert '<span lang="en">E-mail with webmail.</span>' in french
    english = client.get("/services", headers=EN).get_data(as_text=True)
    assert '<span lang="en">E-mail' not in english and "E-mail with webmail." in english


def test_chatonsinfos_and_json_give_the_reader_s_language(client: Any) -> None:
    english = client.get("/.well-known/chatonsinfos/mail.properties", headers=EN)
    french = client.get("/.well-known/chatonsinfos/mail.properties", headers=FR)
    assert "service.description = E-mail address with webmail." in english.get_data(as_text=True)
    assert "service.description = Adresse électronique avec webmail." in french.get_data(
        as_text=True
    )
    data = client.get("/hosting.json", headers=EN).get_json()
    assert data["services"][0]["name"] == "Mail"
    assert data["policies"]["logs"]["retention"] == "14 days, then deleted."


def test_the_french_terms_starter_describes_the_services_in_french() -> None:
    from app.legal import starter

    profile = parse_profile(_load(DEMO_FILE))
    french = starter.render("terms", "fr", profile)
    english = starter.render("terms", "en", profile)
    assert "Fichiers, agendas et contacts" in french
    assert "Files, calendars and contacts" not in french
    assert "Files, calendars and contacts" in english


# JSON Schema ---------------------------------------------------------------------------------


def test_the_committed_schema_is_the_one_the_code_generates() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_json(), (
        "docs/hoster.schema.json is out of date: run `flask hoster schema docs/hoster.schema.json`"
    )


@pytest.mark.parametrize("path", [DEMO_FILE, EXAMPLE_FILE], ids=["demo", "example"])
def test_the_demo_and_the_example_validate_against_the_schema(path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(_as_editors_see_it(_load(path)), schema, jsonschema.Draft202012Validator)


def test_the_schema_catches_what_editors_should_be_warned_about() -> None:
    validator = jsonschema.Draft202012Validator(hoster_schema())
    data = _as_editors_see_it(_load(DEMO_FILE))
    data["hosts"][0]["provider_type"] = "DATACENTRE"
    data["services"][0]["description"] = {"de": "Post"}
    del data["services"][1]["name"]
    errors = {"/".join(map(str, e.absolute_path)) for e in validator.iter_errors(data)}
    assert errors == {"hosts/0/provider_type", "services/0/description", "services/1"}


def test_the_schema_warns_editors_of_a_misspelt_key() -> None:
    validator = jsonschema.Draft202012Validator(hoster_schema())
    data = _as_editors_see_it(_load(EXAMPLE_FILE))
    data["hosts"][0]["hypervisr"] = data["hosts"][0].pop("hypervisor", "KVM")
    errors = [e for e in validator.iter_errors(data) if "hypervisr" in e.message]
    assert ["/".join(map(str, e.absolute_path)) for e in errors] == ["hosts/0"]


def test_the_data_page_never_shows_a_connector_s_options(
    demo_data: dict[str, Any], app_with_profile: Callable[..., Flask]
) -> None:
    from helpers import do_login

    del demo_data["services"][1]["data_location"]  # the cloud, with its files connector
    demo_data["services"][1]["connector"]["path"] = "/srv/secret-layout/{uid}"
    client = app_with_profile(demo_data).test_client()
    assert do_login(client, "alice", "demo").status_code == 302
    page = client.get("/account/data").get_data(as_text=True)
    assert "Cloud" in page
    assert "secret-layout" not in page and "{uid}" not in page


def test_answers_in_the_reader_s_language_tell_caches_so(client: Any) -> None:
    for path in ("/hosting.json", "/.well-known/chatonsinfos/mail.properties", "/"):
        assert "Accept-Language" in client.get(path).headers.get("Vary", ""), path


def test_a_fallback_text_in_a_select_option_stays_plain_text(
    demo_data: dict[str, Any], app_with_profile: Callable[..., Flask]
) -> None:
    demo_data["services"][0]["name"] = "Courriel"  # French only
    client = app_with_profile(demo_data).test_client()
    page = client.get("/incidents", headers=EN).get_data(as_text=True)
    assert '<option value="mail">Courriel</option>' in page  # no element inside an option
    assert '<span lang="fr">Courriel</span>' in page  # elsewhere it says its language
