"""Public pages, history, versions, diff, and the staff publishing page."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.legal.models import TermsVersion


def page(response) -> str:
    return response.get_data(as_text=True)


def versions(app) -> list[TermsVersion]:
    with session_scope(app) as session:
        return list(session.scalars(select(TermsVersion).order_by(TermsVersion.id)))


# Public pages ---------------------------------------------------------------------------


def test_a_visitor_reads_the_terms_in_effect_with_number_date_and_contents(client, publish):
    publish(summary="Première version.")
    response = client.get("/legal/terms")
    assert response.status_code == 200
    html = page(response)
    assert "Version 1" in html
    assert "Nous gardons vos données un an." in html
    assert "Première version." in html
    assert '<nav class="legal-toc"' in html and 'href="#section-donnees-personnelles"' in html
    assert "<time datetime=" in html


def test_the_privacy_clause_has_its_own_page(client, publish):
    publish("privacy", fr="## Données\n\nClause de confidentialité.\n")
    html = page(client.get("/legal/privacy"))
    assert "Clause de confidentialité." in html
    assert "Vie privée et données personnelles" in html


def test_pages_say_so_when_nothing_is_published(client):
    for path in ("/legal/terms", "/legal/privacy", "/legal/terms/history"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Aucune version n'a encore été publiée." in page(response)


def test_english_readers_get_the_translation_or_the_french_text_with_a_note(client, publish):
    publish(fr="## Objet\n\nTexte français.\n", en="## Purpose\n\nEnglish text.\n")
    publish("privacy", fr="## Données\n\nSeulement en français.\n")
    english = {"Accept-Language": "en"}
    terms = page(client.get("/legal/terms", headers=english))
    assert "English text." in terms and 'lang="en"' in terms
    privacy = page(client.get("/legal/privacy", headers=english))
    assert "Seulement en français." in privacy
    assert "has not been translated into English yet" in privacy
    assert '<div class="legal-text" lang="fr">' in privacy


def test_script_in_markdown_is_shown_as_text(client, publish):
    publish(fr="Bonjour <script>alert('pwned')</script>\n")
    html = page(client.get("/legal/terms"))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


def test_an_announced_version_is_shown_with_a_link_to_its_changes(client, publish, zone):
    publish()
    publish(fr="Nouveau texte.", effective_on=utcnow().astimezone(zone).date() + timedelta(days=15))
    current = page(client.get("/legal/terms"))
    assert "Version 1" in current
    assert "La version 2 entre en vigueur le" in current
    assert "/legal/terms/diff?from=1&amp;to=2" in current
    upcoming = page(client.get("/legal/terms/2"))
    assert "pas encore en vigueur" in upcoming


def test_an_old_version_says_it_no_longer_applies(client, publish):
    publish()
    publish(fr="Deuxième texte.")
    html = page(client.get("/legal/terms/1"))
    assert "Elle ne s'applique plus." in html
    assert "Lire la version en vigueur (version 2)" in html


def test_a_missing_version_is_a_404_that_points_to_the_history(client, publish):
    publish()
    response = client.get("/legal/terms/7")
    assert response.status_code == 404
    assert "La version 7" in page(response)
    for path in ("/legal/cookies", "/legal/cookies/history", "/legal/cookies/1"):
        assert client.get(path).status_code == 404, path


def test_history_lists_every_version_with_its_summary(client, publish):
    publish(summary="Première version.")
    publish(summary="Ajout de la clause sur les sauvegardes.")
    html = page(client.get("/legal/terms/history"))
    assert "Première version." in html and "Ajout de la clause sur les sauvegardes." in html
    assert "/legal/terms/diff?from=1&amp;to=2" in html
    assert '<select id="compare-from" name="from">' in html


def test_the_diff_shows_word_changes_to_a_visitor(client, publish):
    publish(fr="Nous gardons vos données un an.\n")
    publish(fr="Nous gardons vos données six mois.\n", summary="Durée réduite.")
    response = client.get("/legal/terms/diff?from=1&to=2")
    assert response.status_code == 200
    html = page(response)
    assert "<del>un an.</del> <ins>six mois.</ins>" in html
    assert "Durée réduite." in html
    assert "Comment lire les changements" in html


def test_the_diff_without_arguments_compares_the_last_two_versions(client, publish):
    publish(fr="A")
    publish(fr="B")
    assert "<del>A</del> <ins>B</ins>" in page(client.get("/legal/terms/diff"))


def test_a_diff_between_versions_that_do_not_exist_says_so(client, publish):
    publish()
    publish(fr="Autre.")
    for query in ("from=1&to=9", "from=0&to=2", "from=un&to=2"):
        response = client.get(f"/legal/terms/diff?{query}")
        assert response.status_code == 404, query
        assert "Choisissez deux versions qui existent" in page(response)
        assert "<del>" not in page(response)


def test_the_full_diff_shows_unchanged_paragraphs_too(client, publish):
    body = "\n\n".join(f"Paragraphe {n}." for n in range(8))
    publish(fr=body)
    publish(fr=body.replace("Paragraphe 7.", "Paragraphe sept."))
    compact = page(client.get("/legal/terms/diff?from=1&to=2"))
    assert "Paragraphe 1." not in compact and "paragraphes inchangés" in compact
    assert "Paragraphe 1." in page(client.get("/legal/terms/diff?from=1&to=2&full=1"))


# Staff publishing -----------------------------------------------------------------------


def publish_form(**fields: str) -> dict[str, str]:
    data = {
        "summary_fr": "Nouvelle clause.",
        "body_fr": "## Objet\n\nTexte.\n",
        "action": "publish",
    }
    data.update(fields)
    return data


def test_users_who_are_not_staff_cannot_publish(login_as, client, post_form):
    login_as("alice")
    assert client.get("/staff/legal").status_code == 403
    assert client.get("/staff/legal/terms/publish").status_code == 403


def test_visitors_are_sent_to_sign_in(client):
    response = client.get("/staff/legal/terms/publish")
    assert response.status_code == 302 and "/login" in response.location


def test_the_publish_form_starts_from_the_latest_text(login_as, client, publish, accept_terms):
    publish(fr="## Article\n\nTexte de la version un.\n")
    login_as("camille")
    accept_terms()
    response = client.get("/staff/legal/terms/publish")
    assert response.status_code == 200
    html = page(response)
    assert "Publier la version 2" in html
    assert "Texte de la version un." in html


def test_staff_preview_shows_the_text_and_changes_without_publishing(login_as, client, post_form):
    login_as("camille")
    response = post_form(
        "/staff/legal/terms/publish",
        publish_form(body_fr="## Objet\n\nBonjour <b>gras</b>.\n", action="preview"),
        token_from="/staff/legal/terms/publish",
    )
    assert response.status_code == 200
    html = page(response)
    assert "Aperçu — pas encore publié" in html
    assert "&lt;b&gt;gras&lt;/b&gt;" in html
    assert versions(client.application) == []


def confirm_token(html: str) -> str:
    found = re.search(r'name="confirm" value="([^"]+)"', html)
    assert found, "no confirm step on the page"
    return found.group(1)


def review_then_publish(post_form, path: str, data: dict[str, str]):
    """The two steps a staff member takes: check the changes, then confirm."""
    review = post_form(path, {**data, "action": "review"}, token_from=path)
    assert review.status_code == 200
    token = confirm_token(page(review))
    return post_form(path, {**data, "action": "publish", "confirm": token}, token_from=path)


def test_nothing_is_published_without_the_confirm_step(
    login_as, client, post_form, publish, accept_terms
):
    publish()
    login_as("camille")
    accept_terms()
    path = "/staff/legal/terms/publish"
    response = post_form(path, publish_form(), token_from=path)
    assert response.status_code == 200
    html = page(response)
    assert "Vérifier avant de publier la version 2" in html
    assert "Rien n'est publié" in html
    assert len(versions(client.application)) == 1
    forged = post_form(path, {**publish_form(), "confirm": "made-up"}, token_from=path)
    assert "Rien n'est publié" in page(forged)
    assert len(versions(client.application)) == 1


def test_a_text_edited_after_its_review_is_checked_again(
    login_as, client, post_form, publish, accept_terms
):
    publish()
    login_as("camille")
    accept_terms()
    path = "/staff/legal/terms/publish"
    review = post_form(path, publish_form(action="review"), token_from=path)
    token = confirm_token(page(review))
    edited = publish_form(body_fr="## Objet\n\nUn autre texte.\n", confirm=token)
    response = post_form(path, edited, token_from=path)
    assert response.status_code == 200
    assert "Rien n'est publié" in page(response)
    assert len(versions(client.application)) == 1


def test_the_review_counts_the_people_asked_and_renders_the_markdown_diff(
    login_as, client, post_form, publish, accept_terms, make_account
):
    publish(fr="## Objet\n\nLe service est fourni.\n")
    for uid in ("alice", "bob", "dominique"):
        make_account(uid)
    login_as("camille")  # a fourth account
    accept_terms()
    path = "/staff/legal/terms/publish"
    data = publish_form(body_fr="## Modération\n\nLe service est fourni gratuitement.\n")
    response = post_form(path, {**data, "action": "review"}, token_from=path)
    html = page(response)
    assert "4 personnes ayant un compte devront accepter cette version" in html
    review = html[html.index('class="legal-review"') : html.index("<form")]
    assert "##" not in review
    assert re.search(r'class="diff-block diff-heading diff-changed">.*Modération', html)
    assert "<del>fourni.</del> <ins>fourni gratuitement.</ins>" in html
    assert len(versions(client.application)) == 1


def test_staff_are_warned_when_only_the_french_text_changed(
    login_as, client, post_form, publish, accept_terms
):
    publish(fr="## Objet\n\nTexte un.\n", en="## Purpose\n\nText one.\n")
    login_as("camille")
    accept_terms()
    path = "/staff/legal/terms/publish"
    data = publish_form(body_fr="## Objet\n\nTexte deux.\n", body_en="## Purpose\n\nText one.\n")
    html = page(post_form(path, {**data, "action": "review"}, token_from=path))
    assert "La traduction anglaise n'a pas changé" in html
    assert "Ce texte n'a pas changé." in html
    translated = publish_form(
        body_fr="## Objet\n\nTexte deux.\n", body_en="## Purpose\n\nText two.\n"
    )
    html = page(post_form(path, {**translated, "action": "review"}, token_from=path))
    assert "La traduction anglaise n'a pas changé" not in html


def test_english_readers_are_told_the_binding_french_text_changed(client, publish):
    publish(
        fr="## Objet\n\nNous gardons vos données un an.\n",
        en="## Purpose\n\nWe keep data a year.\n",
    )
    publish(
        fr="## Objet\n\nNous gardons vos données six mois.\n",
        en="## Purpose\n\nWe keep data a year.\n",
    )
    english = {"Accept-Language": "en"}
    diff = page(client.get("/legal/terms/diff?from=1&to=2", headers=english))
    assert "The French text, which is the one that applies, changed in this version" in diff
    assert "The text is the same in both versions" not in diff
    assert "<del>un an.</del>" in diff and "<ins>six mois.</ins>" in diff
    document = page(client.get("/legal/terms/2", headers=english))
    assert "this English translation was not updated" in document
    french = page(client.get("/legal/terms/diff?from=1&to=2", headers={"Accept-Language": "fr"}))
    assert "n'a pas été mise à jour" not in french


def test_staff_publish_a_version_which_is_audited(login_as, client, post_form):
    login_as("camille")
    response = review_then_publish(
        post_form,
        "/staff/legal/privacy/publish",
        publish_form(body_en="## Purpose\n\nText.\n", summary_en="New clause."),
    )
    assert response.status_code == 302
    assert response.location.endswith("/legal/privacy/1")
    (version,) = versions(client.application)
    assert (version.document, version.summary_en, version.body_en) == (
        "privacy",
        "New clause.",
        "## Purpose\n\nText.\n",
    )
    assert version.published_by_id is not None
    with session_scope(client.application) as session:
        count = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "legal.published")
        )
    assert count == 1


def test_staff_get_clear_messages_and_nothing_is_written(
    login_as, client, post_form, publish, zone
):
    login_as("camille")
    today = utcnow().astimezone(zone).date()
    publish(effective_on=today + timedelta(days=20))
    cases = [
        (publish_form(body_fr="   "), "Le texte est vide"),
        (publish_form(summary_fr=""), "Dites en une phrase ou deux"),
        (publish_form(body_fr="x" * (1024 * 1024 + 10)), "Le texte dépasse 1 Mo"),
        (
            publish_form(effective_on=(today + timedelta(days=2)).isoformat()),
            "ne peut pas précéder celle de la version 1",
        ),
        (publish_form(effective_on="pas une date"), "date"),
    ]
    for data, message in cases:
        response = post_form(
            "/staff/legal/terms/publish", data, token_from="/staff/legal/terms/publish"
        )
        assert response.status_code == 422, message
        html = page(response)
        assert message in html, message
        assert re.search(r'aria-invalid="true"', html), message
    assert len(versions(client.application)) == 1


def test_an_unknown_document_cannot_be_published(login_as, client):
    login_as("camille")
    assert client.get("/staff/legal/cookies/publish").status_code == 404


def test_staff_index_lists_both_documents_and_announced_versions(login_as, client, publish, zone):
    publish(effective_on=utcnow().astimezone(zone).date() + timedelta(days=3))
    login_as("camille")
    html = page(client.get("/staff/legal"))
    assert "Publier la version 2" in html and "Publier la version 1" in html
    assert "Annoncées, pas encore en vigueur" in html
    staff_home = page(client.get("/staff/"))
    assert "Versions des conditions annoncées, pas encore en vigueur" in staff_home


def test_english_readers_are_told_the_translation_lags_until_it_is_updated(client, publish):
    publish(fr="## Objet\n\nUn an.\n", en="## Purpose\n\nA year.\n", summary_en="First.")
    publish(fr="## Objet\n\nSix mois.\n", en="## Purpose\n\nA year.\n", summary_en="Shorter.")
    # Version 3 changes only the summary: the translation still lags behind version 2.
    publish(fr="## Objet\n\nSix mois.\n", en="## Purpose\n\nA year.\n", summary_en="Typo.")
    english = {"Accept-Language": "en"}
    current = page(client.get("/legal/terms", headers=english))
    assert "changed in version 2, but this English translation was not updated since" in current
    assert "/legal/terms/diff?from=1&amp;to=3" in current
    history = page(client.get("/legal/terms/history", headers=english))
    assert history.count("legal-stale") == 2
    assert "The binding French text changed in this version" in history
    assert "was not updated since the binding French text changed in version 2" in history
    assert "legal-stale" not in page(client.get("/legal/terms/1", headers=english))
    assert "legal-stale" not in page(
        client.get("/legal/terms/history", headers={"Accept-Language": "fr"})
    )
    # Version 4 brings the translation up to date: no more note on it.
    publish(fr="## Objet\n\nSix mois.\n", en="## Purpose\n\nSix months.\n", summary_en="Fixed.")
    assert "legal-stale" not in page(client.get("/legal/terms", headers=english))
    history = page(client.get("/legal/terms/history", headers=english))
    assert history.count("legal-stale") == 2
