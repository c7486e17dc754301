"""The team's mail about a new ticket names the service and the kind of request in words."""

from __future__ import annotations

from support.test_mail import body_of, open_as


def test_the_staff_mail_shows_words_not_codes_with_french_typography(make_support_app, smtp):
    app = make_support_app(SMTP_URL=smtp.url, SUPPORT_STAFF_EMAIL="team@demo.chatons.org")
    open_as(app.test_client(), "alice")
    [mail] = smtp.messages
    text = body_of(mail)
    assert "Service\u202f: Cloud" in text
    assert "Type de demande\u202f: Quelque chose ne fonctionne pas" in text
    assert "problem" not in text
