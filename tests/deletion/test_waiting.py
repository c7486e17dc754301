"""The account page shows a pending deletion with its date and a button to cancel it."""

from __future__ import annotations

import html
import re

from deletion.deletion_support import open_request
from deletion.test_views import requests_of, signed_in

from helpers import csrf_token


def test_a_pending_deletion_is_on_the_account_page_and_can_be_cancelled_there(
    make_deletion_app,
):
    app = make_deletion_app(DELETION_GRACE_DAYS=7)
    client = signed_in(app, "alice")
    assert "Ce qui vous attend" not in client.get("/").get_data(as_text=True)
    open_request(app, "alice")
    page = html.unescape(client.get("/").get_data(as_text=True))
    assert "Ce qui vous attend" in page
    assert re.search(
        r"Votre compte et ses données seront supprimés après le \d+ \w+ 20\d\d\.", page
    )
    assert 'action="/account/deletion/cancel"' in page
    token = csrf_token(client, "/")
    client.post("/account/deletion/cancel", data={"csrf_token": token})
    assert [r.state for r in requests_of(app)] == ["cancelled"]
    assert "Ce qui vous attend" not in client.get("/").get_data(as_text=True)
