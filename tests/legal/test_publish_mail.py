"""Publishing new terms tells every person with an account, in their language, by list mail."""

from __future__ import annotations

from legal.test_views import publish_form, review_then_publish
from sqlalchemy import select

from app.db import session_scope
from app.mail import OutgoingMail


def queued(app) -> dict[str, OutgoingMail]:
    with session_scope(app) as session:
        rows = session.scalars(
            select(OutgoingMail).where(OutgoingMail.purpose == "legal.published")
        ).all()
        session.expunge_all()
        return {m.recipient: m for m in rows}


def test_everyone_with_an_account_is_told_in_their_language_with_the_diff(
    login_as, client, post_form, publish, accept_terms, make_account
):
    publish()
    make_account("ines", email="ines@example.net", language="fr")
    make_account("ruth", email="ruth@example.net", language="fr", chosen_language="en")
    make_account("nomail", email=None, language="en")
    login_as("camille")
    accept_terms()
    path = "/staff/legal/terms/publish"
    data = publish_form(
        summary_fr="Nous gardons les journaux moins longtemps.",
        summary_en="We keep logs for less time.",
        body_en="## Purpose\n\nText.\n",
        effective_on="2031-01-15",
    )
    response = review_then_publish(post_form, path, data)
    assert response.status_code == 302
    mails = queued(client.application)
    assert set(mails) == {"ines@example.net", "ruth@example.net", "camille@demo.chatons.org"}
    assert all(m.bulk for m in mails.values())  # list mail, sent at the outbox's pace

    french = mails["ines@example.net"]
    assert (
        "Nouvelle version de « Conditions générales d'utilisation », en vigueur le 15 janvier 2031"
        in (french.subject.replace("\u202f", " ").replace("\u00a0", " "))
    )
    assert "Nous gardons les journaux moins longtemps." in french.body
    assert "/legal/terms/diff?from=1&to=2" in french.body

    english = mails["ruth@example.net"]  # her choice, not the directory's French
    assert "New version of “Terms of service”, in effect on January 15, 2031" in english.subject
    assert "We keep logs for less time." in english.body
    assert "/legal/terms/diff?from=1&to=2" in english.body
