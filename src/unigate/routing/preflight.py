"""Pre-flight checks: skip a deployment that cannot serve a request instead of failing on it.

What a request needs (tools, images, ``json_schema`` output, a prompt of N tokens) is read once;
what a deployment can do comes from the model's ``capabilities`` in config, else the catalog.
A model the catalog does not know is assumed capable (and its context window unlimited): a
pre-flight check only ever skips on a known "no".

Tokens are estimated as characters / 4 (plus a flat allowance per image): cheap, and close
enough to catch prompts that are clearly too long for a deployment's context window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unigate.types import ChatRequest, Deployment

IMAGE_TOKENS = 800  # rough per-image allowance (OpenAI bills 85–1105 by detail/size)


@dataclass(frozen=True, slots=True)
class Needs:
    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class Capability:
    """``None`` means unknown, which never causes a skip."""

    context_window: int | None = None
    tools: bool | None = None
    vision: bool | None = None
    json_schema: bool | None = None


def _text_chars(content: Any) -> tuple[int, int]:
    if isinstance(content, str):
        return len(content), 0
    chars = images = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "image_url":
                images += 1
            else:
                text = part.get("text")
                if isinstance(text, str):
                    chars += len(text)
    return chars, images


def needs(request: ChatRequest) -> Needs:
    chars = images = 0
    for message in request.get("messages") or ():
        if not isinstance(message, dict):
            continue
        c, i = _text_chars(message.get("content"))
        chars += c
        images += i
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                arguments = (call.get("function") or {}).get("arguments")
                if isinstance(arguments, str):
                    chars += len(arguments)
    tools: list[Any] = [*(request.get("tools") or request.get("functions") or ())]
    if tools:
        chars += sum(len(str(tool)) for tool in tools)
    response_format = request.get("response_format")
    json_schema = isinstance(response_format, dict) and response_format.get("type") == "json_schema"
    return Needs(bool(tools), images > 0, json_schema, chars // 4 + images * IMAGE_TOKENS)


def capability(info: Any, known: bool, overrides: Any = None) -> Capability:
    """From a catalog ``ModelInfo`` (``known``: the catalog has a row for it) and config overrides."""

    def pick(name: str) -> bool | None:
        value = getattr(overrides, name, None) if overrides is not None else None
        if value is not None:
            return bool(value)
        return bool(getattr(info, name)) if known else None

    window = getattr(overrides, "context_window", None) if overrides is not None else None
    if window is None:
        window = getattr(info, "context_window", None)
    return Capability(window, pick("tools"), pick("vision"), pick("json_schema"))


def check(cap: Capability, need: Needs) -> str | None:
    """Why this deployment cannot serve the request (``None``: it can)."""
    if cap.context_window is not None and need.tokens > cap.context_window:
        return "context_window"
    if need.tools and cap.tools is False:
        return "tools"
    if need.vision and cap.vision is False:
        return "vision"
    if need.json_schema and cap.json_schema is False:
        return "json_schema"
    return None


class Preflight:
    """Caches each deployment's capability; ``reason(deployment, needs)`` is a dict lookup + compare."""

    def __init__(self, catalog: Any = None, overrides: dict[str, Any] | None = None) -> None:
        self.catalog = catalog
        self.overrides = overrides or {}
        self._caps: dict[str, Capability] = {}
        self._known: frozenset[tuple[str, str]] | None = None

    def capability(self, deployment: Deployment) -> Capability:
        cap = self._caps.get(deployment.id)
        if cap is None:
            cap = self._caps[deployment.id] = self._build(deployment)
        return cap

    def _build(self, deployment: Deployment) -> Capability:
        override = self.overrides.get(deployment.public_name)
        if self.catalog is None:
            return capability(None, False, override)
        if self._known is None:
            self._known = frozenset(self.catalog.known_models())
        info = self.catalog.info(deployment.provider, deployment.model)
        return capability(info, (deployment.provider, deployment.model) in self._known, override)

    def reason(self, deployment: Deployment, need: Needs) -> str | None:
        return check(self.capability(deployment), need)
