"""Self-service in real headless Chromium (Debian's ``chromium``), driven by Playwright.

A person signs up, confirms the address from the mail the local SMTP server received, signs in,
creates a key (the secret shown once), calls a model with it through the official ``openai``
SDK, tops up through the (fake, loopback) Stripe Checkout with a webhook signed as Stripe signs,
and sees the request and the payment in the portal. A second person sees none of it. A third
signs in through the local OpenID provider (authorization code + PKCE) and lands in the team
its groups map to. Screenshots go to tmp_path and ``test-artifacts/portal/``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.fake_stripe import FakeStripe, sign
from tests.support.fake_upstream import Mode
from tests.support.gateway_process import GatewayProcess, free_port
from tests.support.mailbox import Mailbox
from tests.support.oidc import OidcProvider
from tests.support.portal import MASTER, PASSWORD, admin, portal_config

CHROMIUM = os.environ.get("UNIGATE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
)
expect = sync_api.expect


@pytest.fixture
def portal(start_gateway, make_upstream):
    upstream = make_upstream(Mode(prompt_tokens=30, completion_tokens=12))
    mailbox = Mailbox().start()
    stripe = FakeStripe().start()
    try:
        config = portal_config(upstream.base_url, smtp=mailbox.smtp_config, stripe_url=stripe.url, markup=0.25)
        yield start_gateway(config), mailbox, stripe
    finally:
        stripe.stop()
        mailbox.stop()


@pytest.fixture
def sso(tmp_path, make_upstream):
    """A gateway whose single sign-on goes to a local OpenID provider; the provider's group
    'eng' maps to the team 'engineering', 'eng-leads' makes its members team admins."""
    if shutil.which("node") is None:
        pytest.skip("the single sign-on test needs Node.js for the local OpenID provider")
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    oidc = OidcProvider(
        public + "/auth/oidc/callback",
        {"grace": {"email": "grace@sso.example", "name": "Grace", "groups": ["eng", "eng-leads"]}},
        tmp_path / "oidc.log",
    )
    gateway = None
    try:
        oidc.wait()
        config = portal_config(make_upstream().base_url, smtp=None, stripe_url=None)
        config["portal"] |= {
            "public_url": public,
            "oidc": oidc.config(group_teams={"eng": "engineering"}, team_admin_groups=["eng-leads"]),
        }
        gateway = GatewayProcess(config={"local_model": {"enabled": False}, **config}, workdir=tmp_path, port=port)
        gateway.start()
        yield gateway
    finally:
        if gateway is not None:
            gateway.stop()
        oidc.stop()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def new_page(browser, errors: list[str]):
    context = browser.new_context(viewport={"width": 1300, "height": 900})

    def only_loopback(route):  # the provider's login page links a web font: nothing leaves the machine
        host = route.request.url.split("/")[2]
        if host.startswith(("127.0.0.1", "localhost")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    return page


def sign_up(page, gateway, mailbox, email: str, shot=None) -> None:
    page.goto(gateway.url + "/ui")
    expect(page.locator("#account-auth")).to_be_visible()
    page.click("#to-signup")
    page.fill("#signup-email", email)
    page.fill("#signup-password", PASSWORD)
    page.click("#signup-button")
    expect(page.locator("#account-notice")).to_contain_text("confirmation link")
    if shot:
        shot(page, "signed-up")
    page.goto(mailbox.link(email, "confirm"))
    expect(page.locator("#account-notice")).to_contain_text("confirmed")
    page.fill("#account-email", email)
    page.fill("#account-password", PASSWORD)
    page.click("#account-signin-button")
    expect(page.locator("#who")).to_contain_text(email)


def test_portal_end_to_end(portal, browser, tmp_path):
    gateway, mailbox, stripe = portal
    shots: list[Path] = []
    errors: list[str] = []

    def shot(page, name: str) -> None:
        path = tmp_path / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    try:
        _walk(gateway, mailbox, stripe, browser, shot, errors)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy(path, ARTIFACTS / path.name)
    assert errors == []


def _walk(gateway, mailbox, stripe, browser, shot, errors) -> None:
    # -- Ada: sign up, confirm by mail, sign in, create a key ---------------------------------
    ada = new_page(browser, errors)
    sign_up(ada, gateway, mailbox, "ada@example.test", shot)
    expect(ada.locator("#page")).to_have_attribute("data-ready", "mykeys")
    expect(ada.locator("a[data-page=users]")).to_be_hidden()
    expect(ada.locator("a[data-page=overview]")).to_be_hidden()
    ada.fill("#mykey-name", "laptop")
    ada.click("#create-mykey-button")
    secret = ada.inner_text("#new-secret-value")
    assert secret.startswith("sk-ug-")
    expect(ada.locator("#mykeys-table tr[data-name=laptop]")).to_contain_text("active")
    shot(ada, "key-created")
    ada.click("#dismiss-secret")
    ada.reload()
    expect(ada.locator("#mykeys-table tr[data-name=laptop]")).to_be_visible()
    assert secret not in ada.content()  # shown once: not after a reload

    client = openai.OpenAI(base_url=gateway.base_url, api_key=secret, max_retries=0)
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="cloud-mini", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 402  # no credit yet

    # -- top up $10: the provider's hosted page, its signed webhook, back to the portal ------
    ada.click("a[data-page=credits]")
    expect(ada.locator("#wallet-remaining")).to_have_text("$0")
    ada.fill("#topup-amount", "10")
    ada.click("#topup-button")
    ada.wait_for_url(stripe.url + "/**")
    (session_id,) = stripe.sessions
    event = json.dumps(stripe.completed_event(session_id)).encode()
    delivered = httpx.post(
        gateway.url + "/payments/stripe/webhook", content=event, headers={"stripe-signature": sign(event)}
    )
    assert delivered.json() == {"received": True, "credited": True}
    ada.click("#return")
    expect(ada.locator("#wallet-remaining")).to_have_text("$10.0000")
    expect(ada.locator("#credit-table tr[data-kind=payment]")).to_contain_text("10.00 USD")
    expect(ada.locator("#wallet-note")).to_contain_text("25% service markup")
    shot(ada, "credits")

    # -- use the key with the openai SDK; the request shows in "my usage" -----------------
    answer = client.chat.completions.create(model="cloud-mini", messages=[{"role": "user", "content": "hello"}])
    assert answer.choices[0].message.content
    admin(gateway.url, "POST", "/admin/usage/flush")
    ada.click("a[data-page=usage]")
    expect(ada.locator("#usage-requests")).to_have_text("1")
    expect(ada.locator("#usage-by-model tr[data-group=cloud-mini]")).to_contain_text("1")
    expect(ada.locator("#usage-table tbody tr")).to_have_count(1)
    # 30 tokens in at $1/M and 12 out at $4/M, shown with the 25% markup: $0.0000975
    assert ada.inner_text("#usage-spend") == "$0.0000975"
    shot(ada, "usage")
    ada.click("a[data-page=prices]")
    expect(ada.locator("#prices-table tr[data-model=cloud-mini]")).to_contain_text("$1.25")
    ada.click("a[data-page=mykeys]")
    expect(ada.locator("#mykeys-table tr[data-name=laptop]")).to_contain_text("$0.0000975")
    ada_id = ada.evaluate("fetch('/portal/api/me').then(r => r.json()).then(d => d.user.id)")

    # -- Bob: his own account sees none of Ada's keys or usage ----------------------------
    bob = new_page(browser, errors)
    sign_up(bob, gateway, mailbox, "bob@example.test")
    expect(bob.locator("#mykeys")).to_contain_text("No keys yet")
    bob.click("a[data-page=usage]")
    expect(bob.locator("#usage-requests")).to_have_text("0")
    expect(bob.locator("#usage-rows")).to_contain_text("No requests")
    for path in (
        f"/portal/api/keys?user_id={ada_id}",
        f"/portal/api/usage?user_id={ada_id}",
        "/portal/api/usage?scope=all",
    ):
        status = bob.evaluate(f"fetch('{path}').then(r => r.status)")
        assert status in (403, 404), path
    assert "laptop" not in bob.content()
    shot(bob, "other-user")

    # -- the admin (master key) sees users and the audit log ------------------------------
    operator = new_page(browser, errors)
    operator.goto(gateway.url + "/ui")
    operator.fill("#signin-key", MASTER)
    operator.click("#signin-button")
    expect(operator.locator("#who")).to_have_text("admin (master key)")
    operator.click("a[data-page=audit]")
    for action in ("user.register", "auth.login", "key.create", "credit.topup"):
        expect(operator.locator(f"#audit-table tr[data-action='{action}']").first).to_be_visible()
    shot(operator, "audit")
    operator.click("a[data-page=users]")
    expect(operator.locator("#users-table tr")).to_have_count(3)  # header + Ada and Bob


def test_single_sign_on(sso, browser, tmp_path):
    gateway = sso
    team = admin(gateway.url, "POST", "/admin/teams", {"name": "engineering"}).json()["id"]
    errors: list[str] = []
    grace = new_page(browser, errors)
    grace.goto(gateway.url + "/ui")
    expect(grace.locator("#sso-button")).to_be_visible()
    grace.click("#sso-button")
    grace.wait_for_url("http://127.0.0.1:*/interaction/**")  # the provider's own sign-in page
    grace.fill("input[name=login]", "grace")
    grace.fill("input[name=password]", "anything")
    grace.click("button[type=submit]")
    grace.click("button[type=submit]")  # consent: "Continue"
    grace.wait_for_url(gateway.url + "/ui#/mykeys")
    expect(grace.locator("#who")).to_contain_text("grace@sso.example (team admin)")
    expect(grace.locator("a[data-page=team]")).to_be_visible()
    grace.click("a[data-page=team]")
    expect(grace.locator("#team-table")).to_contain_text("grace@sso.example")
    grace.screenshot(path=str(tmp_path / "sso-team.png"), full_page=True)
    users = {u["email"]: u for u in admin(gateway.url, "GET", "/portal/api/users").json()["data"]}
    assert users["grace@sso.example"]["team_id"] == team and users["grace@sso.example"]["sso"] is True
    assert users["grace@sso.example"]["team_role"] == "admin"
    logins = admin(gateway.url, "GET", "/portal/api/audit?action=auth.login").json()["data"]
    assert [entry["detail"] for entry in logins] == [{"method": "oidc"}]
    # a callback whose state this browser did not start is refused (login CSRF through SSO)
    forged = httpx.get(gateway.url + "/auth/oidc/callback?code=stolen&state=forged", follow_redirects=False)
    assert forged.status_code == 303 and "error=" in forged.headers["location"]
    assert all(not c.startswith("unigate_session=") for c in forged.headers.get_list("set-cookie"))
    assert errors == []
