"""Model profiles: the models the routing data has outcomes for, under one canonical name each.

The learned router predicts, per prompt, the chance that each *profile* answers well. A served
model is scored through the profile closest to it (``profile_for``): the config's explicit
``router_profile``, else an alias match on the upstream model name, else none (the candidate
then only takes part through its catalog quality).
"""

from __future__ import annotations

import re

# canonical profile → lower-cased name fragments that identify it (first match wins, so the
# more specific fragments come first)
_ALIASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gpt-4o-mini", ("gpt-4o-mini",)),
    ("gpt-4o", ("gpt-4o", "chatgpt-4o")),
    ("gpt-4-turbo", ("gpt-4-1106", "gpt-4-turbo", "gpt-4-0125")),
    ("gpt-3.5-turbo", ("gpt-3.5-turbo", "gpt-35-turbo")),
    ("claude-3.5-sonnet", ("claude-3-5-sonnet", "claude-3.5-sonnet", "claude-sonnet")),
    ("claude-3-haiku", ("claude-3-haiku", "claude-3-5-haiku", "claude-haiku")),
    ("gemini-1.5-pro", ("gemini-1.5-pro", "gemini-pro")),
    ("gemini-1.5-flash", ("gemini-1.5-flash", "gemini-flash")),
    ("llama-3.3-nemotron-49b", ("nemotron-super-49b",)),
    ("llama-3.1-nemotron-51b", ("nemotron-51b",)),
    ("llama-3.1-70b", ("llama-3-1-70b", "llama-3.1-70b", "llama-3.3-70b", "llama3-70b", "llama-3-70b")),
    ("llama-3.1-8b", ("llama-3-1-8b", "llama-3.1-8b", "llama3-8b", "llama-3-8b", "llama-3.2-3b")),
    ("mixtral-8x7b", ("mixtral-8x7b",)),
    ("mistral-7b", ("mistral-7b",)),
    ("qwen2.5-72b", ("qwen2.5-72b",)),
    ("qwen2.5-7b", ("qwen2.5-7b",)),
    ("gemma-2-9b", ("gemma-2-9b",)),
)

PROFILES: tuple[str, ...] = tuple(name for name, _ in _ALIASES)
_SEP = re.compile(r"[\s_/:]+")


def profile_for(model_name: str) -> str | None:
    """The canonical profile of a model name (dataset column or upstream model id), or None."""
    text = _SEP.sub("-", model_name.lower())
    for name, fragments in _ALIASES:
        if any(f in text for f in fragments):
            return name
    return None
