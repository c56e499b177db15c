"""The one list of recorded traffic the conformance suite does not replay, each with its reason.

Two kinds of entries:

- ``FOREIGN_APIS``: rules on the recorded request itself. Cassettes of chat tests also hold calls
  to APIs that are not chat calls the gateway makes (the OpenAI Responses API, token counting, the
  recording client downloading an image). They are recognised by endpoint, so a new recording
  with such a call needs no entry here.
- ``RECORDINGS``: whole recordings (``provider/file``) or single interactions
  (``provider/file#index``) that exercise provider features the gateway deliberately does not
  translate.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

FOREIGN_APIS: list[tuple[Callable[[str, str], bool], str]] = [
    (
        lambda method, uri: method != "POST",
        "the recording client fetching a URL itself (e.g. downloading an image), not provider traffic",
    ),
    (
        lambda method, uri: urlsplit(uri).path.endswith("/responses"),
        "OpenAI Responses API (/v1/responses): replayed through the gateway's Responses surface by "
        "test_responses_recordings.py, not by the chat suite",
    ),
    (
        lambda method, uri: "count_tokens" in uri or "count-tokens" in uri,
        "token counting endpoint (Anthropic count_tokens / Bedrock CountTokens), not a chat call",
    ),
]

RECORDINGS: dict[str, str] = {
    "anthropic/test_anthropic_server_tool_pass_history_to_another_provider.yaml": (
        "Anthropic server-side web_search tool: run by Anthropic, its server_tool_use / "
        "web_search_tool_result blocks have no chat-completions equivalent"
    ),
    "anthropic/test_anthropic_server_tool_receive_history_from_another_provider.yaml": (
        "history holds Anthropic server-side code_execution blocks (server_tool_use / "
        "code_execution_tool_result), which have no chat-completions equivalent"
    ),
    "mistral/test_mistral_model_thinking_part.yaml#1": (
        "assistant history carries a Mistral-native `thinking` content chunk; OpenAI chat content has no "
        "such part type (the gateway accepts reasoning as `reasoning_content`, which Mistral does not read)"
    ),
    "openrouter/test_openrouter_with_native_options.yaml": (
        "`models` (OpenRouter's own fallback list) is the gateway's fallback field: the gateway consumes it "
        "to fall back across its own public models and never forwards it"
    ),
    "openrouter/test_openrouter_stream_with_native_options.yaml": (
        "`models` (OpenRouter's own fallback list) is the gateway's fallback field: consumed, not forwarded"
    ),
}


def unsupported_reason(provider: str, file: str, index: int, uri: str, method: str = "POST") -> str | None:
    """Why this interaction is not replayed, or ``None`` if it must pass."""
    for key in (f"{provider}/{file}", f"{provider}/{file}#{index}"):
        if key in RECORDINGS:
            return RECORDINGS[key]
    for matches, reason in FOREIGN_APIS:
        if matches(method, uri):
            return reason
    return None
