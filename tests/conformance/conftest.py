"""Per-provider results table of the conformance suite (printed after the run).

A recording counts as *unsupported* when every interaction in it is listed in ``unsupported.py``,
as *passed* when every other interaction passed, and as *failed* otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

_RESULTS: dict[tuple[str, str], list[str]] = defaultdict(list)
_SEEN: set[str] = set()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec is not None else None
        if case is not None and hasattr(case, "provider"):
            item.user_properties.append(("recording", (case.provider, case.file)))
            item.user_properties.append(("unsupported", case.unsupported is not None))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = dict(report.user_properties)
    recording: Any = props.get("recording")
    if recording is None or report.nodeid in _SEEN:
        return
    if report.when == "call" or report.outcome != "passed":
        _SEEN.add(report.nodeid)
        if report.skipped and props.get("unsupported"):
            outcome = "unsupported"
        else:
            outcome = "passed" if report.passed else "failed"
        _RESULTS[recording].append(outcome)


def table() -> list[str]:
    rows: dict[str, dict[str, int]] = defaultdict(lambda: {"recordings": 0, "passed": 0, "failed": 0, "unsupported": 0})
    for (provider, _file), outcomes in sorted(_RESULTS.items()):
        row = rows[provider]
        row["recordings"] += 1
        if all(o == "unsupported" for o in outcomes):
            row["unsupported"] += 1
        elif "failed" in outcomes:
            row["failed"] += 1
        else:
            row["passed"] += 1
    total = {k: sum(r[k] for r in rows.values()) for k in ("recordings", "passed", "failed", "unsupported")}
    lines = [
        "| provider | recordings | passed | failed | unsupported |",
        "|---|---:|---:|---:|---:|",
    ]
    for provider, row in sorted(rows.items()):
        lines.append(f"| {provider} | {row['recordings']} | {row['passed']} | {row['failed']} | {row['unsupported']} |")
    lines.append(
        f"| **total** | {total['recordings']} | {total['passed']} | {total['failed']} | {total['unsupported']} |"
    )
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    terminalreporter.section("conformance: recorded provider traffic")
    for line in table():
        terminalreporter.write_line(line)
