"""/v1/moderations and the moderation guardrail on chat input (block and flag, per key tag)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest

from tests.support.fake_media import ThreadedMedia
from tests.support.fake_upstream import ThreadedUpstream
from tests.support.gateway_process import GatewayProcess
from tests.support.media_gateway import media_models


def test_moderations_with_the_sdk(
    fake: ThreadedMedia, start_gateway: Callable[..., GatewayProcess], upstream: ThreadedUpstream
) -> None:
    gateway = start_gateway({"discover_providers": False, "models": media_models(fake, upstream.base_url)})
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    result = client.moderations.create(model="omni-moderation-latest", input=["hello", "I will attack you"])
    assert [r.flagged for r in result.results] == [False, True]
    assert result.results[1].categories.violence is True
    default = client.moderations.create(input="hello")  # the default model
    assert default.results[0].flagged is False
    with pytest.raises(openai.BadRequestError) as exc:
        client.moderations.create(model="omni-moderation-latest", input=[])
    assert exc.value.response.json()["error"]["param"] == "input"
    with pytest.raises(openai.BadRequestError) as exc:
        client.moderations.create(model="gpt-4o-mini", input="hi")
    assert exc.value.response.json()["error"]["code"] == "model_not_supported"


def _key(gateway: GatewayProcess, tags: list[str]) -> str:
    reply = httpx.post(
        f"{gateway.url}/admin/keys",
        json={"name": "guarded", "tags": tags},
        headers={"authorization": "Bearer sk-master"},
    )
    reply.raise_for_status()
    return str(reply.json()["key"])


def test_guardrail_blocks_or_flags_per_key(
    fake: ThreadedMedia, start_gateway: Callable[..., GatewayProcess], upstream: ThreadedUpstream
) -> None:
    gateway = start_gateway(
        {
            "discover_providers": False,
            "server": {"master_key": "sk-master"},
            "models": media_models(fake, upstream.base_url),
            "observability": {"log_requests": True},
        },
        env={"UNIGATE_LOG_LEVEL": "INFO"},
    )
    blocking = openai.OpenAI(base_url=gateway.base_url, api_key=_key(gateway, ["moderation:block"]), max_retries=0)
    flagging = openai.OpenAI(base_url=gateway.base_url, api_key=_key(gateway, ["moderation:flag"]), max_retries=0)
    plain = openai.OpenAI(base_url=gateway.base_url, api_key=_key(gateway, []), max_retries=0)
    calls = len(upstream.chat_calls())
    bad = [{"role": "user", "content": "I will attack you"}]

    with pytest.raises(openai.BadRequestError) as exc:
        blocking.chat.completions.create(model="gpt-4o-mini", messages=bad)
    error = exc.value.response.json()["error"]
    assert error["code"] == "content_flagged" and "violence" in error["message"]
    assert len(upstream.chat_calls()) == calls  # never sent

    ok = blocking.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
    assert ok.choices[0].message.content == "echo: hello"

    raw = flagging.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=bad)
    assert raw.headers["x-unigate-moderation"] == "flagged; categories=violence"
    assert raw.parse().choices[0].message.content == "echo: I will attack you"

    plain.chat.completions.create(model="gpt-4o-mini", messages=bad)  # no guard for this key
    assert len(upstream.chat_calls()) == calls + 3

    gateway.stop()
    lines = [json.loads(line) for line in gateway.log_path.read_text().splitlines() if line.startswith("{")]
    verdicts = [line.get("moderation") for line in lines if line.get("endpoint") == "chat"]
    assert {"action": "block", "flagged": True, "categories": ["violence"]} in verdicts
    assert {"action": "flag", "flagged": True, "categories": ["violence"]} in verdicts
