"""The self-service surface against a real gateway process: sign-up with email verification
from a local SMTP server, sign-in, keys, usage from the ledger, credit top-ups through a fake
Stripe and its signed webhook, the audit log — and the attacks: CSRF, session fixation, brute
force, privilege escalation across roles and teams, bad input."""

from __future__ import annotations

import json
import time

import openai
import pytest

from tests.support.fake_stripe import FakeStripe, sign
from tests.support.fake_upstream import Mode
from tests.support.mailbox import Mailbox
from tests.support.portal import PASSWORD, Browser, admin, portal_config


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def stripe():
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def browsers():
    made: list[Browser] = []

    def make(url: str) -> Browser:
        made.append(Browser(url))
        return made[-1]

    yield make
    for browser in made:
        browser.close()


@pytest.fixture
def gateway(start_gateway, make_upstream, mailbox, stripe):
    upstream = make_upstream(Mode(prompt_tokens=30, completion_tokens=12))
    return start_gateway(portal_config(upstream.base_url, smtp=mailbox.smtp_config, stripe_url=stripe.url, markup=0.25))


def sign_up(gateway, browsers, mailbox, email: str) -> Browser:
    browser = browsers(gateway.url)
    reply = browser.post("/auth/register", {"email": email, "password": PASSWORD})
    assert reply.status_code == 201, reply.text
    assert reply.json()["verification_required"] is True
    link = mailbox.link(email, "confirm")
    verified = browser.get(link.removeprefix(gateway.url))
    assert verified.status_code == 303 and verified.headers["location"].endswith("verified=1")
    assert browser.login(email).status_code == 200
    return browser


def test_sign_up_key_usage_and_top_up(gateway, browsers, mailbox, stripe):
    browser = browsers(gateway.url)
    email = "ada@example.test"
    created = browser.post("/auth/register", {"email": email, "password": PASSWORD, "name": "Ada"})
    assert created.status_code == 201, created.text
    # unverified: no sign-in yet
    refused = browser.login(email)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "email_not_verified"
    link = mailbox.link(email, "confirm")
    assert browser.get(link.removeprefix(gateway.url)).headers["location"].endswith("verified=1")
    # the link works once
    assert browser.get(link.removeprefix(gateway.url)).headers["location"].endswith("verified=0")
    assert browser.login(email).status_code == 200
    me = browser.get("/portal/api/me").json()
    assert me["user"]["email"] == email and me["role"] == "member"
    assert me["wallet"]["credit"]["remaining"] == 0

    key = browser.post("/portal/api/keys", {"name": "laptop"})
    assert key.status_code == 201, key.text
    secret = key.json()["key"]
    assert secret.startswith("sk-ug-")
    listed = browser.get("/portal/api/keys").json()["data"]
    assert [k["name"] for k in listed] == ["laptop"] and "key" not in listed[0]

    client = openai.OpenAI(base_url=gateway.base_url, api_key=secret, max_retries=0)
    with pytest.raises(openai.APIStatusError) as no_credit:
        client.chat.completions.create(model="cloud-mini", messages=[{"role": "user", "content": "hi"}])
    assert no_credit.value.status_code == 402

    # top up $10 through the fake Stripe: checkout, then the signed webhook
    checkout = browser.post("/portal/api/checkout", {"amount": 10})
    assert checkout.status_code == 201, checkout.text
    session_id = checkout.json()["id"]
    assert checkout.json()["url"].startswith(stripe.url)
    sent = stripe.requests[-1]
    assert sent["auth"] == "Bearer sk_test_unigate_fake"
    assert sent["form"]["line_items[0][price_data][unit_amount]"] == "1000"
    assert sent["form"]["client_reference_id"] == me["user"]["id"]

    event = json.dumps(stripe.completed_event(session_id)).encode()
    unsigned = browser.http.post("/payments/stripe/webhook", content=event)
    assert unsigned.status_code == 400
    forged = browser.http.post(
        "/payments/stripe/webhook", content=event, headers={"stripe-signature": sign(event, "whsec_wrong")}
    )
    assert forged.status_code == 400
    stale = browser.http.post(
        "/payments/stripe/webhook",
        content=event,
        headers={"stripe-signature": sign(event, timestamp=int(time.time()) - 3600)},
    )
    assert stale.status_code == 400
    paid = browser.http.post("/payments/stripe/webhook", content=event, headers={"stripe-signature": sign(event)})
    assert paid.status_code == 200 and paid.json()["credited"] is True
    again = browser.http.post("/payments/stripe/webhook", content=event, headers={"stripe-signature": sign(event)})
    assert again.status_code == 200 and again.json()["credited"] is False
    # the same checkout reported again under a new event id is not credited twice either
    other = json.dumps(stripe.completed_event(session_id)).encode()
    replay = browser.http.post("/payments/stripe/webhook", content=other, headers={"stripe-signature": sign(other)})
    assert replay.json()["credited"] is False

    credits = browser.get("/portal/api/credits").json()
    assert credits["wallet"]["credit"]["total"] == pytest.approx(10.0)  # shown with the 25% markup
    assert [(h["kind"], h["paid"]) for h in credits["history"]] == [("payment", 10.0)]

    answer = client.chat.completions.create(model="cloud-mini", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    admin(gateway.url, "POST", "/admin/usage/flush")
    usage = browser.get("/portal/api/usage?group_by=model").json()
    assert usage["data"][0]["group"] == "cloud-mini" and usage["data"][0]["requests"] == 1
    provider_cost = (30 * 1.0 + 12 * 4.0) / 1e6
    assert usage["total"]["cost"] == pytest.approx(provider_cost * 1.25)
    rows = browser.get("/portal/api/usage").json()["data"]
    assert len(rows) == 1 and "deployment" not in rows[0]
    models = browser.get("/portal/api/models").json()
    prices = {m["id"]: m["pricing"] for m in models["data"]}
    assert prices["cloud-mini"] == {"input_per_mtok": 1.25, "output_per_mtok": 5.0}
    wallet = browser.get("/portal/api/credits").json()["wallet"]["credit"]
    assert wallet["remaining"] == pytest.approx(10.0 - provider_cost * 1.25)

    # revoke: the key stops working
    assert browser.send("DELETE", f"/portal/api/keys/{key.json()['id']}").status_code == 200
    time.sleep(0.1)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="cloud-mini", messages=[{"role": "user", "content": "hi"}])

    actions = [e["action"] for e in admin(gateway.url, "GET", "/portal/api/audit").json()["data"]]
    for action in (
        "user.register",
        "user.verify_email",
        "auth.login",
        "key.create",
        "credit.checkout",
        "credit.topup",
        "key.revoke",
    ):
        assert action in actions, action
    assert actions.count("credit.topup") == 1
