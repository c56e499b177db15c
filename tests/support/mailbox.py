"""A local SMTP server (aiosmtpd) that keeps every message it receives, for the sign-up tests."""

from __future__ import annotations

import email
import re
import threading
import time
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.gateway_process import free_port


class _Keep:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        with self.box.lock:
            self.box.messages.append(message)
        return "250 Message accepted for delivery"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def smtp_config(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "sender": "gateway@unigate.test"}

    def wait_for(self, to: str, subject_contains: str, timeout: float = 15.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if message["To"] == to and subject_contains.lower() in str(message["Subject"]).lower():
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} about {subject_contains!r}; got {[m['Subject'] for m in self.messages]}")

    def link(self, to: str, subject_contains: str) -> str:
        body = self.wait_for(to, subject_contains).get_payload(decode=True)
        assert isinstance(body, bytes)
        found = re.search(r"https?://\S+", body.decode())
        assert found, body
        return found.group(0)
