"""Stripe Checkout through the official ``stripe`` SDK: a Checkout Session per top-up, and the
``checkout.session.completed`` webhook verified as Stripe signs it
(``Stripe-Signature: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<payload>")``, with a replay tolerance).

``payments.api_base`` points the SDK at another base URL (the tests run a fake Stripe on loopback).
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.accounts.payments import Checkout, PaidCheckout, WebhookRejected
from unigate.config import PaymentsConfig

PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


class StripeCheckout:
    name = "stripe"

    def __init__(self, config: PaymentsConfig) -> None:
        self.config = config
        self._client: Any = None
        self._http: Any = None

    def _stripe(self) -> Any:
        if self._client is None:
            import stripe  # heavy: loaded on the first top-up only

            self._http = stripe.AIOHTTPClient()
            self._client = stripe.StripeClient(
                self.config.secret_key,
                base_addresses={"api": self.config.api_base.rstrip("/")},
                http_client=self._http,
                max_network_retries=1,
            )
        return self._client

    async def create_checkout(
        self, *, user_id: str, email: str, amount_cents: int, success_url: str, cancel_url: str
    ) -> Checkout:
        params = {
            "mode": "payment",
            "client_reference_id": user_id,
            "customer_email": email,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"unigate_user_id": user_id},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": self.config.currency,
                        "unit_amount": amount_cents,
                        "product_data": {"name": "unigate credit"},
                    },
                }
            ],
        }
        session = await self._stripe().v1.checkout.sessions.create_async(params=params)
        return Checkout(id=str(session["id"]), url=str(session["url"]))

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaidCheckout | None:
        from stripe import SignatureVerificationError, WebhookSignature

        try:
            WebhookSignature.verify_header(
                payload, signature, self.config.webhook_secret, int(self.config.webhook_tolerance)
            )
        except (SignatureVerificationError, UnicodeDecodeError) as exc:
            raise WebhookRejected(str(exc).split("\n")[0]) from exc
        try:
            event = orjson.loads(payload)
            kind = event["type"]
            session = event["data"]["object"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise WebhookRejected("the event is not a Stripe event object") from exc
        if kind not in PAID_EVENTS or not isinstance(session, dict) or session.get("payment_status") != "paid":
            return None
        user_id = session.get("client_reference_id") or (session.get("metadata") or {}).get("unigate_user_id")
        amount = session.get("amount_total")
        if not isinstance(user_id, str) or isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise WebhookRejected("the checkout session has no user or amount")
        return PaidCheckout(
            event_id=str(event.get("id")),
            checkout_id=str(session.get("id")),
            user_id=user_id,
            amount_cents=amount,
            currency=str(session.get("currency") or self.config.currency),
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close_async()
