"""The official openai SDK (sync and async, streaming and not) against a real gateway process
and fake OpenAI-compatible upstreams on loopback."""

from __future__ import annotations

import json
import socket
import time

import httpx
import openai
import pytest

from tests.conftest import openai_model
from tests.support.fake_upstream import Mode


@pytest.fixture
def gateway(start_gateway, upstream):
    config = {
        "models": [
            openai_model("gpt-4o-mini", upstream.base_url),
            {
                "name": "priced",
                "deployments": [
                    {"provider": "openai", "model": "priced-up", "api_base": upstream.base_url, "api_key": "sk-up"}
                ],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            },
        ]
    }
    return start_gateway(config)


def client(gateway, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0, **kwargs)


def test_sync_chat_roundtrip_carries_usage_cost_and_route_headers(gateway, upstream):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="priced", messages=[{"role": "user", "content": "hello there"}], temperature=0.2, seed=7
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.model == "priced"
    assert completion.usage.prompt_tokens == 10 and completion.usage.completion_tokens == 5
    # 10 input tokens at $1/M + 5 output tokens at $2/M
    assert completion.usage.model_extra["cost"] == pytest.approx(10e-6 + 10e-6)
    assert raw.headers["x-unigate-deployment"] == "priced"
    assert raw.headers["x-request-id"].startswith("req_")
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx(20e-6)
    sent = upstream.chat_calls()[-1]
    assert sent.body["model"] == "priced-up"
    assert sent.body["temperature"] == 0.2 and sent.body["seed"] == 7
    assert sent.headers["authorization"] == "Bearer sk-up"


def test_unknown_fields_pass_through_to_openai_compatible_upstreams(gateway, upstream):
    client(gateway).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "x"}],
        extra_body={"logit_bias": {"42": 3}, "vendor_knob": {"a": 1}},
        metadata={"team": "search"},
        user="u-1",
    )
    sent = upstream.chat_calls()[-1].body
    assert sent["vendor_knob"] == {"a": 1} and sent["logit_bias"] == {"42": 3}
    assert sent["user"] == "u-1" and sent["metadata"] == {"team": "search"}


def test_sync_stream_ends_with_done_and_honours_include_usage(gateway, upstream):
    stream = client(gateway).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 15
    assert upstream.chat_calls()[-1].body["stream_options"] == {"include_usage": True}


def test_stream_without_include_usage_sends_no_usage_chunk(gateway):
    chunks = list(
        client(gateway).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_raw_sse_wire_format(gateway):
    with httpx.stream(
        "POST",
        gateway.base_url + "/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "a"}]},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    json.loads(events[0][6:])


async def test_async_client_concurrent_requests(gateway):
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    import asyncio

    async def one(i: int) -> str:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{i}"}]
        )
        return completion.choices[0].message.content or ""

    answers = await asyncio.gather(*(one(i) for i in range(40)))
    assert answers == [f"echo: n{i}" for i in range(40)]

    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "async stream"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "echo: async stream"
    await client.close()


def test_tool_calls_round_trip(start_gateway, make_upstream):
    up = make_upstream(Mode(tool_call={"name": "get_weather", "arguments": '{"city": "Paris"}'}))
    gateway = start_gateway({"models": [openai_model("tools", up.base_url)]})
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    completion = client(gateway).chat.completions.create(
        model="tools",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,
        tool_choice="auto",
        parallel_tool_calls=True,
        response_format={"type": "json_object"},
    )
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    sent = up.chat_calls()[-1].body
    assert sent["tools"] == tools and sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is True


def test_models_endpoints_describe_price_context_and_capabilities(gateway):
    c = client(gateway)
    models = {m.id: m for m in c.models.list()}
    assert set(models) == {"gpt-4o-mini", "priced", "auto", "auto/cheap", "auto/balanced", "auto/best"}
    mini = c.models.retrieve("gpt-4o-mini").model_extra
    assert mini["context_window"] == 128000
    assert mini["capabilities"]["tools"] is True
    assert mini["pricing"]["input_per_mtok"] == pytest.approx(0.15)
    assert models["priced"].model_extra["pricing"]["output_per_mtok"] == 2.0
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("nope")


def test_embeddings_through_openai_compatible_upstream(gateway, upstream):
    result = client(gateway).embeddings.create(model="gpt-4o-mini", input=["a", "b"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 3
    assert upstream.received[-1].path == "/v1/embeddings"


def test_health_endpoints(gateway):
    assert httpx.get(gateway.url + "/health/live").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/health/ready")
    assert ready.status_code == 200
    assert {d["deployment"] for d in ready.json()["deployments"]} == {"gpt-4o-mini", "priced"}


def test_client_disconnect_mid_stream_cancels_upstream(start_gateway, make_upstream):
    up = make_upstream(Mode(kind="stream_stall", chunks=6, text="abcdefghijkl"))
    gateway = start_gateway({"models": [openai_model("slow", up.base_url)]})
    sock = socket.create_connection(("127.0.0.1", gateway.port))
    body = json.dumps({"model": "slow", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    sock.sendall(
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    )
    assert b"200 OK" in sock.recv(4096)
    deadline = time.monotonic() + 5
    while not up.chat_calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    sock.close()
    # the upstream sees its connection closed once the client is gone
    deadline = time.monotonic() + 10
    closed = False
    while time.monotonic() < deadline and not closed:
        closed = _upstream_connections(up.port) == 0
        time.sleep(0.1)
    assert closed, "the gateway kept the upstream stream open after the client left"


def _upstream_connections(port: int) -> int:
    """Established TCP connections to ``port`` (read from /proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # ESTABLISHED
                count += 1
    return count


def test_any_model_of_a_configured_provider_as_provider_slash_model(start_gateway, upstream):
    gateway = start_gateway(
        {"providers": {"groq": {"api_base": upstream.base_url}}, "discover_providers": True},
        env={"GROQ_API_KEY": "gsk-test", "MISTRAL_API_KEY": ""},
    )
    c = client(gateway)
    answer = c.chat.completions.create(model="groq/brand-new-model", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "echo: hi"
    sent = upstream.chat_calls()[-1]
    assert sent.body["model"] == "brand-new-model" and sent.headers["authorization"] == "Bearer gsk-test"
    # catalogue models of the discovered provider are listed; a provider without a key is not served
    assert "groq/llama-3.1-8b-instant" in {m.id for m in c.models.list()}
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="mistral/some-model", messages=[{"role": "user", "content": "hi"}])
