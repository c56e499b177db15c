"""What a chat request needs from a model, read in one pass over its messages (no copies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from unigate.errors import BadRequest

CHARS_PER_TOKEN = 4  # a deliberately rough estimate: English text is ~4 characters per token
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 765  # a 1024x1024 image at high detail (OpenAI's accounting)
DEFAULT_OUTPUT_RESERVE = 256  # context kept free for the answer when max_tokens is not given

# Per-request overrides the client may send in ``route`` (``extra_body={"route": {...}}``).
# They can only tighten what the policy allows.
ROUTE_KEYS = frozenset({"privacy", "max_price_per_mtok", "max_latency_ms", "max_ttft_ms", "min_quality"})


@dataclass(slots=True)
class Needs:
    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    prompt_tokens: int = 0  # estimate
    output_tokens: int = DEFAULT_OUTPUT_RESERVE
    prompt: str = ""  # what the learned router scores: the last user message's text

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


def _text_of(content: Any, needs: Needs) -> tuple[str, int]:
    """(text, character count) of a message's content; marks images."""
    if isinstance(content, str):
        return content, len(content)
    if not isinstance(content, list):
        return "", 0
    parts: list[str] = []
    chars = 0
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            text = part.get("text") or ""
            parts.append(text)
            chars += len(text)
        elif kind == "image_url":
            needs.vision = True
            chars += TOKENS_PER_IMAGE * CHARS_PER_TOKEN
        else:
            chars += 200 * CHARS_PER_TOKEN  # audio, files: unknown size, count something
    return "\n".join(parts), chars


def inspect(request: dict[str, Any]) -> Needs:
    """The capabilities, size and scoring text of one (validated) chat request."""
    needs = Needs()
    chars = 0
    last_user = ""
    messages = request.get("messages") or ()
    for message in messages:
        role = message.get("role")
        text, count = _text_of(message.get("content"), needs)
        chars += count
        if role == "user":
            last_user = text
        elif role == "tool" or (role == "assistant" and message.get("tool_calls")):
            needs.tools = True  # a conversation with tool turns needs a model that speaks tools
            calls = message.get("tool_calls")
            if calls:
                chars += len(orjson.dumps(calls))
    tools = request.get("tools") or request.get("functions")
    if tools:
        chars += len(orjson.dumps(tools))
        if request.get("tool_choice") != "none":
            needs.tools = True
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        needs.json_schema = True
        chars += len(orjson.dumps(fmt.get("json_schema")))
    needs.prompt_tokens = chars // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages)
    max_out = request.get("max_completion_tokens") or request.get("max_tokens")
    if isinstance(max_out, int) and not isinstance(max_out, bool) and max_out > 0:
        needs.output_tokens = max_out
    needs.prompt = last_user
    return needs


def pop_route_overrides(request: dict[str, Any]) -> dict[str, Any]:
    """Take the auto-routing keys out of ``request["route"]`` (so they are not sent upstream)
    and validate them; the server has already merged the ``x-unigate-privacy`` header into
    ``route.privacy``."""
    overrides: dict[str, Any] = {}
    route = request.get("route")
    if isinstance(route, dict):
        for key in ROUTE_KEYS & route.keys():
            overrides[key] = route.pop(key)
        if not route:
            del request["route"]
    elif route is not None:
        raise BadRequest("'route' must be an object.", param="route", code="invalid_value")
    for key in ("max_price_per_mtok", "max_latency_ms", "max_ttft_ms", "min_quality"):
        value = overrides.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise BadRequest(
                f"'route.{key}' must be a non-negative number.", param=f"route.{key}", code="invalid_value"
            )
    privacy = overrides.get("privacy")
    if privacy is not None:
        overrides["privacy"] = _privacy(privacy)
    return overrides


def _privacy(value: Any) -> Any:
    if value in ("any", "local-only"):
        return value
    if isinstance(value, dict) and set(value) <= {"providers", "regions"}:
        lists = [value.get("providers"), value.get("regions")]
        if all(v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in lists):
            return value
    raise BadRequest(
        "'route.privacy' must be 'any', 'local-only' or {\"providers\": [...], \"regions\": [...]}.",
        param="route.privacy",
        code="invalid_value",
    )
