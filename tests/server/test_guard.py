"""A gateway without a master key, attacked the way a web page can: DNS rebinding (a foreign
``Host``), cross-origin posts (a foreign ``Origin``, ``text/plain`` bodies), and revoking the
last key to get the anonymous admin back."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.accounts.conftest import priced_model
from unigate.accounts.db import create_engine
from unigate.accounts.store import Store
from unigate.config import validate
from unigate.server.guard import is_loopback_host


@pytest.fixture
def keyless(start_gateway, upstream):
    config = {"models": [priced_model("priced", upstream.base_url)], "accounts": {"key_cache_ttl": 0.2}}
    return start_gateway(config)


CHAT = {"model": "priced", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:4000", True),
        ("app.localhost:4000", True),
        ("127.0.0.1:4000", True),
        ("127.8.9.10", True),
        ("[::1]:4000", True),
        ("evil.example", False),
        ("evil.example:4000", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("10.0.0.5:4000", False),
        ("[::1", False),
        ("", False),
    ],
)
def test_loopback_host_names(host, loopback):
    assert is_loopback_host(host) is loopback


def test_a_foreign_host_is_refused_without_a_master_key(keyless, upstream):
    """DNS rebinding: the page's requests reach 127.0.0.1 but name the attacker's host."""
    for path, method in (("/v1/chat/completions", "POST"), ("/admin/keys", "GET"), ("/v1/models", "GET")):
        reply = httpx.request(method, keyless.url + path, json=CHAT, headers={"host": "evil.example:4000"}, timeout=30)
        assert reply.status_code == 403, (path, reply.text)
        assert reply.json()["error"]["code"] == "host_not_allowed"
    assert upstream.chat_calls() == []
    assert httpx.post(keyless.url + "/v1/chat/completions", json=CHAT, timeout=30).status_code == 200
    local = httpx.post(keyless.url + "/v1/chat/completions", json=CHAT, headers={"host": "localhost"}, timeout=30)
    assert local.status_code == 200


def test_a_foreign_origin_cannot_use_the_admin_api(keyless):
    """A page on another origin posting to the local gateway (with the content type a page may
    send without asking first, and with JSON) creates nothing."""
    url = keyless.url + "/admin/keys"
    foreign = {"origin": "https://evil.example"}
    plain = httpx.post(url, content=b'{"name": "evil"}', headers={**foreign, "content-type": "text/plain"}, timeout=30)
    assert plain.status_code == 403, plain.text
    as_json = httpx.post(url, json={"name": "evil"}, headers=foreign, timeout=30)
    assert as_json.status_code == 403 and as_json.json()["error"]["code"] == "cross_origin_refused"
    no_origin_plain = httpx.post(url, content=b'{"name": "evil"}', headers={"content-type": "text/plain"}, timeout=30)
    assert no_origin_plain.status_code == 415
    chat = httpx.post(keyless.url + "/v1/chat/completions", json=CHAT, headers=foreign, timeout=30)
    assert chat.status_code == 403
    assert httpx.get(url, timeout=30).json()["data"] == []  # nothing was created
    same = httpx.post(url, json={"name": "mine"}, headers={"origin": keyless.url}, timeout=30)
    assert same.status_code == 201, same.text  # the gateway's own pages (the dashboard) still work


def test_revoking_the_last_key_does_not_bring_the_anonymous_admin_back(keyless):
    created = httpx.post(keyless.url + "/admin/keys", json={"name": "only"}, timeout=30)
    assert created.status_code == 201
    key = created.json()
    auth = {"authorization": f"Bearer {key['key']}"}
    assert httpx.get(keyless.url + "/admin/keys", timeout=30).status_code == 401  # anonymous is over

    # the key is not an admin: revoke it in the database, as `unigate keys revoke` does
    async def revoke() -> None:
        store = Store(create_engine(validate({"data_dir": str(keyless.workdir / "data")})))
        try:
            await store.update_key(key["id"], {"revoked_at": time.time(), "enabled": False})
        finally:
            await store.aclose()

    asyncio.run(revoke())
    time.sleep(1.0)  # past the key cache (0.2 s here)
    for headers in ({}, auth):
        reply = httpx.post(keyless.url + "/admin/keys", json={"name": "again"}, headers=headers, timeout=30)
        assert reply.status_code == 401, reply.text
        assert (
            httpx.post(keyless.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=30).status_code == 401
        )


def test_with_a_master_key_any_host_is_served_but_admin_stays_same_origin(start_gateway, upstream):
    server = {"master_key": "mk", "cors_origins": ["https://console.example"]}
    gateway = start_gateway({"server": server, "models": [priced_model("priced", upstream.base_url)]})
    auth = {"authorization": "Bearer mk"}
    named = httpx.post(
        gateway.url + "/v1/chat/completions", json=CHAT, headers={**auth, "host": "gateway.internal"}, timeout=30
    )
    assert named.status_code == 200
    foreign = httpx.post(
        gateway.url + "/admin/keys", json={"name": "x"}, headers={**auth, "origin": "https://evil.example"}, timeout=30
    )
    assert foreign.status_code == 403
    trusted = httpx.post(
        gateway.url + "/admin/keys",
        json={"name": "x"},
        headers={**auth, "origin": "https://console.example"},
        timeout=30,
    )
    assert trusted.status_code == 201, trusted.text  # an origin the operator listed in cors_origins
