"""The official openai SDK's Responses API (``responses.create`` / ``responses.stream``, with and
without tools, ``previous_response_id``, stored responses) against a real gateway process, in
front of three kinds of upstream on loopback: an OpenAI upstream with the Responses API (native
pass-through), an OpenAI-compatible chat-completions upstream and an Anthropic upstream (both
through the translation onto the canonical chat form)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.accounts.conftest import Admin
from tests.support.agent_upstream import CACHE_WRITE, CACHED
from tests.support.gateway_process import GatewayProcess

MASTER = "sk-responses-master"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
MODELS = ["native", "chat", "claude"]


@pytest.fixture(scope="module")
def gateway(agent_upstream: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    def deployment(provider: str, model: str, api_base: str, **options: Any) -> dict[str, Any]:
        spec = {"provider": provider, "model": model, "api_base": api_base, "api_key": "sk-up"}
        return {**spec, "options": options} if options else spec

    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "models": [
            {"name": "native", "deployments": [deployment("openai", "gpt-up", agent_upstream.base_url)]},
            {
                "name": "chat",
                "deployments": [deployment("openai", "chat-up", agent_upstream.base_url, responses_api=False)],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            },
            {"name": "claude", "deployments": [deployment("anthropic", "claude-sonnet-4-5", agent_upstream.url)]},
            {
                "name": "native-priced",
                "deployments": [deployment("openai", "gpt-up", agent_upstream.base_url)],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            },
        ],
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("responses-sdk")).start()
    yield process
    process.stop()


def client(gateway: GatewayProcess, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def last_body(upstream: Any, suffix: str) -> dict[str, Any]:
    return upstream.bodies(suffix)[-1]


UPSTREAM_PATH = {"native": "/v1/responses", "chat": "/v1/chat/completions", "claude": "/v1/messages"}


@pytest.mark.parametrize("model", MODELS)
def test_create_text_with_instructions_and_usage(gateway: GatewayProcess, agent_upstream: Any, model: str) -> None:
    response = client(gateway).responses.create(
        model=model,
        instructions="Be brief.",
        input="hello there",
        max_output_tokens=64,
        temperature=0.3,
        metadata={"run": "1"},
    )
    assert response.status == "completed"
    assert response.output_text == "echo: hello there"
    assert response.model == model
    assert response.id.startswith("resp_")
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == CACHED
    assert response.usage.output_tokens == 5
    sent = last_body(agent_upstream, UPSTREAM_PATH[model])
    if model == "native":  # the client's own body, without translation
        assert sent["input"] == [{"type": "message", "role": "user", "content": "hello there"}] or sent["input"] == [
            {"role": "user", "content": "hello there", "type": "message"}
        ]
        assert sent["instructions"] == "Be brief." and sent["max_output_tokens"] == 64
        assert sent["model"] == "gpt-up" and sent["metadata"] == {"run": "1"}
    elif model == "chat":
        assert sent["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
        ]
        assert sent["max_tokens"] == 64 and sent["temperature"] == 0.3
    else:
        assert sent["system"] == "Be brief." and sent["max_tokens"] == 64
        assert response.usage.input_tokens == 20 + CACHED + CACHE_WRITE
        assert response.usage.input_tokens_details.model_extra["cache_creation_tokens"] == CACHE_WRITE


@pytest.mark.parametrize("model", MODELS)
def test_tool_call_then_result_via_previous_response_id(
    gateway: GatewayProcess, agent_upstream: Any, model: str
) -> None:
    sdk = client(gateway)
    first = sdk.responses.create(model=model, input="What is the weather in Paris?", tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    second = sdk.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21C"}],
        tools=[WEATHER],
    )
    assert second.output_text == "Done: sunny, 21C"
    assert second.previous_response_id == first.id
    sent = last_body(agent_upstream, UPSTREAM_PATH[model])
    if model == "native":  # the gateway keeps the history: the upstream gets it whole
        assert [i.get("type") for i in sent["input"]] == ["message", "function_call", "function_call_output"]
        assert "previous_response_id" not in sent
    elif model == "chat":
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
        assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    else:
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
        assert sent["messages"][2]["content"][0]["type"] == "tool_result"


@pytest.mark.parametrize("model", MODELS)
def test_stream_text_events_in_order(gateway: GatewayProcess, model: str) -> None:
    with client(gateway).responses.stream(model=model, input="stream me") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert kind in kinds, kind
    assert kinds.index("response.output_text.delta") < kinds.index("response.output_text.done")
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.output_text == "echo: stream me"
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == CACHED


@pytest.mark.parametrize("model", MODELS)
def test_stream_tool_call_arguments(gateway: GatewayProcess, model: str) -> None:
    with client(gateway).responses.stream(model=model, input="weather?", tools=[WEATHER]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"city": "Paris"}
    call = next(item for item in final.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    # a streamed response is stored too, and the conversation continues from it
    follow = client(gateway).responses.create(
        model=model,
        previous_response_id=final.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rain"}],
    )
    assert follow.output_text == "Done: rain"


def test_json_schema_text_format_reaches_a_chat_upstream(gateway: GatewayProcess, agent_upstream: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    client(gateway).responses.create(
        model="chat",
        input="json please",
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}},
        reasoning={"effort": "low"},
        parallel_tool_calls=False,
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    sent = last_body(agent_upstream, "/v1/chat/completions")
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }
    assert sent["reasoning_effort"] == "low"
    assert sent["parallel_tool_calls"] is False
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_image_input_parts_translate(gateway: GatewayProcess, agent_upstream: Any) -> None:
    client(gateway).responses.create(
        model="chat",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                ],
            }
        ],
    )
    parts = last_body(agent_upstream, "/v1/chat/completions")["messages"][0]["content"]
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
    }


def test_stored_response_get_input_items_delete(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    created = sdk.responses.create(model="chat", input="remember me")
    fetched = sdk.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == "echo: remember me"
    items = sdk.responses.input_items.list(created.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].text == "remember me"
    sdk.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)


def test_store_false_keeps_nothing(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    created = sdk.responses.create(model="chat", input="forget me", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as info:
        sdk.responses.create(model="chat", input="next", previous_response_id=created.id)
    assert info.value.body["param"] == "previous_response_id"


def test_a_key_never_sees_another_keys_responses(gateway: GatewayProcess) -> None:
    admin = Admin(gateway.url, MASTER)
    alice, bob = admin.create_key(name="alice")["key"], admin.create_key(name="bob")["key"]
    mine = client(gateway, alice).responses.create(model="chat", input="alice's secret")
    other = client(gateway, bob)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="chat", input="continue", previous_response_id=mine.id)
    with pytest.raises(openai.NotFoundError):  # the master key is a different owner as well
        client(gateway).responses.retrieve(mine.id)
    assert client(gateway, alice).responses.retrieve(mine.id).output_text == "echo: alice's secret"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "chat", "input": 5}, "input"),
        ({"model": "chat", "input": "x", "temperature": 9}, "temperature"),
        ({"model": "chat", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "chat", "input": [{"type": "function_call_output"}]}, "input[0].call_id"),
        ({"model": "chat", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "chat", "input": "x", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"model": "chat", "input": "x", "background": True}, "background"),
        ({"model": "claude", "input": "x", "tools": [{"type": "web_search"}]}, "tools"),
        (
            {"model": "chat", "input": "x", "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]},
            "tools",
        ),
    ],
)
def test_bad_input_is_an_openai_shaped_400(gateway: GatewayProcess, body: dict[str, Any], param: str) -> None:
    reply = httpx.post(
        gateway.base_url + "/responses", json=body, headers={"authorization": f"Bearer {MASTER}"}, timeout=30
    )
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_hosted_tools_pass_through_to_a_responses_upstream(gateway: GatewayProcess, agent_upstream: Any) -> None:
    client(gateway).responses.create(model="native", input="search", tools=[{"type": "web_search"}])
    assert last_body(agent_upstream, "/v1/responses")["tools"] == [{"type": "web_search"}]


def test_unknown_model_and_unknown_response_are_404(gateway: GatewayProcess) -> None:
    with pytest.raises(openai.NotFoundError):
        client(gateway).responses.create(model="nope", input="x")
    with pytest.raises(openai.NotFoundError):
        client(gateway).responses.retrieve("resp_missing")


def test_streamed_native_usage_is_priced(gateway: GatewayProcess) -> None:
    with client(gateway).responses.stream(model="native-priced", input="price me") as stream:
        final = stream.get_final_response()
    assert final.usage is not None
    # 20 input tokens at $1/M + 5 output tokens at $2/M (no cached-input price configured)
    assert final.usage.model_extra["cost"] == pytest.approx(20e-6 + 10e-6, rel=0.2)


def test_translated_usage_is_priced(gateway: GatewayProcess) -> None:
    response = client(gateway).responses.create(model="chat", input="price me")
    assert response.usage is not None
    # 20 input tokens at $1/M (3 cached: no cached price configured) + 5 output at $2/M
    assert response.usage.model_extra["cost"] == pytest.approx(20e-6 + 10e-6, rel=0.2)


def test_items_without_a_chat_form_pass_through_to_a_responses_upstream(
    gateway: GatewayProcess, agent_upstream: Any
) -> None:
    history = [
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "x"}},
        {"type": "item_reference", "id": "msg_earlier"},
    ]
    client(gateway).responses.create(model="native", input=[*history, {"role": "user", "content": "and now?"}])  # type: ignore[list-item]
    assert last_body(agent_upstream, "/v1/responses")["input"][:2] == history
    with pytest.raises(openai.BadRequestError) as info:  # a translated upstream cannot take them
        client(gateway).responses.create(model="chat", input=[*history, {"role": "user", "content": "x"}])  # type: ignore[list-item]
    assert info.value.body["param"] == "input[0].type"


@pytest.mark.parametrize(
    "body",
    [
        {"input": [{"type": "reasoning", "summary": 5}, {"role": "user", "content": "x"}]},
        {"input": "x", "tools": [{"type": "namespace", "name": "n", "tools": 5}]},
        {"input": "x", "tools": [5]},
        {"input": [{"role": "user", "content": [5]}]},
        {"input": "x", "tool_choice": {"type": "allowed_tools", "mode": "x"}, "tools": [WEATHER]},
    ],
)
@pytest.mark.parametrize("model", MODELS)
def test_malformed_parts_are_4xx_never_5xx(gateway: GatewayProcess, body: dict[str, Any], model: str) -> None:
    reply = httpx.post(
        gateway.base_url + "/responses",
        json={"model": model, **body},
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=30,
    )
    assert 400 <= reply.status_code < 500 or reply.status_code == 200, reply.text
    if reply.status_code != 200:
        assert reply.json()["error"]["type"] == "invalid_request_error"
