"""The compare report's quality/cost chart in real Chromium: its legend makes room for every
model name (long ones, many of them) instead of clipping them at the SVG's edge."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_dashboard_first_run import CLIPPED_LABELS
from unigate.compare.report import scatter_svg
from unigate.compare.stats import ModelSummary

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
)


def summary(name: str, i: int) -> ModelSummary:
    return ModelSummary(
        model=name,
        requests=10,
        errors=0,
        ttft_p50=None,
        ttft_p95=None,
        latency_p50=100.0,
        latency_p95=200.0,
        tokens_per_second=None,
        cost_total=0.01 * (i + 1),
        cost_per_request=0.001 * (i + 1),
        quality=i / 30,
        scored=10,
        pareto=i % 3 == 0,
    )


def test_legend_of_many_long_model_names_is_not_clipped():
    rows = [summary(f"provider-{i}/a-rather-long-model-name-{i}-instruct", i) for i in range(30)]
    svg = scatter_svg(rows, {r.model: "#2563eb" for r in rows})
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.set_content(f"<html><body>{svg}</body></html>")
        assert page.locator("text.legend").count() == len(rows)
        assert page.evaluate(CLIPPED_LABELS) == []
        browser.close()
