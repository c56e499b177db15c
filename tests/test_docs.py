"""Every config snippet in README.md and docs/ is a test input: a reader who copies one gets a
config that loads. Snippets are the ```yaml blocks; secrets in them stay ``env:NAME`` references
(checked for structure, as ``unigate check-config --no-env`` does)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from unigate.config import ConfigError, validate

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def snippets() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{path.relative_to(REPO)}:{line}", match.group(1)))
    return found


def test_the_docs_have_config_snippets():
    assert len(snippets()) >= 5


@pytest.mark.parametrize(("where", "text"), snippets(), ids=[where for where, _ in snippets()])
def test_config_snippet_loads(where, text):
    try:
        validate(yaml.safe_load(text), source=where, text=text, require_env=False)
    except ConfigError as exc:
        pytest.fail(f"{where}: the documented config does not load:\n{exc}")


def test_a_broken_snippet_would_be_caught():
    text = "models:\n  - name: a\n    deployments:\n      - {provider: openai, model: x, model_path: y}\n"
    with pytest.raises(ConfigError, match=r"model_path \(line 4\): unknown field"):
        validate(yaml.safe_load(text), source="doc", text=text, require_env=False)
