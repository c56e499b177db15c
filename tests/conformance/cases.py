"""Every interaction of every recording, as a conformance case."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from tests.conformance.unsupported import unsupported_reason
from tests.conformance.wire import WIRES, Target, request_body, wire_of
from tests.support.paths import RECORDINGS


@dataclass
class Case:
    provider: str  # the recordings folder
    file: str
    index: int
    interaction: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.file.removesuffix('.yaml')}#{self.index}"

    @property
    def uri(self) -> str:
        return str(self.interaction["request"]["uri"])

    @property
    def method(self) -> str:
        return str(self.interaction["request"].get("method", "POST"))

    @property
    def wire(self) -> str | None:
        return wire_of(self.method, self.uri)

    @property
    def unsupported(self) -> str | None:
        return unsupported_reason(self.provider, self.file, self.index, self.uri, self.method)

    @property
    def body(self) -> dict[str, Any]:
        body = request_body(self.interaction)
        assert isinstance(body, dict), f"{self.id}: request body is not a JSON object"
        return body

    @cached_property
    def target(self) -> Target:
        assert self.wire is not None
        return WIRES[self.wire].reverse(self.body, self.uri, self.provider)


def load_cases(root: Path = RECORDINGS) -> list[Case]:
    cases = []
    for path in sorted(root.glob("*/*.yaml")):
        with path.open(encoding="utf-8") as fh:
            interactions = yaml.safe_load(fh)["interactions"]
        for index, interaction in enumerate(interactions):
            cases.append(Case(path.parent.name, path.name, index, interaction))
    return cases
