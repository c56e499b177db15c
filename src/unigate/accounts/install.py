"""Plug the accounts package into an App: authenticator, request hook, lifecycle.

On start: connect the database and apply migrations, write any ledger records left by a
previous run (journal or stream), then start the ledger flusher and the reservation refresher.
On shutdown: stop them and flush the ledger.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from unigate.accounts.auth import VirtualKeyAuthenticator
from unigate.accounts.db import create_engine, upgrade
from unigate.accounts.hook import Accountant
from unigate.accounts.ledger import LedgerFlusher
from unigate.accounts.service import AccountsService
from unigate.accounts.store import Store
from unigate.server.app import App
from unigate.state import shared_state
from unigate.state.redis import default_consumer

log = logging.getLogger("unigate.accounts")

ATTRIBUTE = "accounts"


class AccountsRuntime:
    """What one process holds for the accounts package (kept on ``app.accounts``)."""

    def __init__(self, app: App) -> None:
        config = app.config
        settings = config.accounts
        self.state = shared_state(app.gateway)
        self.store = Store(create_engine(config))
        self.service = AccountsService(settings, self.state, self.store)
        self.accountant = Accountant(app.gateway, self.service)
        self.flusher = LedgerFlusher(
            self.state,
            self.store,
            default_consumer(),
            settings.ledger_flush_interval,
            settings.ledger_batch_size,
        )

    async def startup(self) -> None:
        await upgrade(self.store.engine)
        try:
            await self.flusher.flush()  # what a previous run settled but did not write
        except Exception:
            # start-up never depends on a flush: the records stay queued for the flusher
            log.exception("could not write the ledger records left by a previous run; retrying in the background")
        self.flusher.start()
        self.accountant.start()

    async def shutdown(self) -> None:
        await self.accountant.stop()
        try:
            await self.flusher.stop()
        finally:
            with contextlib.suppress(Exception):
                await self.state.aclose()
            await self.store.aclose()


def install(app: App) -> None:
    if not app.config.accounts.enabled:
        return
    runtime = AccountsRuntime(app)
    setattr(app, ATTRIBUTE, runtime)
    app.authenticator = VirtualKeyAuthenticator(app.config.server.master_key, runtime.service)
    app.gateway.add_hook(runtime.accountant)
    app.on_startup.append(runtime.startup)
    app.on_shutdown.append(runtime.shutdown)


def runtime_of(app: Any) -> AccountsRuntime | None:
    return getattr(app, ATTRIBUTE, None)
