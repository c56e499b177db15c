"""The provider HTTP shell: credential redaction, path-segment quoting, stream framings and
malformed upstream data. The end-to-end cases run the official openai SDK against a gateway
process and a fake upstream on loopback that misbehaves on purpose."""

from __future__ import annotations

import json

import openai
import pytest

from tests.support.fake_upstream import Mode
from unigate.errors import BadRequest, ProviderError
from unigate.providers.shell import REDACTED, Call, call_secrets, redact_bytes, redact_error, segment
from unigate.types import Deployment

KEY = "sk-proj-unigate-test-4f1c9a2e7b"


def deployment(**kwargs) -> Deployment:
    return Deployment(id="d", public_name="p", provider="openai", model="m", **kwargs)


# ---------------------------------------------------------------------------------------------
# Redaction


def test_every_credential_a_call_carries_is_a_secret():
    dep = deployment(
        api_key=KEY,
        headers=(("x-custom-auth", "custom-token-123456"),),
        options=(("aws_secret_access_key", "aws-secret-abcdefgh"), ("aws_session_token", "aws-token-abcdefgh")),
    )
    call = Call(
        "https://up/x",
        b"{}",
        {"authorization": "Bearer bearer-token-0123", "x-api-key": "anthropic-key-0123", "content-type": "json"},
        secrets=("signing-secret-0123",),
    )
    secrets = call_secrets(call, dep)
    for expected in (
        KEY,
        "bearer-token-0123",
        "Bearer bearer-token-0123",
        "anthropic-key-0123",
        "custom-token-123456",
        "aws-secret-abcdefgh",
        "aws-token-abcdefgh",
        "signing-secret-0123",
    ):
        assert expected in secrets
    assert "json" not in secrets  # not a credential header
    assert list(secrets) == sorted(secrets, key=len, reverse=True)  # a key containing another goes first


def test_short_values_are_not_treated_as_secrets():
    # a 3-character "key" would redact ordinary words everywhere
    secrets = call_secrets(Call("u", b"", {"authorization": "Bearer abc"}), deployment(api_key="abc"))
    assert "abc" not in secrets


def test_redact_error_rewrites_message_args_and_raw():
    error = ProviderError(f"openai: invalid key {KEY}", provider="openai", raw=json.dumps({"key": KEY}).encode())
    redact_error(error, (KEY,))
    assert KEY not in error.message and REDACTED in error.message
    assert KEY not in str(error)  # str() reads args, not .message
    assert isinstance(error.raw, bytes) and KEY.encode() not in error.raw
    assert redact_bytes(b"a " + KEY.encode() + b" b", (KEY,)) == b"a [REDACTED] b"


# ---------------------------------------------------------------------------------------------
# Quoting


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("gpt-4o", "gpt-4o"),
        ("x/../../admin?", "x%2F..%2F..%2Fadmin%3F"),
        ("...", "..."),
        ("us.anthropic.claude-3:0", "us.anthropic.claude-3%3A0"),
        ("a#b%c d", "a%23b%25c%20d"),
    ],
)
def test_a_client_chosen_value_is_exactly_one_path_segment(value, quoted):
    assert segment(value) == quoted


@pytest.mark.parametrize("value", [".", ".."])
def test_a_dot_segment_is_refused_as_a_bad_request(value):
    # even percent-encoded, a URL parser resolves it as a path step (the upstream client does)
    with pytest.raises(BadRequest):
        segment(value)


# ---------------------------------------------------------------------------------------------
# End to end: what a client and the request log see


@pytest.fixture
def echoing_upstream(make_upstream):
    """An upstream whose auth errors quote the key it was sent, as some real ones do."""
    message = f"Incorrect API key provided: {KEY}. Header was 'Authorization: Bearer {KEY}'"
    return make_upstream(default=Mode("status", status=401, message=message))


def test_an_upstream_error_echoing_the_key_is_redacted_for_the_client_and_the_log(start_gateway, echoing_upstream):
    gateway = start_gateway(
        {
            "models": [
                {
                    "name": "gpt",
                    "deployments": [
                        {"provider": "openai", "model": "m", "api_base": echoing_upstream.base_url, "api_key": KEY}
                    ],
                }
            ]
        },
        env={"UNIGATE_LOG_LEVEL": "INFO"},
    )
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
    body = caught.value.response.text
    with pytest.raises(openai.APIStatusError) as caught_stream:
        for _ in client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True):
            pass
    stream_body = caught_stream.value.response.text
    # the upstream really did receive and echo the key
    assert echoing_upstream.chat_calls()[0].headers["authorization"] == f"Bearer {KEY}"
    for text in (body, stream_body):
        assert KEY not in text
        assert "Incorrect API key provided: [REDACTED]" in text  # the useful part of the message stays
    gateway.stop()  # a clean stop drains the request log
    log = gateway.log_path.read_text()
    assert KEY not in log
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    failed = [r for r in records if r.get("event") == "request" and r.get("error_message")]
    assert failed and all("[REDACTED]" in r["error_message"] for r in failed)


def test_an_azure_deployment_name_cannot_leave_its_path_segment(start_gateway, upstream):
    # "azure/<name>" reaches any deployment name of a configured Azure resource: the name is
    # client-chosen, and must stay one path segment however it is spelled
    gateway = start_gateway(
        {"providers": {"azure": {"api_base": upstream.base_url.removesuffix("/v1"), "api_key": KEY}}, "models": []}
    )
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    # path steps and query marks are refused as model names before anything is routed
    for name in ("x/../../admin?", ".."):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model=f"azure/{name}", messages=[{"role": "user", "content": "hi"}])
        assert KEY not in refused.value.response.text
    assert upstream.received == []
    # a name that passes validation but holds a slash reaches its own deployment, quoted
    try:
        client.chat.completions.create(model="azure/x/admin", messages=[{"role": "user", "content": "hi"}])
    except openai.APIStatusError as exc:
        assert exc.status_code < 500 or KEY not in exc.response.text
    paths = [r.raw_path for r in upstream.received]
    assert paths, "no request reached the upstream"
    for raw_path in paths:
        assert raw_path.startswith("/openai/deployments/"), raw_path
        assert raw_path.split("?")[0].endswith("/chat/completions"), raw_path
        assert raw_path.count("/") == 5, raw_path  # /openai/deployments/<one segment>/chat/completions
    assert "/openai/deployments/x%2Fadmin/chat/completions" in {p.split("?")[0] for p in paths}
    assert not any(r.path.startswith("/admin") for r in upstream.received)
