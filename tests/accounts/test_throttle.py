"""Throttling cannot lock a person out: failures only, reset on success, device cookies."""

from __future__ import annotations

from helpers import csrf_token, do_login


def sign_out(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_strangers_typing_zoe_wrongly_do_not_lock_zoe_out_of_her_browser(make_app):
    app = make_app(LOGIN_LIMIT_PER_LOGIN="5 per hour")
    zoe = app.test_client()
    assert do_login(zoe, "zoe", "demo").status_code == 302
    sign_out(zoe)
    for attacker_login in ("ZOE ", "zoe", " Zoe"):
        attacker = app.test_client()
        for _ in range(2):
            do_login(attacker, attacker_login, "guess")
    attacker = app.test_client()
    assert do_login(attacker, "ZOE ", "guess").status_code == 429  # unknown clients: limited
    assert do_login(app.test_client(), "zoe", "demo").status_code == 429
    # Zoe's own browser signs in as usual.
    assert do_login(zoe, "zoe", "demo").status_code == 302
    assert zoe.get("/").status_code == 200


def test_successful_sign_ins_do_not_count_and_a_success_resets_the_count(make_app):
    app = make_app(LOGIN_LIMIT_PER_LOGIN="3 per hour")
    client = app.test_client()
    for _ in range(5):
        assert do_login(client, "alice", "demo").status_code == 302
        sign_out(client)
    stranger = app.test_client()  # no device cookie: counted with every unknown client
    for _ in range(2):
        assert do_login(stranger, "bob", "wrong").status_code == 422
    assert do_login(stranger, "bob", "demo").status_code == 302
    sign_out(stranger)
    other = app.test_client()
    for _ in range(2):
        assert do_login(other, "bob", "wrong").status_code == 422
    assert do_login(other, "bob", "demo").status_code == 302


def test_a_known_browser_guessing_is_limited_on_its_own(make_app):
    app = make_app(LOGIN_LIMIT_PER_LOGIN="3 per hour")
    zoe = app.test_client()
    assert do_login(zoe, "zoe", "demo").status_code == 302
    sign_out(zoe)
    codes = [do_login(zoe, "zoe", "typo").status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]
    # Unknown clients are counted apart from her browser.
    assert do_login(app.test_client(), "zoe", "demo").status_code == 302


def test_a_forged_device_cookie_counts_as_an_unknown_client(make_app):
    app = make_app(LOGIN_LIMIT_PER_LOGIN="2 per hour")
    attacker = app.test_client()
    for _ in range(2):
        do_login(attacker, "zoe", "guess")
    attacker.set_cookie("panel_device", "eyJsb2dpbiI6InpvZSJ9.forged.signature")
    assert do_login(attacker, "zoe", "guess").status_code == 429
