"""Bedrock Converse translation checked against real recorded traffic, plus the provider over real
HTTP (SigV4 with fixed fake credentials, bearer API keys, binary event streams)."""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from unigate.errors import (
    BadRequest,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers.base import ProviderContext
from unigate.providers.bedrock import (
    BedrockProvider,
    BedrockStreamState,
    from_native,
    from_native_event,
    native_url,
    parse_error,
    to_native,
)
from unigate.providers.bedrock.errors import error_from_exception
from unigate.types import Deployment

from .conftest import RECORDINGS, load_recording, recorded_request_body, recorded_response_body

# Recordings (or single interactions, "file#index") deliberately not translated, with the reason.
UNSUPPORTED: dict[str, str] = {
    "test_bedrock_model_usage_limit_exceeded.yaml": "CountTokens API (/count-tokens), not a chat call",
    "test_bedrock_model_usage_limit_not_exceeded.yaml#0": "CountTokens API call; the Converse interaction is tested",
    "test_image_url_input.yaml#0": "the recorded client downloading the image itself (GET), not Bedrock traffic",
    "test_bedrock_model_thinking_part_from_other_model.yaml#0": (
        "OpenAI Responses API call (another provider); the Bedrock interaction is tested"
    ),
}

# Per recording: extra OpenAI request fields (things that have no Converse-history equivalent) and
# deployment options. Everything else is rebuilt from the recorded Converse body by `openai_request`.
CASES: dict[str, dict[str, Any]] = {
    "test_bedrock_cache_point_adds_cache_control[claude-sonnet-4-5].yaml": {},
    "test_bedrock_cache_point_adds_cache_control[nova-lite].yaml": {},
    "test_bedrock_empty_system_prompt.yaml": {},
    "test_bedrock_inference_profile_converse.yaml": {},
    "test_bedrock_llama_tool_result_followed_by_text_accepted.yaml": {},
    "test_bedrock_mistral_tool_return_image_accepted.yaml": {},
    "test_bedrock_model.yaml": {},
    "test_bedrock_model_anthropic_model_without_tools.yaml": {},
    "test_bedrock_model_guardrail_config.yaml": {
        "options": {
            "guardrail_config": {"guardrailIdentifier": "xbgw7g293v7o", "guardrailVersion": "DRAFT", "trace": "enabled"}
        },
    },
    "test_bedrock_model_instructions.yaml": {},
    "test_bedrock_model_instructions_only_then_message_history[claude-sonnet-4-5].yaml": {},
    "test_bedrock_model_instructions_only_then_message_history[nova-micro].yaml": {},
    "test_bedrock_model_max_tokens.yaml": {},
    "test_bedrock_model_performance_config.yaml": {"options": {"performance_latency": "optimized"}},
    "test_bedrock_model_retry.yaml": {},
    "test_bedrock_model_service_tier.yaml": {"params": {"service_tier": "default"}},
    "test_bedrock_model_stream.yaml": {},
    "test_bedrock_model_thinking_part_anthropic_adaptive_effort.yaml": {
        "params": {"thinking": {"type": "adaptive"}},
        "options": {"additional_model_request_fields": {"output_config": {"effort": "high"}}},
        "by_model": {
            "us.anthropic.claude-sonnet-4-20250514-v1:0": {"params": {"reasoning_effort": "high"}, "options": {}}
        },
    },
    "test_bedrock_model_thinking_part_deepseek.yaml": {},
    "test_bedrock_model_thinking_part_from_other_model.yaml": {"params": {"reasoning_effort": "low"}},
    "test_bedrock_model_thinking_part_redacted.yaml": {"params": {"reasoning_effort": "low"}},
    "test_bedrock_model_thinking_part_redacted_stream.yaml": {"params": {"reasoning_effort": "low"}},
    "test_bedrock_model_thinking_part_stream.yaml": {"params": {"reasoning_effort": "low"}},
    "test_bedrock_model_top_p.yaml": {},
    "test_bedrock_model_usage_limit_not_exceeded.yaml": {},
    "test_bedrock_model_with_instructions_only[claude-sonnet-4-5].yaml": {},
    "test_bedrock_model_with_instructions_only[nova-micro].yaml": {},
    "test_bedrock_moonshotai_tool_call.yaml": {},
    "test_bedrock_thinking_false_openai_variant_silent_drop.yaml": {},
    "test_bedrock_thinking_true_qwen_variant.yaml": {"params": {"reasoning_effort": "high"}},
    "test_bedrock_top_k_anthropic_variant.yaml": {"params": {"top_k": 20}},
    "test_bedrock_writer_tool_result_followed_by_text_accepted.yaml": {},
    "test_image_url_input.yaml": {},
    "test_stream_cancel.yaml": {},
    "test_text_as_binary_content_input.yaml": {},
    # error replies
    "test_bedrock_error.yaml": {"error": ProviderError},
    "test_bedrock_streaming_error.yaml": {"error": ProviderError},
}

# The recorded client's stopReason → the OpenAI finish_reason a client must see.
FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls", "stop_sequence": "stop"}
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "txt": "text/plain", "pdf": "application/pdf"}


