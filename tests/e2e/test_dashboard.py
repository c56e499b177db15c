"""The dashboard in real headless Chromium (Debian's ``chromium``), driven by Playwright.

A gateway process with the local model and a fake upstream; the test signs in, checks that the
charts show the traffic it sent, creates / edits / tops up / revokes a key through the Keys page
(and checks each step against the API), streams a prompt to two models in the playground, and
signs in with a virtual key to see only that key's usage. Screenshots go to tmp_path and
``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import openai
import pytest

from tests.conftest import openai_model
from tests.support.fake_upstream import Mode

CHROMIUM = os.environ.get("UNIGATE_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
MASTER = "mk-dashboard-test"
LOCAL = "local/smollm2-135m"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
)


def admin(gateway, path: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        gateway.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


@pytest.fixture
def gateway(start_gateway, make_upstream):
    cloud = make_upstream(Mode(chunks=8, prompt_tokens=30, completion_tokens=12))
    broken = make_upstream(Mode("status", status=503))
    return start_gateway(
        {
            "server": {"master_key": MASTER},
            "local_model": {"enabled": True},
            "models": [
                {
                    **openai_model("cloud-mini", cloud.base_url),
                    "pricing": {"input_per_mtok": 0.5, "output_per_mtok": 2},
                },
                {**openai_model("broken", broken.base_url), "routing": {"retries": 0}},
            ],
        }
    )


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def test_dashboard(gateway, browser, tmp_path):
    shots: list[Path] = []

    def shot(page, name: str) -> None:
        path = tmp_path / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    client = openai.OpenAI(base_url=gateway.base_url, api_key=MASTER, max_retries=0)
    for i in range(6):
        client.chat.completions.create(model="cloud-mini", messages=[{"role": "user", "content": f"hello {i}"}])
    for _ in range(3):
        list(
            client.chat.completions.create(model="cloud-mini", messages=[{"role": "user", "content": "s"}], stream=True)
        )
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="broken", messages=[{"role": "user", "content": "x"}])

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    try:
        _walk(page, gateway, client, shot)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy(path, ARTIFACTS / path.name)
        context.close()
    # the only console errors allowed are the 401s the test provoked on purpose
    assert [e for e in errors if "401" not in e] == []


def _walk(page, gateway, client, shot) -> None:
    expect = sync_api.expect

    # -- sign in ---------------------------------------------------------------------------
    page.goto(gateway.url + "/ui")
    page.fill("#signin-key", "wrong-key")
    page.click("#signin-button")
    expect(page.locator("#signin-error")).to_contain_text("Incorrect API key")
    page.fill("#signin-key", MASTER)
    page.click("#signin-button")
    expect(page.locator("#who")).to_have_text("admin (master key)")

    # -- overview: the charts show the 10 requests ------------------------------------------
    expect(page.locator("#stat-requests")).to_have_text("10")
    expect(page.locator("#stat-errors")).to_have_text("10.0%")
    for chart in ("#chart-rps", "#chart-errors", "#chart-latency", "#chart-ttft"):
        expect(page.locator(f"{chart} svg path.series").first).to_be_attached()
        assert page.get_attribute(chart, "data-has-data") == "1", chart
    assert page.inner_text("#stat-p50") != "—" and page.inner_text("#stat-ttft50") != "—"
    expect(page.locator("#stat-spend")).not_to_have_text("—")
    shot(page, "overview")

    # -- models & deployments -----------------------------------------------------------------
    page.click("a[data-page=models]")
    row = page.locator("#deployments-table tr[data-deployment=cloud-mini]")
    expect(row).to_contain_text("healthy")
    expect(row).to_contain_text("90.0%")  # 9 of 10 requests
    expect(page.locator(f"#deployments-table tr[data-deployment='{LOCAL}']")).to_be_attached()
    expect(page.locator("#chart-share rect.bar-rect")).to_have_count(2)
    shot(page, "models")

    # -- keys: create (secret once), use, edit limits, top up, revoke -------------------------
    page.click("a[data-page=keys]")
    page.fill("#create-key input[name=name]", "browser-key")
    page.fill("#create-key input[name=credit]", "5")
    page.click("#create-key-button")
    secret = page.locator("#new-secret-value").inner_text()
    assert secret.startswith("sk-ug-")
    shot(page, "key-created")
    key_row = page.locator("#keys-table tr[data-name=browser-key]")
    expect(key_row).to_contain_text("$5.0000")
    key_id = key_row.get_attribute("data-key")
    answer = openai.OpenAI(base_url=gateway.base_url, api_key=secret, max_retries=0).chat.completions.create(
        model="cloud-mini", messages=[{"role": "user", "content": "with the new key"}]
    )
    assert answer.choices[0].message.content == "echo: with the new key"

    key_row.locator("button[data-action=edit]").click()
    editor = page.locator(f"#edit-{key_id}")
    editor.locator("input[name=rpm]").fill("120")
    editor.locator("input[name=budget]").fill("3")
    editor.locator("select[name=budget_period]").select_option("day")
    editor.locator("button[data-action=edit-save]").click()
    expect(key_row).to_contain_text("$3.0000 / day")
    page.locator("#keys-table tr[data-name=browser-key] button[data-action=topup]").click()
    editor.locator("input[name=amount]").fill("2.5")
    editor.locator("button[data-action=topup-save]").click()
    expect(key_row).to_contain_text("$7.5000")
    stored = admin(gateway, f"/admin/keys/{key_id}")
    assert stored["rpm"] == 120 and stored["budget"] == 3 and stored["budget_period"] == "day"
    assert stored["credit"] == pytest.approx(7.5)
    shot(page, "key-edited")

    revoke = key_row.locator("button[data-action=revoke]")
    revoke.click()
    expect(revoke).to_have_text("Confirm revoke")
    revoke.click()
    expect(key_row).to_contain_text("revoked")
    assert admin(gateway, f"/admin/keys/{key_id}")["revoked"] is True
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway.base_url, api_key=secret, max_retries=0).chat.completions.create(
            model="cloud-mini", messages=[{"role": "user", "content": "revoked"}]
        )
    shot(page, "key-revoked")

    # -- spend: from the ledger ----------------------------------------------------------------
    admin(gateway, "/admin/usage/flush", "POST")
    page.click("a[data-page=spend]")
    expect(page.locator("#chart-days rect.bar-rect").first).to_be_attached()
    expect(page.locator("#by-model")).to_contain_text("cloud-mini")
    expect(page.locator("#by-key")).to_contain_text("browser-key")
    ledger = admin(gateway, "/admin/usage?group_by=model")
    total = next(r["cost"] for r in ledger["data"] if r["group"] == "cloud-mini")
    assert total == pytest.approx(10 * (30 * 0.5 + 12 * 2) / 1e6)  # 9 as master + 1 with the new key
    shot(page, "spend")

    # -- catalog + cost calculator -------------------------------------------------------------
    page.click("a[data-page=catalog]")
    expect(page.locator(f"#catalog-table tr[data-model='{LOCAL}']")).to_contain_text("local")
    page.fill("#calc-in", "1000000")
    page.fill("#calc-out", "0")
    expect(page.locator("#catalog-table tr[data-model=cloud-mini] td.cost")).to_have_text("$0.5000")
    shot(page, "catalog")

    # -- playground: the local model and the fake upstream side by side, streaming ----------
    page.click("a[data-page=playground]")
    lanes = page.locator("#lanes .lane")
    expect(lanes).to_have_count(2)
    lanes.nth(0).locator("select.pg-model").select_option(LOCAL)
    lanes.nth(1).locator("select.pg-model").select_option("cloud-mini")
    page.fill("#pg-system", "You are terse.")
    page.fill("#pg-prompt", "Name one colour of the sky.")
    page.fill("#pg-max-tokens", "24")
    page.click("#pg-run")
    for index in (0, 1):
        expect(lanes.nth(index)).to_have_attribute("data-state", "done", timeout=180_000)
    for index in (0, 1):
        lane = lanes.nth(index)
        assert lane.locator(".answer").inner_text().strip()
        assert int(lane.get_attribute("data-tokens")) > 0
        assert lane.get_attribute("data-ttft") != ""
        expect(lane.locator(".metrics")).to_contain_text("TTFT")
    assert lanes.nth(1).locator(".answer").inner_text() == "echo: Name one colour of the sky."
    assert float(lanes.nth(1).get_attribute("data-cost")) == pytest.approx((30 * 0.5 + 12 * 2) / 1e6)
    assert float(lanes.nth(0).get_attribute("data-cost")) == 0.0
    shot(page, "playground")

    # -- a virtual key sees its own usage only -------------------------------------------------
    viewer = admin(gateway, "/admin/keys", "POST", {"name": "viewer"})
    openai.OpenAI(base_url=gateway.base_url, api_key=viewer["key"], max_retries=0).chat.completions.create(
        model="cloud-mini", messages=[{"role": "user", "content": "mine"}]
    )
    page.click("#signout")
    page.fill("#signin-key", viewer["key"])
    page.click("#signin-button")
    expect(page.locator("#who")).to_have_text("key viewer")
    expect(page.locator("a[data-page=keys]")).to_be_hidden()
    page.click("a[data-page=overview]")
    expect(page.locator("#stat-requests")).to_have_text("1")
    shot(page, "virtual-key-overview")
