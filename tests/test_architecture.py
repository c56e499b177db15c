"""The layering promises of docs/architecture.md, checked on the source: every import statement
of every module (top-level, inside functions and under TYPE_CHECKING) is read with ``ast``.

- Nothing below ``server/`` knows HTTP: only ``server/``, the composition root and the CLI
  import the server layer (``unigate.server``, ``unigate.composition``) or an ASGI/HTTP server.
- The pipeline's shared types live in ``unigate.context``: the packages the gateway is built
  from (accounts, observability, routing, operations, state, catalog, providers) never import
  ``unigate.gateway``, so there is no import cycle through it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "unigate"

SERVER_LAYER = ("unigate.server", "unigate.composition", "uvicorn", "starlette", "fastapi", "httptools", "h11")
ALLOWED_TO_KNOW_HTTP = ("unigate.server", "unigate.composition", "unigate.cli")
BUILT_INTO_THE_GATEWAY = (
    "unigate.accounts",
    "unigate.observability",
    "unigate.routing",
    "unigate.operations",
    "unigate.state",
    "unigate.catalog",
    "unigate.providers",
    "unigate.context",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def test_the_checks_see_the_tree():
    # the rules below would pass vacuously on an empty or misplaced tree
    assert {"unigate.gateway", "unigate.context", "unigate.server.app", "unigate.accounts.hook"} <= set(MODULES)
    assert "unigate.server.app" in imported(MODULES["unigate.composition"])


@pytest.mark.parametrize("name", [n for n in MODULES if not within(n, ALLOWED_TO_KNOW_HTTP)])
def test_nothing_below_the_server_imports_the_http_layer(name):
    offending = sorted(i for i in imported(MODULES[name]) if within(i, SERVER_LAYER))
    assert not offending, f"{name} imports the HTTP layer: {offending}"


@pytest.mark.parametrize("name", [n for n in MODULES if within(n, BUILT_INTO_THE_GATEWAY)])
def test_the_gateways_parts_do_not_import_the_gateway(name):
    offending = sorted(i for i in imported(MODULES[name]) if within(i, ("unigate.gateway",)))
    assert not offending, f"{name} imports {offending}: shared types belong in unigate.context"
