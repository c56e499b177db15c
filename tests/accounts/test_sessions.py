"""Session cookies: their attributes with and without TLS, and reading a Cookie header."""

from __future__ import annotations

from unigate.accounts.sessions import SESSION_COOKIE, clear_cookie, cookie_name, read_cookies, set_cookie


def test_cookie_attributes():
    plain = set_cookie(SESSION_COOKIE, "v", secure=False, max_age=60).decode()
    assert plain == "unigate_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
    tls = set_cookie(SESSION_COOKIE, "v", secure=True, max_age=60).decode()
    # under TLS: Secure, and the __Host- prefix makes the browser refuse it from a subdomain or another path
    assert tls == "__Host-unigate_session=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60"
    assert clear_cookie(SESSION_COOKIE, secure=False).decode().endswith("Max-Age=0")
    assert cookie_name(SESSION_COOKIE, True) == "__Host-unigate_session"


def test_reading_cookies():
    assert read_cookies(b"a=1; unigate_session=abc") == {"a": "1", "unigate_session": "abc"}
    assert read_cookies(None) == {}
    assert read_cookies(b'broken="') == {}
