"""Publishing, numbering, immutability, effective dates, the gate's question, acceptances."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.legal import services
from app.legal.models import TermsAcceptance, TermsVersion
from app.legal.section import LegalSection


def count_versions(session) -> int:
    return session.scalar(select(func.count()).select_from(TermsVersion))


def test_versions_are_numbered_consecutively_per_document(publish):
    assert publish("terms").number == 1
    assert publish("terms").number == 2
    assert publish("privacy").number == 1
    assert publish("terms").number == 3


def test_publishing_is_audited_with_the_publisher(publish, make_account, db_session):
    camille = make_account("camille", is_staff=True)
    version = publish("privacy", publisher=camille)
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "legal.published")
    ).one()
    assert event.actor_id == camille.id
    assert event.details_dict["document"] == "privacy"
    assert event.details_dict["number"] == version.number


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"fr": services.DraftText("   \n", "Résumé")}, "empty"),
        ({"fr": services.DraftText("x" * (1024 * 1024 + 1), "Résumé")}, "1 MB"),
        (
            {"fr": services.DraftText("Texte", "Résumé"), "de": services.DraftText("Text", "")},
            "Unknown language",
        ),
        ({"en": services.DraftText("Text only in English", "Summary")}, "French text is required"),
        ({"fr": services.DraftText("Texte", "  ")}, "what changes"),
        ({"fr": services.DraftText("Te\x00xte", "Résumé")}, "control characters"),
    ],
    ids=["empty", "over-1MB", "unknown-language", "no-french", "no-summary", "nul"],
)
def test_bad_texts_are_refused_and_nothing_is_written(db_session, zone, texts, message):
    with pytest.raises(services.InvalidText, match=message):
        services.publish_version(db_session, "terms", texts, zone=zone)
    db_session.rollback()
    assert count_versions(db_session) == 0


def test_a_body_of_exactly_one_megabyte_is_accepted(db_session, zone):
    body = "é" * (512 * 1024)  # two bytes each in UTF-8
    version = services.publish_version(
        db_session, "terms", {"fr": services.DraftText(body, "Long")}, zone=zone
    )
    assert version.number == 1


def test_unknown_document_is_refused(db_session, zone):
    with pytest.raises(services.UnknownDocument):
        services.publish_version(
            db_session, "cookies", {"fr": services.DraftText("x", "y")}, zone=zone
        )


def test_empty_english_translation_is_no_translation(db_session, zone):
    version = services.publish_version(
        db_session,
        "terms",
        {"fr": services.DraftText("Texte", "Résumé"), "en": services.DraftText("  ", "")},
        zone=zone,
    )
    assert version.body_en is None
    assert version.body("en") == "Texte\n"
    assert version.text_language("en") == "fr"


def test_english_summary_falls_back_to_french(publish):
    version = publish(en="Text", summary="Nouvelle clause.", summary_en="")
    assert version.summary("en") == "Nouvelle clause."
    assert version.summary_language("en") == "fr"


def test_future_version_takes_effect_on_its_day_and_not_before(publish, db_session, zone):
    first = publish()
    today = utcnow().astimezone(zone).date()
    second = publish(effective_on=today + timedelta(days=10))
    assert second.effective_at > utcnow()
    assert services.current_version(db_session, "terms").id == first.id
    assert [v.id for v in services.upcoming_versions(db_session)] == [second.id]
    later = second.effective_at + timedelta(seconds=1)
    assert services.current_version(db_session, "terms", now=later).id == second.id


def test_effective_date_is_midnight_in_the_hosters_time_zone(publish, zone):
    day = utcnow().astimezone(zone).date() + timedelta(days=30)
    version = publish(effective_on=day)
    local = version.effective_at.astimezone(zone)
    assert (local.date(), local.hour, local.minute) == (day, 0, 0)


def test_a_version_cannot_take_effect_before_the_previous_one(publish, db_session, zone):
    today = utcnow().astimezone(zone).date()
    publish(effective_on=today + timedelta(days=5))
    with pytest.raises(services.InvalidEffectiveDate, match="version 1"):
        services.publish_version(
            db_session,
            "terms",
            {"fr": services.DraftText("Texte", "Résumé")},
            effective_on=today + timedelta(days=4),
            zone=zone,
        )
    db_session.rollback()
    assert count_versions(db_session) == 1


def test_a_past_date_is_allowed_when_it_follows_the_previous_version(publish, zone):
    """Importing the history kept in git: old versions with their old dates, in order."""
    old_now = datetime(2020, 1, 1, 12, tzinfo=zone)
    first = publish(effective_on=date(2020, 1, 1), now=old_now)
    second = publish(effective_on=date(2022, 6, 1))
    assert first.effective_at < second.effective_at < utcnow()


def test_effective_date_text_is_checked():
    assert services.parse_effective_date("2030-02-01") == date(2030, 2, 1)
    assert services.parse_effective_date("  ") is None
    with pytest.raises(services.InvalidEffectiveDate, match="YYYY-MM-DD"):
        services.parse_effective_date("01/02/2030")


# Immutability, enforced by the database --------------------------------------------------


def test_the_database_refuses_to_change_a_published_version(publish, app):
    version = publish()
    with pytest.raises(DBAPIError), session_scope(app) as session:
        session.execute(
            update(TermsVersion).where(TermsVersion.id == version.id).values(body_fr="Autre")
        )
    with pytest.raises(DBAPIError), session_scope(app) as session:
        stored = session.get(TermsVersion, version.id)
        stored.summary_fr = "Réécrit"
    with session_scope(app) as session:
        assert session.get(TermsVersion, version.id).body_fr == version.body_fr


def test_the_database_refuses_to_delete_a_published_version(publish, app):
    version = publish()
    with pytest.raises(DBAPIError), session_scope(app) as session:
        session.execute(text("DELETE FROM terms_version"))
    with pytest.raises(DBAPIError), session_scope(app) as session:
        session.execute(delete(TermsVersion).where(TermsVersion.id == version.id))
    with session_scope(app) as session:
        assert count_versions(session) == 1


def test_the_database_keeps_numbers_and_dates_in_order(publish, app):
    first = publish()
    row = {
        "document": "terms",
        "body_fr": "x",
        "summary_fr": "y",
        "published_at": utcnow(),
    }
    with pytest.raises(DBAPIError), session_scope(app) as session:
        session.add(TermsVersion(number=3, effective_at=utcnow(), **row))  # skips 2
    with pytest.raises(DBAPIError), session_scope(app) as session:
        session.add(
            TermsVersion(number=2, effective_at=first.effective_at - timedelta(days=1), **row)
        )
    with session_scope(app) as session:
        session.add(TermsVersion(number=2, effective_at=utcnow(), **row))


def test_deleting_the_publisher_keeps_the_version_without_its_name(publish, make_account, app):
    camille = make_account("camille", is_staff=True)
    version = publish(publisher=camille)
    with session_scope(app) as session:
        session.execute(delete(Account).where(Account.id == camille.id))
    with session_scope(app) as session:
        kept = session.get(TermsVersion, version.id)
        assert kept.published_by_id is None
        assert kept.body_fr == version.body_fr


def test_two_staff_publishing_at_the_same_instant_get_consecutive_numbers_or_a_clear_error(
    app, monkeypatch, zone
):
    """Both read "latest is version 1" before either writes; exactly one of them wins."""
    with session_scope(app) as session:
        services.publish_version(
            session, "terms", {"fr": services.DraftText("v1", "un")}, zone=zone
        )
    barrier = threading.Barrier(2, timeout=20)
    real_latest = services.latest_version

    def latest_then_wait(session, document):
        found = real_latest(session, document)
        barrier.wait()
        return found

    monkeypatch.setattr(services, "latest_version", latest_then_wait)
    outcomes: list[object] = []

    def publish_in_thread(body: str) -> None:
        with app.test_request_context():
            try:
                with session_scope(app) as session:
                    version = services.publish_version(
                        session, "terms", {"fr": services.DraftText(body, "deux")}, zone=zone
                    )
                    outcomes.append(version.number)
            except services.PublishConflict as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=publish_in_thread, args=(b,)) for b in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes, key=str)[0] == 2
    conflict = next(o for o in outcomes if isinstance(o, services.PublishConflict))
    assert "at the same moment" in str(conflict)
    with session_scope(app) as session:
        numbers = session.scalars(select(TermsVersion.number).order_by(TermsVersion.number)).all()
    assert numbers == [1, 2]


# The gate's question and acceptances ----------------------------------------------------


def test_nobody_is_gated_while_no_version_is_in_effect(make_account, publish, db_session, zone):
    alice = make_account("alice")
    assert services.needs_acceptance(db_session, alice.id) is False
    publish(effective_on=utcnow().astimezone(zone).date() + timedelta(days=3))
    assert services.needs_acceptance(db_session, alice.id) is False


def test_a_user_must_accept_each_document_in_effect(make_account, publish, db_session):
    alice = make_account("alice")
    terms = publish("terms")
    privacy = publish("privacy")
    assert services.needs_acceptance(db_session, alice.id)
    pending = services.pending_documents(db_session, alice.id)
    assert [(p.current.id, p.accepted) for p in pending] == [(terms.id, None), (privacy.id, None)]
    account = db_session.get(Account, alice.id)
    recorded = services.accept_versions(db_session, account, [terms.id, privacy.id])
    db_session.commit()
    assert len(recorded) == 2
    assert services.needs_acceptance(db_session, alice.id) is False
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.account_id == alice.id)
    ).all()
    assert actions.count("legal.accepted") == 2


def test_a_new_version_gates_again_and_shows_what_was_accepted(make_account, publish, db_session):
    alice = make_account("alice")
    v1 = publish()
    account = db_session.get(Account, alice.id)
    services.accept_versions(db_session, account, [v1.id])
    db_session.commit()
    v2 = publish()
    v3 = publish()
    pending = services.pending_documents(db_session, alice.id)
    assert len(pending) == 1
    assert pending[0].current.id == v3.id
    assert pending[0].accepted.id == v1.id
    assert [v.id for v in pending[0].skipped] == [v2.id]


def test_accepting_a_version_that_is_no_longer_in_effect_is_refused(
    make_account, publish, db_session
):
    alice = make_account("alice")
    v1 = publish()
    publish()  # v2 takes effect while alice reads v1
    account = db_session.get(Account, alice.id)
    with pytest.raises(services.StaleVersion):
        services.accept_versions(db_session, account, [v1.id])
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(TermsAcceptance)) == 0


def test_accepting_only_one_of_two_pending_documents_is_refused(make_account, publish, db_session):
    alice = make_account("alice")
    terms = publish("terms")
    publish("privacy")
    account = db_session.get(Account, alice.id)
    with pytest.raises(services.StaleVersion):
        services.accept_versions(db_session, account, [terms.id])


def test_accepting_twice_records_once(make_account, publish, db_session):
    alice = make_account("alice")
    v1 = publish()
    account = db_session.get(Account, alice.id)
    services.accept_versions(db_session, account, [v1.id])
    db_session.commit()
    assert services.accept_versions(db_session, account, [v1.id]) == []


# Export and deletion of the panel's data -------------------------------------------------


def test_export_holds_acceptances_as_json_and_csv_and_the_accepted_texts(
    make_account, publish, db_session, app
):
    alice = make_account("alice")
    v1 = publish(en="# Terms\n\nEnglish text.\n")
    account = db_session.get(Account, alice.id)
    services.accept_versions(db_session, account, [v1.id])
    db_session.commit()
    with app.test_request_context():
        entries = {e.path: b"".join(e.chunks) for e in LegalSection().export(db_session, account)}
        items = LegalSection().inventory(db_session, account)
    assert set(entries) == {
        "panel/legal/acceptances.json",
        "panel/legal/acceptances.csv",
        "panel/legal/terms-v1.fr.md",
        "panel/legal/terms-v1.en.md",
    }
    data = json.loads(entries["panel/legal/acceptances.json"])
    assert data["acceptances"][0]["document"] == "terms"
    assert data["acceptances"][0]["version"] == 1
    table = entries["panel/legal/acceptances.csv"].decode("utf-8-sig").splitlines()
    assert table[1].startswith("Conditions générales d'utilisation,1,")
    assert "Nous gardons vos données un an." in entries["panel/legal/terms-v1.fr.md"].decode()
    assert items[0].exported is True


def test_deleting_the_section_forgets_acceptances_but_keeps_versions(
    make_account, publish, db_session
):
    alice = make_account("alice")
    bob = make_account("bob")
    v1 = publish()
    for uid in (alice, bob):
        services.accept_versions(db_session, db_session.get(Account, uid.id), [v1.id])
    db_session.commit()
    LegalSection().delete(db_session, db_session.get(Account, alice.id))
    db_session.commit()
    assert services.acceptances_of(db_session, alice.id) == []
    assert len(services.acceptances_of(db_session, bob.id)) == 1
    assert count_versions(db_session) == 1


def test_a_review_says_which_language_changed_and_writes_nothing(
    publish, make_account, db_session, zone
):
    publish(fr="## Objet\n\nTexte un.\n", en="## Purpose\n\nText one.\n")
    make_account("alice")
    make_account("bob")

    def review(fr: str, en: str) -> services.PublicationReview:
        texts = {"fr": services.DraftText(fr, "Résumé."), "en": services.DraftText(en)}
        return services.review_publication(db_session, "terms", texts, zone=zone)

    french_only = review("## Objet\n\nTexte deux.\n", "## Purpose\n\nText one.\n")
    assert french_only.only_french_changed and not french_only.only_translation_changed
    assert (french_only.number, french_only.accounts_to_ask) == (2, 2)
    rewrapped = review("## Objet\n\nTexte\ndeux.\n", "## Purpose\n\nText one.\n")
    assert rewrapped.change("fr").diff.words_added == 1  # line breaks are not changes
    english_only = review("## Objet\n\nTexte un.\n", "## Purpose\n\nText two.\n")
    assert english_only.only_translation_changed and not english_only.only_french_changed
    both = review("## Objet\n\nTexte deux.\n", "## Purpose\n\nText two.\n")
    assert not both.only_french_changed and not both.only_translation_changed
    dropped = review("## Objet\n\nTexte un.\n", "")
    assert dropped.change("en").removed and not dropped.nothing_changed
    assert review("## Objet\n\nTexte un.\n", "## Purpose\n\nText one.\n").nothing_changed
    assert count_versions(db_session) == 1


def test_the_acceptances_table_is_for_people_and_says_when_a_translation_is_stale(
    make_account, publish, db_session, app
):
    alice = make_account("alice")
    publish(en="# Terms\n\nEnglish text.\n")
    # The French text changes; the translation is published again unchanged.
    v2 = publish(
        fr="## Données\n\nNous gardons vos données six mois.\n", en="# Terms\n\nEnglish text.\n"
    )
    account = db_session.get(Account, alice.id)
    services.accept_versions(db_session, account, [v2.id])
    db_session.commit()
    with app.test_request_context(headers={"Cookie": "panel_tz=America/Montreal"}):
        entries = {e.path: e for e in LegalSection().export(db_session, account)}
    rows = list(
        csv.reader(
            io.StringIO(b"".join(entries["panel/legal/acceptances.csv"].chunks).decode("utf-8-sig"))
        )
    )
    assert rows[0][:3] == ["Document", "Version", "Accepté le (America/Montreal)"]
    document, number, accepted, effective, translation = rows[1]
    assert (document, number) == ("Conditions générales d'utilisation", "2")
    assert re.fullmatch(r"\d{1,2} \w+ \d{4} à \d\d:\d\d( UTC-0[45]:00)?", accepted), accepted
    assert re.fullmatch(r"\d{1,2} \w+ \d{4}", effective), effective
    assert "pas été mise à jour" in translation and "version 2" in translation
    english = entries["panel/legal/terms-v2.en.md"].description
    assert "pas été mise à jour" in english
    assert "pas été mise à jour" not in entries["panel/legal/terms-v2.fr.md"].description
