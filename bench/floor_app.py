"""The panel as `wsgi:app` serves it, plus one benchmark-only page: the signed-in floor.

    gunicorn -c gunicorn.conf.py bench.floor_app:app     # what bench/pages.py starts

`/bench/signed-in-floor` is private like every panel page (a visitor is sent to the sign-in
form), so a signed-in request to it runs everything any signed-in page runs before and
after its view: the session's row with its account, the guards and hooks, the terms gate,
the commit and the session's cookie. Its view only answers the person's login. What it
costs is the least any signed-in page can cost, whatever the page renders or reads: the
ratio of a page to hello world can be no higher than this page's.
Never part of the panel itself: only this module, which the benchmark loads, adds it.
"""

from __future__ import annotations

from flask_login import current_user

from wsgi import app

FLOOR = "/bench/signed-in-floor"


def signed_in_floor() -> str:
    return f"{current_user.uid}\n"


app.add_url_rule(FLOOR, "bench_signed_in_floor", signed_in_floor)
