"""Both catalogs are complete: every extracted string has a French and an English text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def _catalog(lang: str):
    with (ROOT / "app" / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def _extracted_ids(tmp_path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot),
         "app", "templates", "templates/_macros", "templates/_partials"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as fh:
        template = read_po(fh)
    return {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}


def test_every_string_in_the_code_is_in_both_catalogs(tmp_path):
    extracted = _extracted_ids(tmp_path)
    assert len(extracted) > 50
    for lang in ("fr", "en"):
        catalog = _catalog(lang)
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        missing = sorted(extracted - known)
        assert not missing, f"{lang}: run `python tools/i18n.py sync`; missing {missing[:5]}"


def test_every_french_and_english_entry_is_translated():
    for lang in ("fr", "en"):
        empty = [
            m.id
            for m in _catalog(lang)
            if m.id
            and (
                "fuzzy" in m.flags
                or not m.string
                or (isinstance(m.string, tuple) and not all(m.string))
            )
        ]
        assert not empty, f"{lang}: untranslated {empty[:5]}"


def test_french_is_really_french():
    catalog = _catalog("fr")
    same = [
        m.id
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string == m.id and len(m.id) > 12
    ]
    assert len(same) < 5, same


def test_templates_look_the_catalogue_up_once_per_rendering(client, monkeypatch):
    """Jinja's `_()` is bound to the request's catalogue, not looked up string by string."""
    import flask_babel
    from flask import render_template_string
    from flask_babel import force_locale

    calls = []
    original = flask_babel.get_translations

    def counted():
        calls.append(1)
        return original()

    monkeypatch.setattr(flask_babel, "get_translations", counted)
    response = client.get("/login")
    assert response.status_code == 200
    assert "Se connecter" in response.get_data(as_text=True)
    assert 0 < len(calls) <= 5  # dozens of strings on the page
    # A mail rendered under force_locale during a French request is in the mail's language.
    with client.application.test_request_context("/", headers={"Accept-Language": "fr"}):
        with force_locale("en"):
            english = render_template_string("{{ _('Sign in') }}")
        french = render_template_string("{{ _('Sign in') }}")
    assert (english, french) == ("Sign in", "Se connecter")
