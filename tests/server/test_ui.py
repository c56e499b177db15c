"""The dashboard's server side: static assets (local only), its JSON API, and who sees what."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import openai
import pytest

from tests.conftest import openai_model
from unigate.server.ui import ASSETS, load_assets

MASTER = "mk-ui-test"


def get(gateway, path: str, key: str | None = MASTER) -> tuple[int, dict[str, str], bytes]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(gateway.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def gateway(start_gateway, upstream):
    return start_gateway({"server": {"master_key": MASTER}, "models": [openai_model("m", upstream.base_url)]})


def test_assets_are_local_and_complete():
    assets = load_assets()
    assert {"index.html", "app.js", "charts.js", "style.css"} <= set(assets)
    for name, (_, body) in assets.items():
        text = body.decode()
        # no CDN, no remote fonts or scripts: everything the page loads comes from /ui/static
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), name
        assert "@import" not in text and "url(http" not in text, name
    index = assets["index.html"][1].decode()
    for ref in re.findall(r'(?:src|href)="/ui/static/([^"]+)"', index):
        assert (ASSETS / ref).is_file()


def test_pages_are_public_but_data_needs_a_key(gateway):
    status, headers, body = get(gateway, "/ui", key=None)
    assert status == 200 and headers["content-type"].startswith("text/html") and b"signin-form" in body
    assert "default-src 'self'" in headers["content-security-policy"]
    status, headers, _ = get(gateway, "/ui/static/app.js", key=None)
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert get(gateway, "/ui/static/../config.py", key=None)[0] == 404
    assert get(gateway, "/ui/static/nope.js", key=None)[0] == 404
    assert get(gateway, "/ui/api/overview", key=None)[0] == 401
    assert get(gateway, "/ui/api/overview", key="wrong")[0] == 401


def test_overview_and_models_count_the_traffic(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key=MASTER, max_retries=0)
    for _ in range(4):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))
    status, _, body = get(gateway, "/ui/api/whoami")
    assert status == 200 and json.loads(body)["admin"] is True
    overview = json.loads(get(gateway, "/ui/api/overview?range=5m")[2])
    assert overview["totals"]["requests"] == 5 and overview["totals"]["errors"] == 0
    assert sum(p["requests"] for p in overview["points"]) == 5
    assert overview["totals"]["ttft_p50_ms"] is not None and overview["totals"]["p95_ms"] is not None
    models = json.loads(get(gateway, "/ui/api/models?range=5m")[2])["data"]
    (row,) = [r for r in models if r["deployment"] == "m"]
    assert row["requests"] == 5 and row["share"] == 1.0 and row["state"] == "healthy"


def test_a_virtual_key_sees_only_its_own_requests(gateway):
    accounts = get(gateway, "/admin/keys")[0]
    if accounts == 404:
        pytest.skip("the accounts package (virtual keys) is not installed")
    request = urllib.request.Request(
        gateway.url + "/admin/keys",
        data=json.dumps({"name": "mine"}).encode(),
        headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        secret = json.loads(reply.read())["key"]
    admin = openai.OpenAI(base_url=gateway.base_url, api_key=MASTER, max_retries=0)
    mine = openai.OpenAI(base_url=gateway.base_url, api_key=secret, max_retries=0)
    for _ in range(3):
        admin.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    mine.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    who = json.loads(get(gateway, "/ui/api/whoami", key=secret)[2])
    assert who["admin"] is False and who["key_name"] == "mine"
    assert json.loads(get(gateway, "/ui/api/overview", key=secret)[2])["totals"]["requests"] == 1
    assert json.loads(get(gateway, "/ui/api/overview", key=MASTER)[2])["totals"]["requests"] == 4
