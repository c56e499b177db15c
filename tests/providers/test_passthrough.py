"""Native pass-through, the provider side: auth per provider, usage in native answers, and the
key redacted from relayed bytes even when a stream splits it."""

from __future__ import annotations

import pytest

from unigate.providers.passthrough import Redactor, upstream_auth, usage_of

KEY = "sk-ant-passthrough-0123456789"


@pytest.mark.parametrize(
    ("provider", "header"),
    [("anthropic", "x-api-key"), ("gemini", "x-goog-api-key"), ("azure", "api-key"), ("groq", "authorization")],
)
def test_each_provider_gets_its_key_its_own_way(provider, header):
    assert header in upstream_auth(provider, KEY)


def test_usage_in_native_answers():
    anthropic = usage_of("anthropic", {"usage": {"input_tokens": 5, "cache_read_input_tokens": 3, "output_tokens": 2}})
    assert anthropic is not None and anthropic["prompt_tokens"] == 8 and anthropic["completion_tokens"] == 2
    gemini = usage_of("gemini", {"usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 6}})
    assert gemini is not None and gemini["total_tokens"] == 10


def test_a_whole_body_loses_the_key():
    assert Redactor(KEY).whole(b'{"error": "bad key ' + KEY.encode() + b'"}') == b'{"error": "bad key [REDACTED]"}'


@pytest.mark.parametrize("cut", [1, 5, len(KEY) - 1, len(KEY), len(KEY) + 3])
def test_a_key_split_across_stream_pieces_is_still_redacted(cut):
    body = b'data: {"echo": "' + KEY.encode() + b'"}\n\n'
    start = body.index(KEY.encode())
    pieces = [body[: start + cut], body[start + cut :]]
    redactor = Redactor(KEY)
    relayed = b"".join(redactor.piece(p) for p in pieces) + redactor.rest()
    assert relayed == body.replace(KEY.encode(), b"[REDACTED]")


def test_without_a_key_bytes_pass_unchanged():
    redactor = Redactor(None)
    assert redactor.piece(b"abc") == b"abc" and redactor.rest() == b""


def test_bedrock_paths_and_usage():
    from unigate.providers.passthrough import model_of

    assert model_of("bedrock", "model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse", None) == (
        "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    assert model_of("bedrock", "guardrail/x/version/1/apply", None) is None
    converse = usage_of("bedrock", {"usage": {"inputTokens": 5, "outputTokens": 2, "cacheReadInputTokens": 3}})
    assert converse is not None and converse["prompt_tokens"] == 8 and converse["completion_tokens"] == 2
    claude = usage_of("bedrock", {"usage": {"input_tokens": 4, "output_tokens": 6}})  # InvokeModel, Claude's body
    assert claude is not None and claude["total_tokens"] == 10
    metrics = usage_of("bedrock", {"amazon-bedrock-invocationMetrics": {"inputTokenCount": 7, "outputTokenCount": 1}})
    assert metrics is not None and metrics["prompt_tokens"] == 7 and metrics["completion_tokens"] == 1


def test_aws_event_stream_payloads_are_read_across_pieces():
    import base64
    import json

    from tests.support.fake_bedrock import aws_event
    from unigate.providers.passthrough import AwsEventReader

    chunk = {"type": "message_delta", "usage": {"output_tokens": 9}}
    data = aws_event("metadata", {"usage": {"inputTokens": 1, "outputTokens": 2}}) + aws_event(
        "chunk", {"bytes": base64.b64encode(json.dumps(chunk).encode()).decode()}
    )
    reader = AwsEventReader()
    payloads = [p for piece in (data[:7], data[7:40], data[40:]) for p in reader.feed(piece)]
    assert payloads == [{"usage": {"inputTokens": 1, "outputTokens": 2}}, chunk]
