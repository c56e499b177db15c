"""Tokens the upstream did not report, counted from what it sent.

An answer without ``usage`` (an upstream that omits it, a stream cut or abandoned before its
usage chunk, a stream that failed mid-way) is still charged for what was produced: the gateway
counts the text it received and the prompt it sent. No tokenizer of the upstream's own is at
hand for most models, so the count is a documented estimate: **UTF-8 bytes / 4, rounded up**
(about one token per four characters of English; never zero for a non-empty text).

``prompt_bytes`` is also the reservation's prompt measure (there it is taken at one byte per
token, an upper bound for byte-level BPE tokenizers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from unigate.types import Usage, make_usage

BYTES_PER_TOKEN = 4
IMAGE_TOKENS = 2000  # upper bound per image part (OpenAI high detail ≈ 1.1k, Anthropic ≈ 1.6k)


def tokens_for_bytes(count: int) -> int:
    return -(-count // BYTES_PER_TOKEN)


def prompt_bytes(request: Mapping[str, Any]) -> int:
    """UTF-8 bytes of everything that becomes prompt tokens, images at a fixed upper bound."""
    total = 0
    for message in request.get("messages") or ():
        if not isinstance(message, dict):
            continue
        total += 8
        content = message.get("content")
        if isinstance(content, str):
            total += len(content.encode())
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    total += len(str(part.get("text") or "").encode())
                elif part.get("type") in ("image_url", "image", "input_image"):
                    total += IMAGE_TOKENS
                else:
                    total += len(orjson.dumps(part))
        if message.get("tool_calls"):
            total += len(orjson.dumps(message["tool_calls"]))
    for name in ("tools", "functions", "response_format"):
        if request.get(name):
            total += len(orjson.dumps(request[name]))
    embed_input = request.get("input")
    if isinstance(embed_input, str):
        total += len(embed_input.encode())
    elif isinstance(embed_input, list):
        total += sum(len(item.encode()) if isinstance(item, str) else 4 * len(item) for item in embed_input)
    return total


def _delta_bytes(delta: Mapping[str, Any]) -> int:
    total = 0
    for name in ("content", "reasoning_content", "refusal"):
        value = delta.get(name)
        if isinstance(value, str):
            total += len(value.encode())
    for call in delta.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            for name in ("name", "arguments"):
                value = function.get(name)
                if isinstance(value, str):
                    total += len(value.encode())
    return total


class OutputCounter:
    """Bytes of output seen so far in a stream (every choice)."""

    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0

    def feed(self, chunk: Mapping[str, Any]) -> None:
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self.bytes += _delta_bytes(delta)

    @property
    def tokens(self) -> int:
        return tokens_for_bytes(self.bytes)


def response_output_bytes(response: Mapping[str, Any]) -> int:
    return sum(
        _delta_bytes(choice.get("message") or {})
        for choice in response.get("choices") or ()
        if isinstance(choice, dict)
    )


def estimated_usage(request: Mapping[str, Any], output_bytes: int) -> Usage:
    """Usage counted by the gateway (see the module docstring)."""
    return make_usage(tokens_for_bytes(prompt_bytes(request)), tokens_for_bytes(output_bytes))
