"""Outgoing mail (verification and password-reset links) through the configured SMTP server.

The standard library's ``smtplib`` speaks SMTP; it runs in a worker thread so a slow mail server
never stalls the event loop. Without ``portal.smtp`` nothing is sent (and users are not asked to
verify their address).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage

from unigate.config import SmtpConfig

log = logging.getLogger("unigate.portal")


class Mailer:
    def __init__(self, config: SmtpConfig | None) -> None:
        self.config = config

    @property
    def enabled(self) -> bool:
        return self.config is not None

    async def send(self, to: str, subject: str, text: str) -> None:
        if self.config is None:
            return
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        config = self.config
        assert config is not None
        if config.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            if config.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.username and config.password:
                client.login(config.username, config.password)
            client.send_message(message)
        log.info("mail sent: %s", message["Subject"])
