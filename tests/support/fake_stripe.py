"""A fake Stripe API on loopback speaking Stripe's wire format, for the top-up tests.

``POST /v1/checkout/sessions`` takes Stripe's form encoding (``line_items[0][price_data][unit_amount]``),
checks the secret key, and answers with a Checkout Session object. ``signed_event`` builds the
``checkout.session.completed`` webhook the way Stripe delivers it:
``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(webhook secret, "<t>.<payload>")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_unigate_fake"
WEBHOOK_SECRET = "whsec_unigate_test_secret"


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", "req_" + secrets.token_hex(6))
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                """The hosted checkout page a browser is sent to: a link back to the merchant."""
                session = fake.sessions.get(self.path.rsplit("/", 1)[-1])
                if session is None:
                    self._reply(404, {"error": {"type": "invalid_request_error", "message": "No such checkout"}})
                    return
                page = (
                    f"<!doctype html><title>Checkout</title><h1>Pay {session['amount_total'] / 100:.2f} "
                    f"{session['currency'].upper()}</h1><a id='return' href='{session['success_url']}'>Return</a>"
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                fake.requests.append({"path": self.path, "form": form, "auth": self.headers.get("authorization")})
                if self.headers.get("authorization") != f"Bearer {SECRET_KEY}":
                    self._reply(
                        401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
                    )
                    return
                if self.path != "/v1/checkout/sessions":
                    self._reply(
                        404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}
                    )
                    return
                amount = int(form["line_items[0][price_data][unit_amount]"])
                session_id = "cs_test_" + secrets.token_hex(12)
                session = {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": form.get("mode"),
                    "status": "open",
                    "payment_status": "unpaid",
                    "amount_total": amount * int(form.get("line_items[0][quantity]", "1")),
                    "currency": form["line_items[0][price_data][currency]"],
                    "client_reference_id": form.get("client_reference_id"),
                    "customer_email": form.get("customer_email"),
                    "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                    "success_url": form.get("success_url"),
                    "cancel_url": form.get("cancel_url"),
                    "url": f"{fake.url}/c/pay/{session_id}",
                    "created": int(time.time()),
                    "livemode": False,
                }
                fake.sessions[session_id] = session
                self._reply(200, session)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeStripe:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def completed_event(self, session_id: str, **override: Any) -> dict[str, Any]:
        """The ``checkout.session.completed`` event Stripe sends once the customer has paid."""
        session = {**self.sessions[session_id], "status": "complete", "payment_status": "paid", **override}
        return {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "type": "checkout.session.completed",
            "livemode": False,
            "data": {"object": session},
        }


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for ``payload``, computed as Stripe does."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
