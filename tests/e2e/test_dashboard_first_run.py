"""The dashboard as a first-time user meets it: a zero-config gateway (no master key) opens
straight into the overview, and the charts tell the truth — an error-free range is drawn as 0%
(not "no traffic"), tick labels are distinct, and no label is cut off at a chart's edge.
"""

from __future__ import annotations

import os

import openai
import pytest

from tests.conftest import openai_model
from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS
from tests.support.fake_upstream import Mode

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
)

# Every <text> of every chart: is it inside its SVG's drawing area?
CLIPPED_LABELS = """() => {
  const out = [];
  for (const svg of document.querySelectorAll("svg")) {
    const box = svg.getBoundingClientRect();  // an SVG clips what falls outside it
    for (const t of svg.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();  // after transforms (rotated axis titles too)
      if (r.left < box.left - 0.5 || r.top < box.top - 0.5 || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5)
        out.push(`${svg.closest("[id]") ? svg.closest("[id]").id : "svg"}: "${t.textContent}" at ${r.left.toFixed(0)}..${r.right.toFixed(0)} of ${box.left.toFixed(0)}..${box.right.toFixed(0)}`);
    }
  }
  return out;
}"""


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def test_zero_config_dashboard_opens_without_a_key_and_draws_an_error_free_range(start_gateway, make_upstream, browser):
    upstream = make_upstream(Mode(chunks=3))
    gateway = start_gateway({"discover_providers": False, "models": [openai_model("cloud", upstream.base_url)]})
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    for i in range(5):
        client.chat.completions.create(model="cloud", messages=[{"role": "user", "content": f"hi {i}"}])

    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.goto(gateway.url + "/ui")
    expect = sync_api.expect
    expect(page.locator("#who")).to_have_text("admin (no auth)")  # no sign-in form on the way
    expect(page.locator("#stat-requests")).to_have_text("5")
    errors = page.locator("#chart-errors")
    expect(errors.locator("svg path.series")).to_be_attached()
    assert errors.get_attribute("data-has-data") == "1"
    assert errors.locator("text.empty").count() == 0, "an error-free range is 0%, not 'no traffic'"
    ticks = [t for t in errors.locator("text.tick").all_text_contents() if t.endswith("%")]
    assert len(ticks) == 5 and len(set(ticks)) == 5, ticks
    assert page.evaluate(CLIPPED_LABELS) == []
