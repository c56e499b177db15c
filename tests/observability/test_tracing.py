"""OpenTelemetry spans per request, collected by the SDK's in-memory exporter."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.support.fake_upstream import FakeUpstream, Mode
from unigate.config import ObservabilityConfig, validate
from unigate.context import Principal
from unigate.errors import GatewayError
from unigate.gateway import Gateway
from unigate.observability.hook import ObservabilityHook
from unigate.observability.tracing import Tracer


class _Trace:
    """The ``opentelemetry.trace`` module surface the Tracer uses, bound to a private provider
    (the global provider can be set only once per process)."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry import trace

        self.SpanKind = trace.SpanKind
        self.Status = trace.Status
        self.StatusCode = trace.StatusCode
        self._provider = provider

    def get_tracer(self, name: str):
        return self._provider.get_tracer(name)


async def test_spans_follow_genai_conventions():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    upstream = await FakeUpstream(default=Mode(prompt_tokens=11, completion_tokens=6)).start()
    bad = await FakeUpstream(default=Mode("status", status=400, message="nope")).start()
    config = validate(
        {
            "local_model": {"enabled": False},
            "discover_providers": False,
            "models": [
                {
                    "name": "m",
                    "deployments": [
                        {"provider": "openai", "model": "up-m", "api_base": upstream.base_url, "api_key": "k"}
                    ],
                    "pricing": {"input_per_mtok": 1, "output_per_mtok": 1},
                },
                {
                    "name": "b",
                    "deployments": [{"provider": "openai", "model": "up-b", "api_base": bad.base_url, "api_key": "k"}],
                },
            ],
        }
    )
    try:
        groups = Gateway(config, environ={}).groups
        hook = ObservabilityHook(
            groups, ObservabilityConfig(otel=True, log_requests=False), tracer=Tracer(_Trace(provider))
        )
        async with Gateway(config, groups=groups, hooks=[hook]) as gateway:
            await gateway.chat(
                {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3, "max_tokens": 9},
                Principal("key", key_name="app", team_id="t1"),
            )
            stream = await gateway.chat_stream(
                {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
            )
            async for _ in stream.chunks:
                pass
            with pytest.raises(GatewayError):
                await gateway.chat({"model": "b", "messages": [{"role": "user", "content": "x"}]})
    finally:
        await upstream.stop()
        await bad.stop()
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["chat m", "chat m", "chat b"]
    first = spans[0]
    assert first.kind == SpanKind.CLIENT
    attrs = dict(first.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.system"] == "openai"
    assert attrs["gen_ai.request.model"] == "m" and attrs["gen_ai.response.model"] == "up-m"
    assert attrs["gen_ai.usage.input_tokens"] == 11 and attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.request.temperature"] == 0.3 and attrs["gen_ai.request.max_tokens"] == 9
    assert attrs["unigate.cost_usd"] == pytest.approx(17e-6)
    assert attrs["unigate.team_id"] == "t1"
    assert "unigate.ttft_ms" in dict(spans[1].attributes or {})
    failed = spans[2]
    assert failed.status.status_code == StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "ProviderError"  # an upstream 400 without a known code
    assert all("hi" not in str(v) for s in spans for v in (s.attributes or {}).values())


def test_no_tracer_when_otel_is_off():
    config = validate({"local_model": {"enabled": False}, "discover_providers": False})
    hook = ObservabilityHook(Gateway(config, environ={}).groups, ObservabilityConfig())
    assert hook.tracer is None