def _interactions(name: str) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i, it)
        for i, it in enumerate(load_recording("bedrock", name))
        if f"{name}#{i}" not in UNSUPPORTED and "bedrock-runtime" in it["request"]["uri"]
    ]


def _model_of(uri: str) -> str:
    from urllib.parse import unquote

    return unquote(uri.split("/model/", 1)[1].rsplit("/", 1)[0])


def _case(name: str, uri: str) -> dict[str, Any]:
    case = CASES[name]
    override = (case.get("by_model") or {}).get(_model_of(uri))
    return {**case, **override} if override else case


def openai_request(body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI-format request with the same meaning as a recorded Converse body."""

    def parts(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        docs = 0
        for block in blocks:
            if "text" in block:
                out.append({"type": "text", "text": block["text"]})
            elif "image" in block:
                image = block["image"]
                url = f"data:{_MIME[image['format']]};base64,{image['source']['bytes']}"
                out.append({"type": "image_url", "image_url": {"url": url}})
            elif "document" in block:
                docs += 1
                doc = block["document"]
                data = f"data:{_MIME[doc['format']]};base64,{doc['source']['bytes']}"
                out.append({"type": "file", "file": {"file_data": data, "filename": doc["name"] + "." + doc["format"]}})
            elif "cachePoint" in block:
                out[-1]["cache_control"] = {"type": "ephemeral"}
        return out

    def content(blocks: list[dict[str, Any]]) -> Any:
        converted = parts(blocks)
        if len(converted) == 1 and converted[0]["type"] == "text" and "cache_control" not in converted[0]:
            return converted[0]["text"]
        return converted

    messages: list[dict[str, Any]] = []
    if body.get("system"):
        messages.append({"role": "system", "content": content(body["system"])})
    for message in body["messages"]:
        blocks = message["content"]
        if message["role"] == "user":
            for block in blocks:
                if "toolResult" in block:
                    result = block["toolResult"]
                    messages.append(
                        {"role": "tool", "tool_call_id": result["toolUseId"], "content": content(result["content"])}
                    )
            rest = [b for b in blocks if "toolResult" not in b]
            if rest:
                messages.append({"role": "user", "content": content(rest)})
        else:
            assistant: dict[str, Any] = {"role": "assistant", "content": None}
            thinking = []
            for block in blocks:
                reasoning = block.get("reasoningContent")
                if reasoning and "reasoningText" in reasoning:
                    text = reasoning["reasoningText"]
                    thinking.append({"type": "thinking", "thinking": text["text"], "signature": text["signature"]})
                elif reasoning:
                    thinking.append({"type": "redacted_thinking", "data": reasoning["redactedContent"]})
            if thinking:
                assistant["thinking_blocks"] = thinking
            text_blocks = [b for b in blocks if "text" in b]
            if text_blocks:
                assistant["content"] = content(text_blocks)
            calls = [b["toolUse"] for b in blocks if "toolUse" in b]
            if calls:
                assistant["tool_calls"] = [
                    {
                        "id": c["toolUseId"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c["input"])},
                    }
                    for c in calls
                ]
            messages.append(assistant)
    request: dict[str, Any] = {"messages": messages}
    inference = body.get("inferenceConfig") or {}
    for theirs, ours in (
        ("maxTokens", "max_tokens"),
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("stopSequences", "stop"),
    ):
        if theirs in inference:
            request[ours] = inference[theirs]
    tool_config = body.get("toolConfig")
    if tool_config:
        request["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["toolSpec"]["name"],
                    **({"description": t["toolSpec"]["description"]} if "description" in t["toolSpec"] else {}),
                    "parameters": t["toolSpec"]["inputSchema"]["json"],
                },
            }
            for t in tool_config["tools"]
        ]
        choice = tool_config.get("toolChoice")
        if choice == {"auto": {}}:
            request["tool_choice"] = "auto"
        elif choice == {"any": {}}:
            request["tool_choice"] = "required"
        elif choice:
            request["tool_choice"] = {"type": "function", "function": {"name": choice["tool"]["name"]}}
    return request


def normalize(body: dict[str, Any]) -> dict[str, Any]:
    """Drop what carries no meaning: empty system/inferenceConfig and the default toolResult status.

    A toolResult status "error" is dropped too: OpenAI tool messages have no error flag, so that
    one bit of the recorded request cannot be expressed (the error text itself is kept)."""
    body = copy.deepcopy(body)
    for key in ("system", "inferenceConfig"):
        if not body.get(key):
            body.pop(key, None)
    for message in body["messages"]:
        for block in message["content"]:
            if "toolResult" in block:
                block["toolResult"].pop("status", None)
            for kind in ("image", "document"):
                if kind in block and "bytes" in block[kind]["source"]:
                    block[kind]["source"]["bytes"] = base64.b64decode(block[kind]["source"]["bytes"])
    return body


def _deployment(
    uri: str, options: dict[str, Any] | None = None, api_base: str | None = None, api_key: str | None = None
) -> Deployment:
    region = uri.split("bedrock-runtime.", 1)[1].split(".", 1)[0]
    opts = {"region": region, **(options or {})}
    return Deployment(
        id="b#0",
        public_name="public-bedrock",
        provider="bedrock",
        model=_model_of(uri),
        api_base=api_base,
        api_key=api_key,
        options=tuple(opts.items()),
    )


def test_every_recording_is_covered_or_listed() -> None:
    files = {p.name for p in (RECORDINGS / "bedrock").glob("*.yaml")}
    listed = {key for key in UNSUPPORTED if "#" not in key}
    assert files - set(CASES) - listed == set()
    assert set(CASES) <= files and not set(CASES) & listed


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_native_matches_recorded_request(name: str) -> None:
    for _, interaction in _interactions(name):
        uri = interaction["request"]["uri"]
        case = _case(name, uri)
        recorded = recorded_request_body(interaction)
        request = {**openai_request(recorded), **case.get("params", {})}
        deployment = _deployment(uri, case.get("options"))
        assert native_url(deployment, uri.endswith("/converse-stream"), deployment.option("region")) == uri
        assert normalize(to_native(request, deployment)) == normalize(recorded)


def _decode_stream(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(str(m.headers[":event-type"]), json.loads(m.payload)) for m in buffer]


def _reply(interaction: dict[str, Any]) -> Any:
    body = recorded_response_body(interaction)
    return json.loads(body) if isinstance(body, str) else body  # some JSON replies are stored as text


def _expected(interaction: dict[str, Any]) -> dict[str, Any]:
    body = _reply(interaction)
    if isinstance(body, bytes):
        text = reasoning = ""
        calls: list[tuple[str, Any]] = []
        stop, usage = None, {}
        for kind, payload in _decode_stream(body):
            delta = payload.get("delta", {})
            text += delta.get("text", "")
            reasoning += delta.get("reasoningContent", {}).get("text", "")
            stop = payload.get("stopReason", stop)
            usage = payload.get("usage", usage)
            if kind == "contentBlockStart" and "toolUse" in payload.get("start", {}):
                calls.append((payload["start"]["toolUse"]["name"], None))
    else:
        blocks = body["output"]["message"]["content"]
        text = "".join(b["text"] for b in blocks if "text" in b)
        reasoning = "".join(
            b["reasoningContent"]["reasoningText"]["text"]
            for b in blocks
            if "reasoningText" in b.get("reasoningContent", {})
        )
        calls = [(b["toolUse"]["name"], b["toolUse"]["input"]) for b in blocks if "toolUse" in b]
        stop, usage = body["stopReason"], body["usage"]
    prompt = usage["inputTokens"] + usage.get("cacheReadInputTokens", 0) + usage.get("cacheWriteInputTokens", 0)
    return {
        "text": text,
        "reasoning": reasoning,
        "calls": calls,
        "finish": FINISH[stop],
        "prompt": prompt,
        "completion": usage["outputTokens"],
        "cached": usage.get("cacheReadInputTokens", 0),
    }


def _collect(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    text, reasoning, finish, usage = "", "", None, None
    calls: dict[int, dict[str, Any]] = {}
    blocks: list[dict[str, Any]] = []
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk" and chunk["model"] == "public-bedrock"
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            blocks += delta.get("thinking_blocks") or []
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(
                    call["index"], {"id": call.get("id"), "function": {"name": "", "arguments": ""}}
                )
                entry["function"]["name"] += call.get("function", {}).get("name", "")
                entry["function"]["arguments"] += call.get("function", {}).get("arguments", "")
            finish = choice["finish_reason"] or finish
        usage = chunk.get("usage") or usage
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage
    message = {
        "content": text,
        "reasoning_content": reasoning or None,
        "tool_calls": list(calls.values()),
        "thinking_blocks": blocks,
    }
    return {"message": message, "finish_reason": finish, "usage": usage}


def _check(result: dict[str, Any], expected: dict[str, Any]) -> None:
    message = result["message"]
    assert (message.get("content") or "") == expected["text"]
    assert (message.get("reasoning_content") or "") == expected["reasoning"]
    calls = message.get("tool_calls") or []
    assert [c["function"]["name"] for c in calls] == [name for name, _ in expected["calls"]]
    for call, (_, args) in zip(calls, expected["calls"], strict=True):
        assert call["id"]
        if args is not None:
            assert json.loads(call["function"]["arguments"]) == args
    assert result["finish_reason"] == expected["finish"]
    usage = result["usage"]
    assert usage["prompt_tokens"] == expected["prompt"]
    assert usage["completion_tokens"] == expected["completion"]
    assert usage["total_tokens"] == expected["prompt"] + expected["completion"]
    assert usage.get("prompt_tokens_details", {}).get("cached_tokens", 0) == expected["cached"]


def _translate(interaction: dict[str, Any]) -> dict[str, Any]:
    body = _reply(interaction)
    if isinstance(body, dict):
        response = from_native(body, "public-bedrock")
        return {**response["choices"][0], "usage": response["usage"]}
    state = BedrockStreamState(response_id="chatcmpl-x", model="public-bedrock", created=1)
    chunks = [c for kind, payload in _decode_stream(body) if (c := from_native_event(kind, payload, state))]
    return _collect(chunks)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if "error" not in c))
def test_from_native_matches_recorded_reply(name: str) -> None:
    for _, interaction in _interactions(name):
        _check(_translate(interaction), _expected(interaction))


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Credentials:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret/test/key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return Credentials("AKIDTESTTESTTEST", "secret/test/key", "session-token")


def _assert_signed(got: Any, url: str, region: str, credentials: Credentials) -> None:
    """Recompute the SigV4 signature over what the server received and compare."""
    headers = {k.lower(): v for k, v in got.headers.items()}
    authorization = headers["authorization"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST/{headers['x-amz-date'][:8]}/{region}/bedrock/aws4_request"
    )
    assert headers["x-amz-security-token"] == "session-token"
    signed_names = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    request = AWSRequest(
        method="POST", url=url, data=got.body, headers={name: headers[name] for name in signed_names if name != "host"}
    )
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(credentials.get_frozen_credentials(), "bedrock", region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    assert authorization.endswith("Signature=" + expected)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_provider_over_http(name: str, replay_server: Any, fake_aws: Credentials) -> None:
    interactions = _interactions(name)
    base = await replay_server([it for _, it in interactions])
    async with aiohttp.ClientSession() as http:
        provider = BedrockProvider(ProviderContext(http=http))
        for _, interaction in interactions:
            uri = interaction["request"]["uri"]
            case = _case(name, uri)
            request = {**openai_request(recorded_request_body(interaction)), **case.get("params", {})}
            deployment = _deployment(uri, case.get("options"), api_base=base)
            stream = uri.endswith("/converse-stream")
            before = len(replay_server.received)
            if "error" in case:
                with pytest.raises(case["error"]) as info:
                    if stream:
                        async for _ in provider.chat_stream(request, deployment):
                            pass
                    else:
                        await provider.chat(request, deployment)
                assert "The provided model identifier is invalid." in info.value.message
                assert info.value.http_status == 400 and info.value.provider == "bedrock"
            elif stream:
                _check(_collect([c async for c in provider.chat_stream(request, deployment)]), _expected(interaction))
            else:
                response = await provider.chat(request, deployment)
                assert response["model"] == "public-bedrock"
                _check({**response["choices"][0], "usage": response["usage"]}, _expected(interaction))
            got = replay_server.received[before]
            assert got.path == "/" + uri.split(".amazonaws.com/", 1)[1].replace("%3A", ":").replace("%2F", "/")
            assert normalize(got.json()) == normalize(recorded_request_body(interaction))
            url = native_url(deployment, stream, deployment.option("region"))
            _assert_signed(got, url, deployment.option("region"), fake_aws)


async def test_model_id_stays_percent_encoded_on_the_wire_and_bearer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.raw_path, {k.lower(): v for k, v in request.headers.items()}))
        return web.json_response(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 1, "outputTokens": 1},
            }
        )

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key")
    try:
        async with aiohttp.ClientSession() as http:
            provider = BedrockProvider(ProviderContext(http=http))
            for model in (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/mi1dadi0g15f",
            ):
                deployment = Deployment(
                    id="b",
                    public_name="p",
                    provider="bedrock",
                    model=model,
                    api_base=f"http://127.0.0.1:{port}",
                    options=(("region", "eu-west-1"),),
                )
                reply = await provider.chat({"messages": [{"role": "user", "content": "hi"}]}, deployment)
                assert reply["choices"][0]["message"]["content"] == "hi"
    finally:
        await runner.cleanup()
    assert seen[0][0] == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert (
        seen[1][0]
        == "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fmi1dadi0g15f/converse"
    )
    assert seen[0][1]["authorization"] == "Bearer bedrock-api-key" and "x-amz-date" not in seen[0][1]


# ---------------------------------------------------------------------------------------------
# Focused behaviour


def _dep(model: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", **options: Any) -> Deployment:
    return Deployment(id="b", public_name="p", provider="bedrock", model=model, options=tuple(options.items()))


def test_tool_choice_and_inference_config() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    base = {"messages": [{"role": "user", "content": "q"}], "tools": tools}
    assert to_native({**base, "tool_choice": "required"}, _dep())["toolConfig"]["toolChoice"] == {"any": {}}
    named = to_native({**base, "tool_choice": {"type": "function", "function": {"name": "f"}}}, _dep())
    assert named["toolConfig"]["toolChoice"] == {"tool": {"name": "f"}}
    assert "toolConfig" not in to_native({**base, "tool_choice": "none"}, _dep())
    body = to_native({**base, "max_completion_tokens": 9, "temperature": 0.3, "top_p": 0.9, "stop": "X"}, _dep())
    assert body["inferenceConfig"] == {"maxTokens": 9, "temperature": 0.3, "topP": 0.9, "stopSequences": ["X"]}
    nova = to_native({**base, "top_k": 5}, _dep("us.amazon.nova-micro-v1:0"))
    assert nova["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 5}}


def test_unsupported_inputs_are_clear_bad_requests() -> None:
    url_image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
    with pytest.raises(BadRequest, match="Converse needs the bytes"):
        to_native({"messages": [url_image]}, _dep())


def test_json_schema_becomes_converse_structured_output() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = to_native(
        {
            "messages": [{"role": "user", "content": "q"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "place", "description": "where", "schema": schema},
            },
        },
        _dep(),
    )
    definition = body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert body["outputConfig"]["textFormat"]["type"] == "json_schema"
    # Converse takes the schema as JSON text, not as an object
    assert json.loads(definition["schema"]) == schema
    assert (definition["name"], definition["description"]) == ("place", "where")
    json_object = to_native(
        {"messages": [{"role": "user", "content": "q"}], "response_format": {"type": "json_object"}}, _dep()
    )
    assert "outputConfig" not in json_object


def test_reply_thinking_blocks_and_cache_usage() -> None:
    interaction = load_recording("bedrock", "test_bedrock_model_thinking_part_anthropic_adaptive_effort.yaml")[0]
    message = from_native(recorded_response_body(interaction), "p")["choices"][0]["message"]
    assert message["thinking_blocks"][0]["signature"].startswith("EpMCCl0IDRAB")
    assert message["reasoning_content"] == message["thinking_blocks"][0]["thinking"]
    redacted = load_recording("bedrock", "test_bedrock_model_thinking_part_redacted.yaml")[0]
    blocks = from_native(recorded_response_body(redacted), "p")["choices"][0]["message"]["thinking_blocks"]
    assert blocks[0]["type"] == "redacted_thinking" and blocks[0]["data"].startswith("RXU4RUNr")
    cache = load_recording("bedrock", "test_bedrock_cache_point_adds_cache_control[claude-sonnet-4-5].yaml")[0]
    assert from_native(recorded_response_body(cache), "p")["usage"]["prompt_tokens"] == 14 + 1503
    assert (
        from_native({"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": "guardrail_intervened"}, "p")[
            "choices"
        ][0]["finish_reason"]
        == "content_filter"
    )


def test_stream_thinking_signature_arrives_whole() -> None:
    raw = recorded_response_body(load_recording("bedrock", "test_bedrock_model_thinking_part_stream.yaml")[0])
    state = BedrockStreamState(response_id="x", model="p", created=1)
    chunks = [c for kind, payload in _decode_stream(raw) if (c := from_native_event(kind, payload, state))]
    blocks = [b for c in chunks for ch in c["choices"] for b in ch["delta"].get("thinking_blocks", [])]
    assert len(blocks) == 1 and blocks[0]["signature"].startswith("Eu0CCkgIBxAB")
    assert blocks[0]["thinking"].startswith("The user has greeted me")


def test_tool_use_stream_events() -> None:
    state = BedrockStreamState(response_id="x", model="public-bedrock", created=1)
    events = [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a": '}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}),
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 4, "cacheReadInputTokens": 2}}),
    ]
    result = _collect([c for kind, payload in events if (c := from_native_event(kind, payload, state))])
    assert result["message"]["tool_calls"] == [{"id": "t1", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    assert result["finish_reason"] == "tool_calls"
    assert result["usage"]["prompt_tokens"] == 5 and result["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}


def test_error_mapping() -> None:
    throttled = parse_error(429, b'{"message": "Too many requests"}', {"x-amzn-errortype": "ThrottlingException:x"})
    assert isinstance(throttled, UpstreamRateLimited) and throttled.retryable
    long = parse_error(
        400, b'{"message": "Input is too long for requested model."}', {"x-amzn-errortype": "ValidationException"}
    )
    assert isinstance(long, ContextWindowExceeded)
    plain = parse_error(400, b'{"message": "The provided model identifier is invalid."}')
    assert type(plain) is ProviderError and plain.http_status == 400
    assert isinstance(parse_error(503, b'{"message": "busy"}'), UpstreamServerError)
    denied = parse_error(403, b'{"message": "no access"}', {"x-amzn-errortype": "AccessDeniedException"})
    assert type(denied) is ProviderError and denied.http_status == 502
    for kind, cls in (
        ("throttlingException", UpstreamRateLimited),
        ("modelStreamErrorException", UpstreamServerError),
        ("internalServerException", UpstreamServerError),
        ("serviceUnavailableException", UpstreamServerError),
    ):
        assert isinstance(error_from_exception(kind, "boom", None, None), cls)
    assert isinstance(
        error_from_exception("validationException", "too many input tokens", None, None), ContextWindowExceeded
    )
    assert type(error_from_exception("validationException", "bad field", None, None)) is ProviderError


async def test_stream_exception_event_raises(fake_aws: Credentials, replay_server: Any) -> None:
    def message(headers: dict[str, str], payload: bytes) -> bytes:
        encoded = b"".join(
            bytes([len(k)]) + k.encode() + b"\x07" + len(v).to_bytes(2, "big") + v.encode() for k, v in headers.items()
        )
        total = 12 + len(encoded) + len(payload) + 4
        prelude = total.to_bytes(4, "big") + len(encoded).to_bytes(4, "big")
        prelude += binascii.crc32(prelude).to_bytes(4, "big")
        body = prelude + encoded + payload
        return body + binascii.crc32(body).to_bytes(4, "big")

    raw = message({":event-type": "messageStart", ":message-type": "event"}, b'{"role":"assistant"}') + message(
        {":exception-type": "throttlingException", ":message-type": "exception"}, b'{"message":"slow down"}'
    )
    base = await replay_server(
        [
            {
                "response": {
                    "status": {"code": 200},
                    "headers": {"content-type": "application/vnd.amazon.eventstream"},
                    "body": {"string": raw},
                }
            }
        ]
    )
    async with aiohttp.ClientSession() as http:
        provider = BedrockProvider(ProviderContext(http=http))
        deployment = Deployment(
            id="b",
            public_name="p",
            provider="bedrock",
            model="us.amazon.nova-micro-v1:0",
            api_base=base,
            options=(("region", "us-east-1"),),
        )
        got: list[dict[str, Any]] = []
        with pytest.raises(UpstreamRateLimited, match="slow down"):
            async for chunk in provider.chat_stream({"messages": [{"role": "user", "content": "hi"}]}, deployment):
                got.append(chunk)
    assert got and got[0]["choices"][0]["delta"]["role"] == "assistant"
    assert orjson.loads(replay_server.received[0].body)["messages"][0]["content"] == [{"text": "hi"}]
