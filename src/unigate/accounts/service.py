"""The accounts service one gateway process holds: store + state + the in-process key cache.

Key lookups are cached per process for ``accounts.key_cache_ttl`` seconds (positive and
negative answers), and dropped at once on every change made through this process; other
replicas learn of changes through a version counter in the shared state, checked at most once
a second, so a revoked key stops working everywhere within about a second.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from functools import partial
from typing import Any

from unigate.accounts.models import Account, Limits, hash_secret, limits_from_row, to_usd
from unigate.accounts.store import Store
from unigate.accounts.users import UserStore
from unigate.config import AccountsConfig
from unigate.context import Principal
from unigate.errors import Overloaded
from unigate.state import StateBackend

log = logging.getLogger("unigate.accounts")


class AccountsUnavailable(Overloaded):
    """The database or the shared state is away: a request whose limits cannot be checked is
    refused (503, retry shortly), never served unchecked."""

    default_code = "accounts_unavailable"


def unavailable(what: str, exc: BaseException) -> AccountsUnavailable:
    log.warning("%s is unavailable: %s: %s", what, type(exc).__name__, exc)
    return AccountsUnavailable(
        f"Keys and budgets cannot be checked right now ({what} is unavailable). Retry shortly.", retry_after=5
    )


VERSION_KEY = "accounts:version"
VERSION_POLL = 1.0
NEGATIVE_CACHE = 10_000


class AccountsService:
    def __init__(self, settings: AccountsConfig, state: StateBackend, store: Store) -> None:
        self.settings = settings
        self.state = state
        self.store = store
        self.users = UserStore(store.engine)
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._loading: dict[str, asyncio.Future[Principal | None]] = {}
        self._has_keys: tuple[bool, float] | None = None
        self._version: bytes | None = None
        self._version_checked = 0.0
        self._version_lock = asyncio.Lock()

    # -- key cache -------------------------------------------------------------------------

    async def principal_for(self, secret: str) -> Principal | None:
        """The key's Principal, or None for an unknown, revoked, disabled or expired key."""
        now = time.monotonic()
        await self._check_version(now)
        digest = hash_secret(secret)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            principal = cached[0]
        else:
            try:
                principal = await self._load_once(digest)
            except Exception as exc:
                # the database is away: a key this process knows keeps its last known answer
                # (no change can be made while it is away); an unknown key must wait
                if cached is None:
                    raise unavailable("the accounts database", exc) from exc
                principal = cached[0]
            if principal is None and len(self._cache) > NEGATIVE_CACHE:
                self._cache.clear()
            self._cache[digest] = (principal, now + self.settings.key_cache_ttl)
        if principal is None:
            return None
        account: Account = principal.metadata["account"]
        if account.expires_at is not None and account.expires_at <= time.time():
            return None
        return principal

    async def _load_once(self, digest: str) -> Principal | None:
        """One database lookup per key at a time: when a cached entry expires under load, every
        request in flight for that key would otherwise query at once (32 connections → 32 queries,
        each on a pool connection and, with SQLite, a driver thread opened and closed for it)."""
        loading = self._loading.get(digest)
        if loading is None:
            loading = self._loading[digest] = asyncio.ensure_future(self._load(digest))
            loading.add_done_callback(partial(self._loaded, digest))
        return await asyncio.shield(loading)  # a cancelled caller leaves the lookup to the others

    def _loaded(self, digest: str, loading: asyncio.Future[Principal | None]) -> None:
        if self._loading.get(digest) is loading:
            del self._loading[digest]
        if not loading.cancelled():
            loading.exception()  # retrieved: each caller that still waits has it raised too

    async def _load(self, digest: str) -> Principal | None:
        row = await self.store.key_by_hash(digest)
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            return None
        return await self._principal_of(row)

    async def principal_by_id(self, key_id: str) -> Principal | None:
        """The Principal of a key by its id (work done later on a key's behalf, e.g. batches);
        None if the key no longer exists or may not be used."""
        row = await self.store.key(key_id)
        if row is None:
            return None
        principal = await self._principal_of(row)
        if principal is None:
            return None
        account: Account = principal.metadata["account"]
        if account.expires_at is not None and account.expires_at <= time.time():
            return None
        return principal

    async def _principal_of(self, row: Any) -> Principal | None:
        if not row.enabled or row.revoked_at is not None:
            return None
        team = None
        allowed = frozenset(row.allowed_models) if row.allowed_models is not None else None
        if row.team_id is not None:
            team_row = await self.store.team(row.team_id)
            if team_row is None or not team_row.enabled:
                return None
            team = limits_from_row("team", team_row)
            team_models = getattr(team_row, "allowed_models", None)
            if team_models is not None:  # the team's allowlist bounds every key in it
                allowed = frozenset(team_models) if allowed is None else allowed & frozenset(team_models)
        user = None
        if getattr(row, "user_id", None) is not None:
            user_row = await self.users.user(row.user_id)
            if user_row is None or user_row.disabled:
                return None
            user = Limits(
                "user",
                user_row.id,
                user_row.email,
                credit_nusd=user_row.credit_nusd,
                budget_nusd=user_row.budget_nusd,
                budget_period=user_row.budget_period,
            )
        account = Account(limits_from_row("key", row), team, allowed, row.expires_at, user)
        return Principal(
            "key",
            key_id=row.id,
            key_name=row.name,
            team_id=row.team_id,
            allowed_models=allowed,
            metadata={"account": account, "owner": row.owner, "tags": row.tags or []},
        )

    async def has_keys(self) -> bool:
        now = time.monotonic()
        await self._check_version(now)
        if self._has_keys is None or self._has_keys[1] <= now:
            try:
                self._has_keys = (await self.store.has_keys(), now + self.settings.key_cache_ttl)
            except Exception as exc:
                if self._has_keys is None:
                    raise unavailable("the accounts database", exc) from exc
        return self._has_keys[0]

    async def changed(self) -> None:
        """Call after any change to keys or teams: this process forgets at once, others within ~1 s."""
        self._cache.clear()
        self._loading.clear()  # a lookup started before the change may read the old row
        self._has_keys = None
        try:
            self._version = str(await self.state.incr(VERSION_KEY)).encode()
        except Exception:
            log.exception("could not announce an accounts change to other replicas")

    async def _check_version(self, now: float) -> None:
        if now - self._version_checked < VERSION_POLL:
            return
        async with self._version_lock:
            if now - self._version_checked < VERSION_POLL:
                return
            self._version_checked = now
            try:
                version = await self.state.get(VERSION_KEY)
            except Exception:
                log.exception("could not read the accounts version")
                return
            if version != self._version:
                if self._version is not None or version is not None:
                    self._cache.clear()
                    self._loading.clear()
                    self._has_keys = None
                self._version = version

    # -- counters --------------------------------------------------------------------------

    async def seed(self, limits: Limits, counter: str) -> None:
        """Load a spend counter into the state from the database (only if it is not there)."""
        now = time.time()
        if counter.startswith("credit:"):
            if limits.kind == "user":  # a user's spend is their keys' spend in the ledger
                spent = await self.users.spent(limits.id)
            else:
                row = await (self.store.key(limits.id) if limits.kind == "key" else self.store.team(limits.id))
                spent = int(row.spent_nusd) if row is not None else 0
            await self.state.init_counter(counter, spent)
            return
        start, end = limits.budget_counter(now)[1:]
        if limits.kind == "user":
            spent = await self.users.spent(limits.id, since=start)
        else:
            spent = await self.store.spent_since(limits.kind, limits.id, start)
        await self.state.init_counter(counter, spent, expire=end - now + 86400)

    async def balance(self, limits: Limits) -> dict[str, Any]:
        """Live credit and budget figures (USD) of a key or team."""
        out: dict[str, Any] = {}
        if limits.credit_nusd is not None:
            counter = await self.state.counter(limits.credit_counter())
            if counter is None:
                await self.seed(limits, limits.credit_counter())
                counter = await self.state.counter(limits.credit_counter())
            spent, reserved = (counter.spent, counter.reserved) if counter is not None else (0, 0)
            out["credit"] = {
                "total": to_usd(limits.credit_nusd),
                "spent": to_usd(spent),
                "reserved": to_usd(reserved),
                "remaining": to_usd(limits.credit_nusd - spent - reserved),
            }
        if limits.budget_nusd is not None and limits.budget_period is not None:
            name, start, end = limits.budget_counter(time.time())
            counter = await self.state.counter(name)
            if counter is None:
                await self.seed(limits, name)
                counter = await self.state.counter(name)
            spent, reserved = (counter.spent, counter.reserved) if counter is not None else (0, 0)
            from unigate.accounts.models import iso

            out["budget"] = {
                "period": limits.budget_period,
                "limit": to_usd(limits.budget_nusd),
                "spent": to_usd(spent),
                "reserved": to_usd(reserved),
                "remaining": to_usd(limits.budget_nusd - spent - reserved),
                "period_start": iso(start),
                "resets_at": iso(end),
            }
        return out
