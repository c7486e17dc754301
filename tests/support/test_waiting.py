"""The account page tells the person which tickets wait for their answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_a_ticket_waiting_for_the_person_is_on_their_account_page(
    signed_in: Callable[..., Any], make_ticket: Callable[..., int], staff_reply: Callable[..., int]
) -> None:
    quiet = signed_in("alice").get("/").get_data(as_text=True)
    assert "Ce qui vous attend" not in quiet  # nothing waits: nothing shown
    ticket_id = make_ticket("alice", subject="Mot de passe refusé")
    assert "Ce qui vous attend" not in signed_in("alice").get("/").get_data(as_text=True)
    staff_reply(ticket_id, then_state="waiting_user")
    page = signed_in("alice").get("/").get_data(as_text=True)
    assert "Ce qui vous attend" in page
    assert (
        f"La demande n° {ticket_id}, «\u202fMot de passe refusé\u202f», attend votre réponse."
        in page
    )
    assert f'href="/support/{ticket_id}"' in page
    # Someone else's ticket is not theirs to answer.
    assert "Mot de passe refusé" not in signed_in("zoe").get("/").get_data(as_text=True)
