"""The official ``anthropic`` SDK against a real gateway process: the inbound Messages API in front
of an OpenAI-compatible upstream (text, tools, thinking, streaming tool-call deltas, errors,
count_tokens) and in front of the native Anthropic provider, replaying recorded Anthropic traffic
(Anthropic SDK → gateway → Anthropic-format upstream must reproduce the recorded request)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
import yaml

from tests.conformance.replay import ReplayUpstream
from tests.conformance.unsupported import unsupported_reason
from tests.support.gateway_process import GatewayProcess
from tests.support.paths import RECORDINGS

KEY = "sk-gateway-master"


def _anthropic_interactions() -> list[tuple[str, int, dict[str, Any]]]:
    cases = []
    for path in sorted((RECORDINGS / "anthropic").glob("*.yaml")):
        interactions = yaml.safe_load(path.read_text())["interactions"]
        for index, interaction in enumerate(interactions):
            uri = interaction["request"]["uri"]
            if "api.anthropic.com/v1/messages?" not in uri and not uri.endswith("api.anthropic.com/v1/messages"):
                continue
            if unsupported_reason(path.parent.name, path.name, index, uri) is None:
                cases.append((path.name, index, interaction))
    return cases


ANTHROPIC_CASES = _anthropic_interactions()
RECORDED_MODELS = sorted({i["request"]["parsed_body"]["model"] for _, _, i in ANTHROPIC_CASES})


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReplayUpstream]:
    server = ReplayUpstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(upstream: ReplayUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    def model(name: str, provider: str, upstream_model: str, api_base: str) -> dict[str, Any]:
        deployment = {"provider": provider, "model": upstream_model, "api_base": api_base, "api_key": "sk-up"}
        return {"name": name, "deployments": [deployment], "routing": {"retries": 0}}

    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": KEY},
        "models": [
            model("gpt", "openai", "gpt-up", upstream.url + "/v1"),
            model("claude", "anthropic", "claude-sonnet-4-5", upstream.url),
            *(model(m, "anthropic", m, upstream.url) for m in RECORDED_MODELS),
        ],
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("anthropic-sdk")).start()
    yield process
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0)


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "status": {"code": status},
        "headers": {k: [v] for k, v in (headers or {}).items()},
        "parsed_body": body,
    }


def sse_reply(events: list[Any]) -> dict[str, Any]:
    text = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
    return {"status": {"code": 200}, "headers": {"content-type": ["text/event-stream"]}, "body": {"string": text}}


def completion(message: dict[str, Any], finish: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-up",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }


def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None) -> dict:
    out: dict[str, Any] = {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-up",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        out["usage"] = usage
    return out


USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19, "prompt_tokens_details": {"cached_tokens": 2}}
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


# ---------------------------------------------------------------------------------------------
# In front of an OpenAI-compatible upstream


def test_text_message_with_system_blocks_stop_sequences_and_usage(
    client: anthropic.Anthropic, upstream: ReplayUpstream, gateway: GatewayProcess
) -> None:
    upstream.serve(json_reply(completion({"role": "assistant", "content": "Hi there."}, "stop", USAGE)))
    message = client.messages.create(
        model="gpt",
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": "hello"}],
        stop_sequences=["END"],
        extra_body={"temperature": 0.5, "top_p": 0.9},  # this SDK version has no sampling arguments
        metadata={"user_id": "user-7"},
    )
    assert message.id.startswith("msg_") and message.model == "gpt" and message.role == "assistant"
    assert [(b.type, b.text) for b in message.content] == [("text", "Hi there.")]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (10, 7)
    assert message.usage.cache_read_input_tokens == 2
    admin = {"authorization": f"Bearer {KEY}"}
    httpx.post(f"{gateway.url}/admin/usage/flush", headers=admin, timeout=30).raise_for_status()
    rows = httpx.get(f"{gateway.url}/admin/usage", headers=admin, timeout=30).json()["data"]
    assert rows[0]["request_id"] == message._request_id and rows[0]["endpoint"] == "messages"
    (sent,) = upstream.received
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == "Bearer sk-up"
    body = sent.json()
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    assert (body["max_tokens"], body["stop"], body["temperature"], body["top_p"]) == (100, ["END"], 0.5, 0.9)
    assert body["user"] == "user-7" and body["model"] == "gpt-up" and "stream" not in body


def test_tool_use_round_trip(client: anthropic.Anthropic, upstream: ReplayUpstream) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    upstream.serve(
        json_reply(completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls", USAGE)),
        json_reply(completion({"role": "assistant", "content": "It is sunny."}, "stop", USAGE)),
    )
    first = client.messages.create(
        model="gpt",
        max_tokens=50,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert first.stop_reason == "tool_use"
    (tool_use,) = first.content
    assert (tool_use.type, tool_use.id, tool_use.name, tool_use.input) == (
        "tool_use",
        "call_1",
        "get_weather",
        {"city": "Paris"},
    )
    body = upstream.received[0].json()
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city",
                "parameters": WEATHER["input_schema"],
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False

    second = client.messages.create(
        model="gpt",
        max_tokens=50,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
                    {"type": "text", "text": "And this picture?"},
                ],
            },
        ],
    )
    assert second.content[0].text == "It is sunny." and second.stop_reason == "end_turn"
    messages = upstream.received[1].json()["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert messages[3] == {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
            {"type": "text", "text": "And this picture?"},
        ],
    }


STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "Let me "}),
    chunk({"reasoning_content": "think."}),
    chunk({"content": "Checking "}),
    chunk({"content": "both."}),
    chunk(
        {
            "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                }
            ]
        }
    ),
    chunk({}, "tool_calls"),
    chunk(None, usage=USAGE),
    "[DONE]",
]


def test_stream_thinking_text_and_tool_call_deltas(client: anthropic.Anthropic, upstream: ReplayUpstream) -> None:
    upstream.serve(sse_reply(STREAM))
    events = []
    with client.messages.stream(
        model="gpt",
        max_tokens=2000,
        tools=[WEATHER],
        thinking={"type": "enabled", "budget_tokens": 1500},
        messages=[{"role": "user", "content": "Weather in Paris and Rome?"}],
    ) as stream:
        for event in stream:
            events.append(event)
        final = stream.get_final_message()
    body = upstream.received[0].json()
    assert body["stream"] is True and body["stream_options"]["include_usage"] is True
    assert body["reasoning_effort"] == "medium" and "thinking" not in body
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert final.content[0].thinking == "Let me think." and final.content[1].text == "Checking both."
    assert [(b.id, b.input) for b in final.content[2:]] == [("call_a", {"city": "Paris"}), ("call_b", {"city": "Rome"})]
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (10, 7, 2)
    raw = [e for e in events if e.type in ("content_block_start", "content_block_delta", "content_block_stop")]
    starts = [(e.index, e.content_block.type) for e in raw if e.type == "content_block_start"]
    assert starts == [(0, "thinking"), (1, "text"), (2, "tool_use"), (3, "tool_use")]
    json_deltas = [
        (e.index, e.delta.partial_json)
        for e in raw
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert json_deltas == [(2, '{"city": "Pa'), (2, 'ris"}'), (3, '{"city": "Rome"}')]
    # every block is stopped before the next one starts
    order = [(e.type, e.index) for e in raw if e.type != "content_block_delta"]
    assert order == [(kind, i) for i in range(4) for kind in ("content_block_start", "content_block_stop")]


def test_error_mid_stream_is_an_error_event(client: anthropic.Anthropic, upstream: ReplayUpstream) -> None:
    upstream.serve(
        sse_reply([chunk({"role": "assistant", "content": "Hel"}), {"error": {"message": "boom", "code": 500}}])
    )
    request: dict[str, Any] = {"model": "gpt", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(anthropic.APIStatusError) as info, client.messages.stream(**request) as stream:
        for _ in stream:
            pass
    assert "boom" in str(info.value)


def test_errors_are_anthropic_shaped(
    client: anthropic.Anthropic, gateway: GatewayProcess, upstream: ReplayUpstream
) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    error_body: Any = missing.value.body
    assert missing.value.status_code == 404 and error_body["error"]["type"] == "not_found_error"
    assert error_body["type"] == "error"
    # the SDK refuses to send a request without max_tokens; a raw client can
    invalid = httpx.post(
        gateway.url + "/v1/messages",
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        json={"model": "gpt", "messages": [{"role": "user", "content": "x"}]},
    )
    assert invalid.status_code == 400
    assert invalid.json()["type"] == "error" and invalid.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in invalid.json()["error"]["message"] and invalid.headers["request-id"].startswith("req_")
    with pytest.raises(anthropic.BadRequestError) as hot:
        client.messages.create(
            model="gpt", max_tokens=5, messages=[{"role": "user", "content": "x"}], extra_body={"temperature": 7}
        )
    assert hot.value.status_code == 400 and "temperature" in str(hot.value)
    bad_key = anthropic.Anthropic(base_url=gateway.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as auth:
        bad_key.messages.create(model="gpt", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert auth.value.status_code == 401
    upstream.serve(json_reply({"error": {"message": "slow down", "type": "rate_limit"}}, 429, {"retry-after": "3"}))
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="gpt", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert limited.value.response.headers["retry-after"] == "3"
    assert limited.value.response.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages.0.content.0.text"),
        ({"messages": [{"role": "user", "content": [7]}]}, "messages.0.content.0"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
            "messages.0.content.0.source",
        ),
        ({"messages": [{"role": ["user"], "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        ({"system": 5}, "system"),
        ({"tools": "all"}, "tools"),
        ({"tools": [{"name": "f", "input_schema": "x"}]}, "tools.0.input_schema"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id"),
        ({"thinking": {"type": "enabled", "budget_tokens": "lots"}}, "thinking.budget_tokens"),
        ({"stop_sequences": "X"}, "stop_sequences"),
        ({"max_tokens": True}, "max_tokens"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_malformed_bodies_are_anthropic_shaped_400s_naming_the_field(
    gateway: GatewayProcess, path: str, fields: dict[str, Any], param: str
) -> None:
    body = {"model": "gpt", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], **fields}
    reply = httpx.post(gateway.url + path, headers={"x-api-key": KEY}, json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["type"] == "error" and reply.json()["error"]["type"] == "invalid_request_error"
    assert reply.json()["error"]["message"].startswith(param), reply.text


def test_errors_before_the_handler_are_anthropic_shaped_too(gateway: GatewayProcess) -> None:
    """Authentication, the body-size limit and a non-JSON content type are answered by the app
    before the surface's code runs: still in Anthropic's shape on these routes."""
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        replies = [
            httpx.post(gateway.url + path, json={"model": "gpt"}),  # no key
            httpx.post(gateway.url + path, headers={"x-api-key": KEY, "content-type": "text/plain"}, content=b"{}"),
            httpx.post(gateway.url + path, headers={"x-api-key": KEY}, content=b"{" + b" " * 17_000_000 + b"}"),
        ]
        for reply, status in zip(replies, (401, 415, 413), strict=True):
            assert reply.status_code == status, reply.text
            assert reply.json()["type"] == "error" and reply.json()["error"]["message"], reply.text


def test_count_tokens(client: anthropic.Anthropic, upstream: ReplayUpstream) -> None:
    estimate = client.messages.count_tokens(model="gpt", messages=[{"role": "user", "content": "hello " * 40}])
    assert 40 <= estimate.input_tokens <= 120
    upstream.serve(json_reply({"input_tokens": 42}))
    counted = client.messages.count_tokens(
        model="claude", system="Be brief.", messages=[{"role": "user", "content": "hello"}], tools=[WEATHER]
    )
    assert counted.input_tokens == 42
    (sent,) = upstream.received
    assert sent.path == "/v1/messages/count_tokens" and sent.headers["x-api-key"] == "sk-up"
    assert sent.json() == {
        "model": "claude-sonnet-4-5",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "tools": [{"name": "get_weather", "description": "Weather in a city", "input_schema": WEATHER["input_schema"]}],
        "tool_choice": {"type": "auto"},
    }


# ---------------------------------------------------------------------------------------------
# In front of the native Anthropic provider: recorded traffic end to end


_SDK_ARGS = frozenset(inspect.signature(anthropic.Anthropic(api_key="x").messages.create).parameters)


def sdk_params(body: dict[str, Any]) -> dict[str, Any]:
    """A recorded body as SDK arguments: fields this SDK version has no argument for go as extra_body."""
    params = {k: v for k, v in body.items() if k in _SDK_ARGS and k != "stream"}
    extra = {k: v for k, v in body.items() if k not in _SDK_ARGS and k != "stream"}
    return {**params, "extra_body": extra} if extra else params


def _expected_blocks(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = {
        "text": ("text",),
        "tool_use": ("id", "name", "input"),
        "thinking": ("thinking", "signature"),
        "redacted_thinking": ("data",),
    }
    return [{"type": b["type"], **{k: b[k] for k in keep[b["type"]]}} for b in content if b["type"] in keep]


def _stream_message(raw: str) -> dict[str, Any]:
    """Fold a recorded Anthropic SSE body into the message it describes."""
    message: dict[str, Any] = {}
    for block in raw.split("\n\n"):
        data = "".join(line[5:].strip() for line in block.splitlines() if line.startswith("data:"))
        if not data:
            continue
        payload = json.loads(data)
        kind = payload["type"]
        if kind == "message_start":
            message = payload["message"]
        elif kind == "content_block_start":
            message["content"].append(dict(payload["content_block"]))
        elif kind == "content_block_delta":
            target, delta = message["content"][payload["index"]], payload["delta"]
            field = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}.get(
                delta["type"]
            )
            if field:
                target[field] = target.get(field, "") + delta[field]
        elif kind == "message_delta":
            message.update(payload["delta"])
            message["usage"].update({k: v for k, v in payload["usage"].items() if v is not None})
    return message


@pytest.mark.parametrize(
    ("name", "index", "interaction"), ANTHROPIC_CASES, ids=[f"{n}#{i}" for n, i, _ in ANTHROPIC_CASES]
)
def test_native_anthropic_replay(
    client: anthropic.Anthropic, upstream: ReplayUpstream, name: str, index: int, interaction: dict[str, Any]
) -> None:
    recorded = interaction["request"]["parsed_body"]
    response = interaction["response"]
    upstream.serve(response)
    params = sdk_params(recorded)
    status = response["status"]["code"]
    if status >= 400:
        with pytest.raises(anthropic.APIStatusError) as info:
            client.messages.create(**params)
        assert info.value.status_code == status
        assert response["parsed_body"]["error"]["message"] in str(info.value)
    elif recorded.get("stream"):
        with client.messages.stream(**params) as stream:
            got = stream.get_final_message().model_dump()
        expected = _stream_message(response["body"]["string"])
    else:
        got = client.messages.create(**params).model_dump()
        expected = response["parsed_body"]
    (sent,) = upstream.received
    assert sent.path == "/v1/messages"
    assert sent.json() == recorded
    if status >= 400:
        return
    assert _expected_blocks(got["content"]) == _expected_blocks(expected["content"])
    assert got["stop_reason"] == expected["stop_reason"] and got["model"] == recorded["model"]
    usage = expected["usage"]
    for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        assert (got["usage"][key] or 0) == (usage.get(key) or 0), key
