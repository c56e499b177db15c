"""The payment seam: a provider creates a hosted checkout and turns its signed webhook into a
:class:`PaidCheckout`. Stripe Checkout is the first implementation (``stripe.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from unigate.config import PaymentsConfig


class WebhookRejected(Exception):
    """The webhook's signature, timestamp or body is not acceptable (answered with 400)."""


@dataclass(frozen=True, slots=True)
class Checkout:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class PaidCheckout:
    event_id: str  # the provider's event id: crediting is idempotent on it
    checkout_id: str
    user_id: str
    amount_cents: int
    currency: str


class PaymentProvider(Protocol):
    name: str

    async def create_checkout(
        self, *, user_id: str, email: str, amount_cents: int, success_url: str, cancel_url: str
    ) -> Checkout: ...

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaidCheckout | None:
        """The completed payment the event reports, None for events that credit nothing;
        raises :class:`WebhookRejected` for a bad signature or body."""
        ...

    async def aclose(self) -> None: ...


def payment_provider(config: PaymentsConfig) -> PaymentProvider:
    from unigate.accounts.payments.stripe import StripeCheckout

    return StripeCheckout(config)
