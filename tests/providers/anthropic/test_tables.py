"""anthropic: one table per mapping fact, read in both directions by the outbound translators and
the inbound Messages surface; a round trip through both must land where it started."""

from __future__ import annotations

import pytest

from unigate.errors import (
    AuthError,
    BadRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from unigate.providers.anthropic import inbound
from unigate.providers.anthropic.errors import error_from_payload
from unigate.providers.anthropic.response import finish_reason, usage_from_native
from unigate.providers.anthropic.tables import (
    ERROR_TYPE_OF_STATUS,
    ERROR_TYPE_STATUS,
    FINISH_REASON,
    STOP_REASON,
    THINKING_BUDGETS,
    effort_for_budget,
)


@pytest.mark.parametrize("stop", ["end_turn", "max_tokens", "tool_use", "refusal"])
def test_stop_reasons_round_trip(stop):
    assert inbound.stop_reason(finish_reason(stop)) == stop


@pytest.mark.parametrize("finish", sorted(set(FINISH_REASON.values())))
def test_every_canonical_finish_reason_has_a_stop_reason(finish):
    assert FINISH_REASON[STOP_REASON[finish]] == finish


@pytest.mark.parametrize("kind", sorted(k for k in ERROR_TYPE_STATUS if k != "api_error"))
def test_error_types_round_trip(kind):
    error = error_from_payload({"type": "error", "error": {"type": kind, "message": "m"}})
    status, payload = inbound.error_payload(error)
    assert ERROR_TYPE_OF_STATUS[ERROR_TYPE_STATUS[kind]] == kind
    # an upstream Anthropic error reaches an Anthropic client as the same type, except a
    # rejected upstream key (401/403: the client's own key was fine, so it is the gateway's 502)
    if ERROR_TYPE_STATUS[kind] < 500 and kind not in ("authentication_error", "permission_error"):
        assert payload["error"]["type"] == kind, (kind, status)
    if kind in ("authentication_error", "permission_error"):
        assert status == 502


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (PayloadTooLarge("x"), "request_too_large"),
        (AuthError("x"), "authentication_error"),
        (PermissionDenied("x"), "permission_error"),
        (NotFound("x"), "not_found_error"),
        (RateLimited("x"), "rate_limit_error"),
        (UpstreamTimeout("x"), "timeout_error"),
        (BadRequest("x"), "invalid_request_error"),
        (UpstreamServerError("x"), "api_error"),
    ],
)
def test_gateway_errors_become_anthropic_error_types(error, kind):
    assert inbound.error_payload(error)[1]["error"]["type"] == kind


@pytest.mark.parametrize("effort", ["low", "medium"])
def test_thinking_budgets_round_trip(effort):
    assert effort_for_budget(THINKING_BUDGETS[effort]) == effort


def test_budgets_above_the_high_budget_read_as_high():
    # inbound, "high" is anything above the high budget (a budget of exactly 4096 reads as medium)
    assert effort_for_budget(THINKING_BUDGETS["high"] + 1) == "high"
    assert effort_for_budget(THINKING_BUDGETS["max"]) == "high"


def test_cache_writes_split_by_lifetime_round_trip():
    native = {
        "input_tokens": 10,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 50,
        "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 30},
        "output_tokens": 7,
    }
    usage = usage_from_native(native)
    details = usage["prompt_tokens_details"]
    assert usage["prompt_tokens"] == 160
    assert details == {
        "cached_tokens": 100,
        "cache_creation_tokens": 50,
        "cache_creation_5m_tokens": 20,
        "cache_creation_1h_tokens": 30,
    }
    assert inbound.usage_to_anthropic(usage) == native
