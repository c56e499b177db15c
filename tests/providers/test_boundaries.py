"""The providers package's boundary, checked on the source (an import-linter-style test).

docs/architecture.md promises that nothing outside ``providers/`` knows a provider's wire format
and that code outside it asks capability flags, never provider names. These tests read every
module's syntax tree and fail on the ways that promise gets broken: importing a provider's
translators or private modules, spelling a provider's wire fields, comparing against a provider id.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from unigate.providers.registry import provider_ids

SRC = Path(__file__).resolve().parents[2] / "src" / "unigate"

# What code outside providers/ may import from it: the seam, the registry, the shell's session and
# SSE reader (the compare tool reads the gateway's own SSE), and the wire translator of an inbound
# surface that speaks a provider's API (the server module only calls it).
ALLOWED_IMPORTS = frozenset(
    {
        "unigate.providers",
        "unigate.providers.base",
        "unigate.providers.registry",
        "unigate.providers.shell",
        "unigate.providers.anthropic.inbound",
        # the canonical shapes of media operations (uploads, replies, stream heads) and their
        # usage readers, shared by the media surfaces and the providers that serve them
        "unigate.providers.media",
        # native pass-through: where each provider's own API lives, its auth, the usage it reports
        "unigate.providers.passthrough",
        # providers' own Batch APIs, which the batch runner drives through this seam only
        "unigate.providers.batch_api",
        # where the bundled local model's file is (router training measures its embeddings)
        "unigate.providers.local.engine",
    }
)

# Field names, headers and endpoints that exist only in one provider's wire format.
WIRE_MARKERS = (
    "anthropic-version", "anthropic-beta", "x-api-key", "x-goog-api-key", "content_block_delta", "message_start",
    "input_json_delta", "thinking_delta", "stop_reason", "cache_creation_input_tokens", "cache_read_input_tokens",
    "generateContent", "usageMetadata", "promptTokenCount", "converse-stream", "inferenceConfig", "toolUseId",
    "cacheReadInputTokens", "billed_units", "tool_plan", "x-amzn-errortype",
)  # fmt: skip

# Packages allowed to name providers: the catalog maps provider ids to price tables by design.
NAMES_ALLOWED_IN = ("providers/", "catalog/")


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(), filename=str(path))


def outside_providers() -> Iterator[tuple[str, ast.Module]]:
    return ((rel, tree) for rel, tree in modules() if not rel.startswith("providers/"))


def imported_modules(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # "from unigate.providers import anthropic" imports a package
                yield node.lineno, f"{node.module}.{alias.name}"


def test_nothing_outside_providers_imports_a_providers_translators():
    found = []
    for rel, tree in outside_providers():
        for line, name in imported_modules(tree):
            if name.startswith("unigate.providers") and name not in ALLOWED_IMPORTS:
                parent = name.rpartition(".")[0]
                if parent in ALLOWED_IMPORTS and parent != "unigate.providers":
                    continue  # a name imported from an allowed module
                found.append(f"{rel}:{line} imports {name}")
    assert not found, "\n".join(found)


def test_no_private_provider_module_is_imported_from_outside_its_package():
    found = []
    for rel, tree in modules():
        package = "unigate." + rel.rpartition("/")[0].replace("/", ".")
        for line, name in imported_modules(tree):
            if not name.startswith("unigate.providers."):
                continue
            parts = name.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:i])
                    if not (package == owner or package.startswith(owner + ".")):
                        found.append(f"{rel}:{line} imports {name}")
                    break
    assert not found, "\n".join(found)


def test_no_provider_wire_format_is_spelled_outside_providers():
    found = []
    for rel, tree in outside_providers():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
                found += [f"{rel}:{node.lineno} {marker!r}" for marker in WIRE_MARKERS if marker in node.value]
    assert not found, "\n".join(found)


def _provider_constants(node: ast.AST, ids: frozenset[str]) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value in ids]


def test_code_outside_providers_asks_capabilities_not_provider_names():
    ids = frozenset(provider_ids())
    found = []
    for rel, tree in modules():
        if rel.startswith(NAMES_ALLOWED_IN):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):  # provider == "anthropic", p in {"anthropic", ...}
                for name in _provider_constants(node, ids):
                    found.append(f"{rel}:{node.lineno} compares with provider {name!r}")
    assert not found, "\n".join(found)


def test_the_checks_can_fail():
    # what the checks look for, in a module written the wrong way
    tree = ast.parse(
        "from unigate.providers.anthropic.request import to_native\n"
        "HEADERS = {'x-api-key': key}\n"
        "native = provider == 'anthropic'\n"
    )
    assert next(name for _, name in imported_modules(tree)) not in ALLOWED_IMPORTS
    assert any(isinstance(n, ast.Constant) and n.value == "x-api-key" for n in ast.walk(tree))
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert _provider_constants(compares[0], frozenset(provider_ids())) == ["anthropic"]
