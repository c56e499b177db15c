"""The auto-routing endpoints over a real gateway process with keys: the dashboard's statistics
are the operator's (master key), not every key's."""

from __future__ import annotations

import httpx
import pytest

from tests.accounts.conftest import MASTER, Admin, module_gateway, priced_model
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    upstream = ThreadedUpstream(FakeUpstream(default=Mode(prompt_tokens=10, completion_tokens=5)))
    models = [priced_model("priced", upstream.base_url)]
    yield from module_gateway(tmp_path_factory, {"server": {"master_key": MASTER}, "models": models})
    upstream.stop()


def test_auto_stats_need_the_master_key(gateway):
    key = Admin(gateway.url).create_key(name="alice")
    as_key = {"authorization": f"Bearer {key['key']}"}
    reply = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        headers=as_key,
    )
    assert reply.status_code == 200 and reply.headers["x-unigate-auto-model"] == "priced"
    refused = httpx.get(f"{gateway.url}/v1/auto/stats", headers=as_key)
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
    assert httpx.get(f"{gateway.url}/v1/auto/stats").status_code == 401
    stats = httpx.get(f"{gateway.url}/v1/auto/stats", headers={"authorization": f"Bearer {MASTER}"}).json()["data"]
    (balanced,) = [p for p in stats if p["policy"] == "auto/balanced"]
    assert balanced["requests"] == 1 and balanced["models"][0] == {
        "model": "priced",
        "requests": 1,
        "share": 1.0,
        "estimated_saving_usd": 0.0,
        "feedback": 0,
        "feedback_mean": None,
    }
