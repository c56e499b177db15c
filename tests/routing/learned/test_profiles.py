from __future__ import annotations

import pytest

from unigate.routing.learned.profiles import PROFILES, profile_for


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("gpt-4o-2024-05-13", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("Meta-Llama-3_1-70B-Instruct", "llama-3.1-70b"),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "llama-3.1-8b"),
        ("claude-3-5-sonnet-20240620", "claude-3.5-sonnet"),
        ("gpt-4-1106-preview", "gpt-4-turbo"),
        ("Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
        ("llama-3.3-nemotron-super-49b-v1", "llama-3.3-nemotron-49b"),
        ("smollm2-135m", None),
        ("claude-2", None),
    ],
)
def test_profile_for(name: str, profile: str | None) -> None:
    assert profile_for(name) == profile
    assert profile is None or profile in PROFILES
