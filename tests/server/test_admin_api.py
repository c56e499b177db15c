"""The admin API over a real gateway process: master key only, keys see only themselves, and
the secret is never stored or logged — only its hash is in the database."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.accounts.conftest import MASTER, Admin, chat, module_gateway, priced_model
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream

ADMIN_ENDPOINTS = [
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys"),
    ("GET", "/admin/keys/{id}"),
    ("PATCH", "/admin/keys/{id}"),
    ("DELETE", "/admin/keys/{id}"),
    ("POST", "/admin/keys/{id}/topup"),
    ("GET", "/admin/teams"),
    ("POST", "/admin/teams"),
    ("GET", "/admin/teams/{team}"),
    ("PATCH", "/admin/teams/{team}"),
    ("DELETE", "/admin/teams/{team}"),
    ("POST", "/admin/teams/{team}/topup"),
    ("POST", "/admin/usage/flush"),
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    upstream = ThreadedUpstream(FakeUpstream(default=Mode(prompt_tokens=10, completion_tokens=5)))
    models = [priced_model("priced", upstream.base_url), priced_model("other", upstream.base_url)]
    yield from module_gateway(tmp_path_factory, {"server": {"master_key": MASTER}, "models": models})
    upstream.stop()


def test_admin_endpoints_refuse_without_the_master_key(gateway):
    admin = Admin(gateway.url)
    team = admin.client.post("/admin/teams", json={"name": "eng"}).json()
    key = admin.create_key(name="alice", team_id=team["id"])
    for method, template in ADMIN_ENDPOINTS:
        path = template.format(id=key["id"], team=team["id"])
        body = {"amount": 1} if path.endswith("topup") else {"name": "x"}
        anonymous = httpx.request(method, gateway.url + path, json=body)
        assert anonymous.status_code == 401, (method, path)
        wrong = httpx.request(method, gateway.url + path, json=body, headers={"authorization": "Bearer sk-nope"})
        assert wrong.status_code == 401, (method, path)
        as_key = httpx.request(method, gateway.url + path, json=body, headers={"authorization": f"Bearer {key['key']}"})
        assert as_key.status_code == 403, (method, path)
        assert as_key.json()["error"]["type"] == "permission_error"
    # nothing was changed by the refused calls
    assert admin.get(f"/admin/keys/{key['id']}")["name"] == "alice"
    assert admin.get(f"/admin/teams/{team['id']}")["credit"] is None


def test_a_key_sees_only_its_own_usage_and_info(gateway):
    admin = Admin(gateway.url)
    alice, bob = admin.create_key(name="alice"), admin.create_key(name="bob")
    assert chat(gateway.url, alice["key"]).status_code == 200
    assert chat(gateway.url, bob["key"]).status_code == 200
    assert chat(gateway.url, bob["key"]).status_code == 200
    admin.flush()
    as_alice = {"authorization": f"Bearer {alice['key']}"}
    own = httpx.get(f"{gateway.url}/admin/usage", params={"key_id": bob["id"]}, headers=as_alice).json()
    assert own["total"]["requests"] == 1 and {row["key_id"] for row in own["data"]} == {alice["id"]}
    info = httpx.get(f"{gateway.url}/v1/key/info", headers=as_alice).json()
    assert info["id"] == alice["id"] and "key" not in info and "secret_hash" not in info
    assert httpx.get(f"{gateway.url}/v1/key/info", headers={"authorization": f"Bearer {MASTER}"}).status_code == 401
    everyone = admin.get("/admin/usage", group_by="key")
    per_key = {row["group"]: row["requests"] for row in everyone["data"]}
    assert (per_key[alice["id"]], per_key[bob["id"]]) == (1, 2)


def test_model_allowlist_revocation_and_expiry(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(name="scoped", models=["priced"])
    assert chat(gateway.url, key["key"]).status_code == 200
    refused = chat(gateway.url, key["key"], model="other")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "model_not_found"
    listed = httpx.get(f"{gateway.url}/v1/models", headers={"authorization": f"Bearer {key['key']}"}).json()
    assert [m["id"] for m in listed["data"]] == ["priced"]
    assert admin.client.delete(f"/admin/keys/{key['id']}").json()["revoked"] is True
    assert chat(gateway.url, key["key"]).status_code == 401  # at once on this replica: the cache was dropped
    expired = admin.create_key(name="old", expires_at="2001-01-01T00:00:00Z")
    assert chat(gateway.url, expired["key"]).status_code == 401
    disabled = admin.create_key(name="off")
    admin.client.patch(f"/admin/keys/{disabled['id']}", json={"enabled": False})
    assert chat(gateway.url, disabled["key"]).status_code == 401


def test_invalid_admin_input_is_a_400(gateway):
    admin = Admin(gateway.url)
    for body in ({"name": "x", "rpm": -1}, {"name": "x", "budget_period": "year"}, {"name": "x", "nope": 1}, {}):
        reply = admin.client.post("/admin/keys", json=body)
        assert reply.status_code == 400, body
    assert admin.client.post("/admin/keys", json={"name": "x", "team_id": "team_missing"}).status_code == 404
    assert admin.client.get("/admin/usage", params={"group_by": "colour"}).status_code == 400


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "ms", "expires_at": 1_900_000_000_000}, "expires_at"),  # milliseconds
        ({"name": "past", "expires_at": -5}, "expires_at"),
        ({"name": "far", "expires_at": "99999-01-01"}, "expires_at"),
        ({"name": "rich", "credit": 1e300}, "credit"),
        ({"name": "rich", "budget": 2e9}, "budget"),
        ({"name": "fast", "rpm": 2**70}, "rpm"),
        ({"name": "x" * 201}, "name"),
        ({"name": "tagged", "tags": ["t" * 201]}, "tags"),
    ],
)
def test_out_of_range_admin_values_are_refused_and_never_stored(gateway, body, param):
    admin = Admin(gateway.url)
    before = admin.get("/admin/keys")["data"]
    reply = admin.client.post("/admin/keys", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == param
    assert admin.get("/admin/keys")["data"] == before  # nothing stored, and the listing still works


def test_top_ups_must_be_positive_and_bounded(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(name="topped", credit=1.0)
    team = admin.client.post("/admin/teams", json={"name": "topped-team", "credit": 1.0}).json()
    for path in (f"/admin/keys/{key['id']}/topup", f"/admin/teams/{team['id']}/topup"):
        for amount in (-5, 0, 1e300, "10", None):
            reply = admin.client.post(path, json={"amount": amount})
            assert reply.status_code == 400, (path, amount, reply.text)
            assert reply.json()["error"]["param"] == "amount"
        assert admin.client.post(path, json={"amount": 999_999_999}).status_code == 200
        assert admin.client.post(path, json={"amount": 5}).status_code == 400  # past the bound in total
    assert admin.get(f"/admin/keys/{key['id']}")["credit"] == 1_000_000_000.0
    assert admin.get(f"/admin/teams/{team['id']}")["credit"] == 1_000_000_000.0


def test_the_admin_api_reads_only_json_bodies(gateway):
    """A web page can post text/plain or a form across origins without a preflight: never read."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        reply = httpx.post(
            gateway.url + "/admin/keys",
            content=b'{"name": "csrf"}',
            headers={"authorization": f"Bearer {MASTER}", "content-type": content_type},
        )
        assert reply.status_code == 415, (content_type, reply.text)
    names = [k["name"] for k in Admin(gateway.url).get("/admin/keys")["data"]]
    assert "csrf" not in names


