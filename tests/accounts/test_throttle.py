"""Throttling cannot lock a person out: failures only, reset on success, device cookies."""

from __future__ import annotations

import base64
import hashlib
import zlib

from app.accounts.throttle import DeviceCookies
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


def test_two_people_sharing_a_browser_both_keep_signing_in_when_one_is_attacked(make_app):
    app = make_app(LOGIN_LIMIT_PER_LOGIN="3 per hour")
    family = app.test_client()  # one browser, used by alice then bob
    for person in ("alice", "bob"):
        assert do_login(family, person, "demo").status_code == 302
        sign_out(family)
    attacker = app.test_client()  # from elsewhere, alice locked out for unknown browsers
    codes = [do_login(attacker, "alice", "guess").status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]
    assert do_login(app.test_client(), "alice", "demo").status_code == 429
    # The shared browser still signs both in, in any order, again and again.
    for person in ("alice", "bob", "alice"):
        assert do_login(family, person, "demo").status_code == 302, person
        assert family.get("/").status_code == 200
        sign_out(family)


def test_a_browser_remembers_its_last_five_logins_each_for_the_cookies_lifetime():
    devices = DeviceCookies("secret", max_age_seconds=30 * 86400)
    logins = ["ana", "ben", "chloé", "dan", "eve", "fred"]
    cookie, start = None, 1_000_000_000
    for day, login in enumerate(logins):
        cookie = devices.issue(login, devices.read(cookie, now=start + day), now=start + day)
    device = devices.read(cookie, now=start + 10)
    assert devices.nonce_for(device, "ana") is None  # the oldest of six is forgotten
    assert all(devices.nonce_for(device, name) for name in logins[1:])
    assert devices.nonce_for(device, " EVE ") == devices.nonce_for(device, "eve")
    # Each login is forgotten when its own sign-in is older than the lifetime.
    later = devices.read(cookie, now=start + 30 * 86400 + 2)
    assert devices.nonce_for(later, "ben") is None and devices.nonce_for(later, "fred")
    # Signed with another key, or tampered with: an unknown browser.
    assert DeviceCookies("other", 30 * 86400).read(cookie, now=start) is None
    assert devices.read(cookie[:-2] + "xx", now=start) is None


def test_the_device_cookie_spells_out_no_login(make_app):
    app = make_app()
    browser = app.test_client()
    assert do_login(browser, "camille", "demo").status_code == 302
    cookie = browser.get_cookie("panel_device")
    assert cookie is not None
    # itsdangerous: "payload.time.signature", or ".payload…" when the payload is zlib'd.
    compressed = cookie.value.startswith(".")
    payload = cookie.value.lstrip(".").split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if compressed:
        decoded = zlib.decompress(decoded)
    assert decoded.startswith(b"[")
    assert b"camille" not in decoded.lower()
    assert hashlib.sha256(b"camille").hexdigest()[:24].encode() not in decoded
