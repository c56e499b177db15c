"""What one process holds for the accounts package: the store, the service (keys, cache), the
request hook and the ledger flusher. Built by the composition root, which gives the Gateway
``runtime.accountant`` as a hook and the server ``runtime.service`` to resolve virtual keys.

On start: connect the database and apply migrations, write any ledger records left by a
previous run (journal or stream), then start the ledger flusher and the reservation refresher.
On shutdown: stop them and flush the ledger.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from unigate.accounts.db import create_engine, upgrade
from unigate.accounts.hook import Accountant
from unigate.accounts.ledger import LedgerFlusher
from unigate.accounts.service import AccountsService
from unigate.accounts.store import Store
from unigate.config import GatewayConfig
from unigate.state import StateBackend
from unigate.state.base import default_consumer  # not via state.redis: that would import the Redis client

if TYPE_CHECKING:
    from unigate.catalog import Catalog
    from unigate.routing.groups import ModelGroups

log = logging.getLogger("unigate.accounts")


class AccountsRuntime:
    def __init__(self, config: GatewayConfig, state: StateBackend, groups: ModelGroups, catalog: Catalog) -> None:
        settings = config.accounts
        self.state = state
        self.store = Store(create_engine(config))
        self.service = AccountsService(settings, state, self.store)
        self.accountant = Accountant(groups.find, catalog, self.service, config.data_dir)
        self.flusher = LedgerFlusher(
            state,
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
            await self.store.aclose()