def test_secrets_are_stored_only_as_hashes_and_never_logged(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(name="secretive")
    secret = key["key"]
    assert chat(gateway.url, secret).status_code == 200
    assert chat(gateway.url, secret + "x").status_code == 401
    admin.flush()
    database = (gateway.workdir / "data" / "unigate.db").read_bytes()
    for suffix in ("-wal", "-shm"):
        extra = gateway.workdir / "data" / f"unigate.db{suffix}"
        if extra.exists():
            database += extra.read_bytes()
    assert secret.encode() not in database
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in database
    assert secret not in gateway.log() and secret[10:] not in gateway.log()
    listed = admin.get("/admin/keys")
    assert secret[10:] not in str(listed) and "secret_hash" not in str(listed)


def test_no_master_key_and_no_keys_means_anonymous_then_keys_are_required(start_gateway, make_upstream):
    upstream = make_upstream()
    gateway = start_gateway({"models": [priced_model("priced", upstream.base_url)]})
    assert chat(gateway.url, "anything").status_code == 200
    created = httpx.post(f"{gateway.url}/admin/keys", json={"name": "first"})
    assert created.status_code == 201
    assert chat(gateway.url, "anything").status_code == 401
    assert chat(gateway.url, created.json()["key"]).status_code == 200


def test_usage_time_filters_accept_unix_times_and_iso_dates_in_the_query(gateway):
    import time

    admin = Admin(gateway.url)
    key = admin.create_key(name="timed")
    before = time.time() - 1
    assert chat(gateway.url, key["key"]).status_code == 200
    admin.flush()
    after = time.time() + 1
    window = admin.get("/admin/usage", key_id=key["id"], since=str(before), until=str(after))
    assert window["total"]["requests"] == 1
    assert admin.get("/admin/usage", key_id=key["id"], since=str(after))["total"]["requests"] == 0
    assert admin.get("/admin/usage", key_id=key["id"], since="2001-01-01T00:00:00Z")["total"]["requests"] == 1
    assert admin.client.get("/admin/usage", params={"since": "yesterday"}).status_code == 400


def test_key_info_shows_one_spent_figure_right_after_a_burst(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(name="bursty", credit=1.0)
    for _ in range(5):
        assert chat(gateway.url, key["key"]).status_code == 200
    info = httpx.get(f"{gateway.url}/v1/key/info", headers={"authorization": f"Bearer {key['key']}"}).json()
    # before the ledger flush: the live figure everywhere, the ledger's own total named apart
    assert info["spent"] == info["balance"]["credit"]["spent"] > 0
    assert info["spent_recorded"] <= info["spent"]
    admin.flush()
    info = httpx.get(f"{gateway.url}/v1/key/info", headers={"authorization": f"Bearer {key['key']}"}).json()
    assert info["spent"] == info["spent_recorded"] == info["balance"]["credit"]["spent"]
