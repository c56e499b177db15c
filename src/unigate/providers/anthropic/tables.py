"""The Anthropic ⇄ canonical mapping facts, one table each, read in both directions.

The outbound translators (``request``, ``response``, ``stream``, ``errors``) read these tables
from Anthropic to canonical; the inbound Messages surface (``inbound``) reads the same tables
the other way, so the two directions cannot drift apart.
"""

from __future__ import annotations

# (Anthropic stop_reason, canonical finish_reason). Reading right to left, the first row of a
# finish_reason is the stop_reason it becomes.
_STOP_REASONS: tuple[tuple[str, str], ...] = (
    ("end_turn", "stop"),
    ("max_tokens", "length"),
    ("tool_use", "tool_calls"),
    ("refusal", "content_filter"),
    ("stop_sequence", "stop"),
    ("pause_turn", "stop"),
    ("model_context_window_exceeded", "length"),
)
FINISH_REASON: dict[str, str] = dict(_STOP_REASONS)  # Anthropic → canonical
STOP_REASON: dict[str, str] = {finish: stop for stop, finish in reversed(_STOP_REASONS)}  # canonical → Anthropic
STOP_REASON["function_call"] = "tool_use"  # the legacy canonical name of a tool call

# Anthropic error ``type`` → the HTTP status it is documented with (in-stream errors carry only
# the type); read backwards, the type an error status is answered with on the inbound surface.
ERROR_TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
    "timeout_error": 504, "overloaded_error": 529,
}  # fmt: skip
ERROR_TYPE_OF_STATUS: dict[int, str] = {
    status: kind for kind, status in ERROR_TYPE_STATUS.items() if kind != "api_error"
}

# Anthropic-only request fields: an OpenAI-format request may carry them to an Anthropic
# upstream unchanged, and the inbound surface keeps them when only Anthropic-capable providers
# serve the model. ``anthropic_beta`` travels as the ``anthropic-beta`` header.
NATIVE_FIELDS: tuple[str, ...] = (
    "thinking",
    "top_k",
    "cache_control",
    "output_config",
    "anthropic_beta",
    "service_tier",
)
# Of those, the ones the outbound translator copies into the body as they are (the others are
# merged: output_config with response_format/effort, anthropic_beta into a header).
BODY_PASSTHROUGH: tuple[str, ...] = ("top_k", "cache_control", "thinking")

# reasoning_effort ⇄ extended-thinking budget_tokens. Outbound: the budget an effort asks for;
# inbound: the effort a client's budget is closest to (the largest effort whose budget it reaches).
THINKING_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
    "max": 16384,
}
# Inbound, a budget up to each bound reads as that effort; above the last, "high".
_EFFORT_BOUNDS: tuple[tuple[int, str], ...] = (
    (THINKING_BUDGETS["low"], "low"),
    (THINKING_BUDGETS["high"], "medium"),
)
MIN_THINKING_BUDGET = 1024


def effort_for_budget(budget: int) -> str:
    """An extended-thinking token budget → the ``reasoning_effort`` it is closest to."""
    for bound, effort in _EFFORT_BOUNDS:
        if budget <= bound:
            return effort
    return "high"


# Usage: Anthropic field → canonical place. prompt_tokens = input + cache reads + cache writes.
CACHE_READ_FIELD = "cache_read_input_tokens"
CACHE_WRITE_FIELD = "cache_creation_input_tokens"
CACHE_WRITE_SPLIT = {
    "ephemeral_5m_input_tokens": "cache_creation_5m_tokens",
    "ephemeral_1h_input_tokens": "cache_creation_1h_tokens",
}
