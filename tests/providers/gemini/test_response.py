"""gemini: upstream replies → the canonical response.

Gemini translation checked against real recorded traffic, plus the provider over real HTTP.

For every recording in the gemini folder (except those in ``UNSUPPORTED``) the test builds the
OpenAI-format request a client would send, checks ``to_native`` against the recorded request,
and feeds the recorded reply through ``from_native`` / the stream translator. The same cases
then run through :class:`GeminiProvider` against a replay server on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

import pytest

from unigate.errors import (
    ContentFiltered,
)
from unigate.providers.gemini import (
    from_native,
)


def test_finish_reasons_and_safety() -> None:
    def reply(reason: str, parts: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "candidates": [{"content": {"parts": parts or [{"text": "x"}], "role": "model"}, "finishReason": reason}],
            **extra,
        }

    assert from_native(reply("MAX_TOKENS"), "m")["choices"][0]["finish_reason"] == "length"
    for reason in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"):
        assert from_native(reply(reason), "m")["choices"][0]["finish_reason"] == "content_filter"
    assert (
        from_native(reply("STOP", promptFeedback={"blockReason": "OTHER"}), "m")["choices"][0]["finish_reason"]
        == "content_filter"
    )
    with pytest.raises(ContentFiltered):
        from_native({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}, "m")
    cached = from_native(
        {
            **reply("STOP"),
            "usageMetadata": {
                "promptTokenCount": 100,
                "candidatesTokenCount": 5,
                "thoughtsTokenCount": 7,
                "cachedContentTokenCount": 60,
            },
        },
        "m",
    )["usage"]
    assert cached == {
        "prompt_tokens": 100,
        "completion_tokens": 12,
        "total_tokens": 112,
        "prompt_tokens_details": {"cached_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 7},
    }
