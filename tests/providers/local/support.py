"""Helpers shared by the local provider tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from unigate.providers.base import ProviderContext
from unigate.providers.local import LocalProvider
from unigate.providers.local.engine import bundled_smollm2_path
from unigate.types import Deployment

PUBLIC = "local/smollm2-135m"


LONG_PROMPT = "Write a long story about a dragon."


def deployment(**options: Any) -> Deployment:
    model = options.pop("model", "smollm2-135m")
    return Deployment(
        id=PUBLIC + "#0", public_name=PUBLIC, provider="local", model=model, options=tuple(options.items())
    )


def request(content: str = "What is the capital of France?", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": PUBLIC, "messages": [{"role": "user", "content": content}]}
    body.update(fields)
    return body


def _close(provider: LocalProvider) -> None:
    for engine in list(provider._engines.values()):
        engine.close()
        engine.join(30)


@pytest.fixture(scope="module")
def provider() -> Iterator[LocalProvider]:
    instance = LocalProvider(ProviderContext(http=None))  # type: ignore[arg-type]  # no HTTP used
    yield instance
    _close(instance)


@pytest.fixture(scope="module")
def reference() -> Any:
    """An independent vocab-only view of the same GGUF: its template and its tokenizer."""
    from llama_cpp import Llama

    return Llama(str(bundled_smollm2_path()), vocab_only=True, verbose=False)


def templated_prompt_tokens(reference: Any, messages: list[dict[str, str]]) -> list[int]:
    import jinja2

    template = reference.metadata["tokenizer.chat_template"]
    text = jinja2.Environment().from_string(template).render(messages=messages, add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\n")  # the GGUF's own template, not a generic fallback
    return list(reference.tokenize(text.encode(), add_bos=False, special=True))
