"""`flask terms publish|list|starter|seed-demo`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.legal import services
from app.legal.models import TermsVersion
from app.profile.loading import DEMO_FILE


def versions(app) -> list[TermsVersion]:
    with session_scope(app) as session:
        return list(session.scalars(select(TermsVersion).order_by(TermsVersion.id)))


def test_publish_a_french_file_with_its_summary(app, tmp_path: Path):
    source = tmp_path / "cgu.md"
    source.write_text("# CGU\n\nTexte.\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["terms", "publish", "terms", str(source), "--summary", "Première version"]
    )
    assert result.exit_code == 0, result.output
    assert "Published terms version 1 (fr)" in result.output
    (version,) = versions(app)
    assert (version.body_fr, version.summary_fr, version.body_en) == (
        "# CGU\n\nTexte.\n",
        "Première version",
        None,
    )
    with session_scope(app) as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor_id) == ("legal.published", None)


def test_publish_both_languages_named_by_file_with_a_future_date(app, tmp_path: Path):
    (tmp_path / "p.fr.md").write_text("Texte", encoding="utf-8")
    (tmp_path / "p.en.md").write_text("Text", encoding="utf-8")
    day = (utcnow() + timedelta(days=40)).date().isoformat()
    result = app.test_cli_runner().invoke(
        args=[
            "terms", "publish", "privacy",
            str(tmp_path / "p.fr.md"), str(tmp_path / "p.en.md"),
            "--summary", "Résumé", "--summary", "Summary", "--effective", day,
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (version,) = versions(app)
    assert (version.body_en, version.summary_en) == ("Text\n", "Summary")
    assert version.effective_at > utcnow()


def test_publish_english_alone_is_refused_with_a_clear_message(app, tmp_path: Path):
    source = tmp_path / "terms.md"
    source.write_text("Text", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["terms", "publish", "terms", str(source), "--summary", "S", "--lang", "en"]
    )
    assert result.exit_code == 1
    assert "nothing published: The French text is required." in result.output
    assert versions(app) == []


def test_publish_refuses_unknown_language_bad_date_and_empty_file(app, tmp_path: Path):
    source = tmp_path / "terms.md"
    source.write_text("Texte", encoding="utf-8")
    runner = app.test_cli_runner()
    base = ["terms", "publish", "terms", str(source), "--summary", "S"]
    unknown = runner.invoke(args=[*base, "--lang", "de"])
    assert "Unknown language “de”" in unknown.output
    bad_date = runner.invoke(args=[*base, "--effective", "demain"])
    assert "is not a date" in bad_date.output
    source.write_text("  \n", encoding="utf-8")
    assert "The text is empty" in runner.invoke(args=base).output
    assert versions(app) == []


def test_list_shows_versions_and_the_one_in_effect(app, tmp_path: Path):
    source = tmp_path / "cgu.md"
    source.write_text("Texte", encoding="utf-8")
    runner = app.test_cli_runner()
    runner.invoke(args=["terms", "publish", "terms", str(source), "--summary", "Un"])
    result = runner.invoke(args=["terms", "list", "terms"])
    assert "v1" in result.output and "(in effect)" in result.output and "Un" in result.output


def test_starter_text_is_filled_from_the_hoster_profile(app):
    runner = app.test_cli_runner()
    french = runner.invoke(args=["terms", "starter", "terms"]).output
    english = runner.invoke(args=["terms", "starter", "privacy", "--lang", "en"]).output
    assert "Chatons du Demo" in french and "contact@demo.chatons.org" in french
    assert "Hébergeur Associatif Exemple" in english and "France" in english


def test_starter_texts_cover_what_the_charter_asks_to_state(app):
    runner = app.test_cli_runner()
    terms = runner.invoke(args=["terms", "starter", "terms", "--lang", "en"]).output.lower()
    privacy = runner.invoke(args=["terms", "starter", "privacy", "--lang", "en"]).output.lower()
    for topic in (
        "personal data", "commercial purpose", "no advertising", "no trackers",
        "backups", "authorit", "moderation", "export", "deleted permanently", "the law",
    ):  # fmt: skip
        assert topic in terms, topic
    for topic in ("what we collect", "how long we keep it", "your rights", "cnil"):
        assert topic in privacy, topic


def test_seed_demo_publishes_version_1_of_both_documents_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["terms", "seed-demo"])
    assert first.exit_code == 0, first.output
    assert "terms: published version 1" in first.output
    second = runner.invoke(args=["terms", "seed-demo"])
    assert "terms: already has versions" in second.output
    seeded = versions(app)
    assert sorted((v.document, v.number) for v in seeded) == [("privacy", 1), ("terms", 1)]
    assert all(v.body_en and v.body_fr for v in seeded)
    with session_scope(app) as session:
        assert set(services.current_versions(session)) == {"terms", "privacy"}


def test_seed_demo_refuses_production(make_app):
    app = make_app(
        ENV="production",
        BASE_URL="https://panel.example.org",
        LDAP_URL="ldap://127.0.0.1:1",
        SESSION_COOKIE_SECURE=True,
        HOSTER_FILE=str(DEMO_FILE),
    )
    result = app.test_cli_runner().invoke(args=["terms", "seed-demo"])
    assert result.exit_code == 1
    assert "flask terms starter" in result.output
