"""Helpers shared by the bedrock provider tests."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from botocore.eventstream import EventStreamBuffer

from tests.providers.conftest import load_recording, recorded_response_body
from unigate.errors import (
    ProviderError,
)
from unigate.types import Deployment

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


def _decode_stream(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(str(m.headers[":event-type"]), json.loads(m.payload)) for m in buffer]


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


def _reply(interaction: dict[str, Any]) -> Any:
    body = recorded_response_body(interaction)
    return json.loads(body) if isinstance(body, str) else body  # some JSON replies are stored as text


FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls", "stop_sequence": "stop"}
