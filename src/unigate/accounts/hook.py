"""The request hook: rate limits and budget reservation before the call, settlement and the
ledger record after it.

``before`` makes one atomic ``admit`` on the shared state: RPM/TPM windows and concurrency
slots for the key, its team and the model, plus a reservation of the request's worst-case cost
on every spend counter that applies (key credit, key period budget, team credit, team period
budget). ``after`` makes one atomic ``settle``: the actual cost (``ctx.cost``) is charged to
those counters, the reservations and slots are released, the actual tokens go into the TPM
windows and the ledger record is queued — all or nothing.

The worst case is ``reservation.ReservationPolicy``'s: every deployment the request can reach,
its fallbacks (configured and the request's own), ``n`` and the largest possible output.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigate.accounts.backlog import SettleBacklog
from unigate.accounts.ledger import QUEUE, encode, usage_row
from unigate.accounts.models import Account, Limits, iso, to_nano, to_usd
from unigate.accounts.reservation import ReservationPolicy
from unigate.accounts.service import AccountsService, unavailable
from unigate.config import RateLimitsConfig
from unigate.context import RequestContext
from unigate.errors import BudgetExceeded, GatewayError, PermissionDenied, RateLimited
from unigate.state import BalanceCheck, Charge, SemaphoreCheck, WindowAdd, WindowCheck

if TYPE_CHECKING:
    from unigate.catalog import Catalog
    from unigate.routing.groups import ModelGroup

log = logging.getLogger("unigate.accounts")

MINUTE = 60.0
UNBOUNDED = 2**62  # a spend check that always passes (nano-USD)
_ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly"}


@dataclass(slots=True)
class Ticket:
    """What ``before`` holds for one request, released by ``after``."""

    semaphores: list[str] = field(default_factory=list)
    counters: list[str] = field(default_factory=list)
    tpm_windows: list[str] = field(default_factory=list)
    reserved: int = 0
    prompt_estimate_nusd: int = 0


@dataclass(slots=True)
class _Plan:
    windows: list[WindowCheck] = field(default_factory=list)
    window_labels: list[str] = field(default_factory=list)
    semaphores: list[SemaphoreCheck] = field(default_factory=list)
    semaphore_labels: list[str] = field(default_factory=list)
    balances: list[BalanceCheck] = field(default_factory=list)
    balance_owners: list[tuple[Limits, str, float | None]] = field(default_factory=list)


def _unpriced(unpriced: str, model: str) -> PermissionDenied:
    return PermissionDenied(
        f"The model '{unpriced}' has no known price, so a key with a credit or budget cannot use it"
        + (f" (it can serve '{model}')." if unpriced != model else ".")
        + " Set a price for it in the config (models[].pricing).",
        code="model_not_priced",
    )


class Accountant:
    """The RequestHook of the accounts package."""

    def __init__(
        self,
        find_group: Callable[[str], ModelGroup | None],
        catalog: Catalog,
        service: AccountsService,
        data_dir: str | Path,
    ) -> None:
        """``find_group``: any public name → its model group, without remembering dynamic ones
        (``ModelGroups.find``); the reservation policy walks fallback chains with it."""
        self.service = service
        self.state = service.state
        self.settings = service.settings
        self.ttl = self.settings.reservation_ttl
        self.policy = ReservationPolicy(find_group, catalog, self.settings)
        self.backlog = SettleBacklog(Path(data_dir) / "journal")
        self._active: dict[str, Ticket] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._replayer: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._refresher = asyncio.ensure_future(self._refresh_loop())
        self._replayer = asyncio.ensure_future(self._replay_loop())

    async def stop(self) -> None:
        for task in (self._refresher, self._replayer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresher = self._replayer = None
        with contextlib.suppress(Exception):
            await self.backlog.replay(self.state)
        await self.backlog.aclose()

    async def _replay_loop(self) -> None:
        """Settlements kept while the shared state was away go to it as soon as it answers."""
        await self.backlog.start()
        while True:
            if self.backlog.pending:
                try:
                    await self.backlog.replay(self.state)
                except Exception as exc:
                    log.debug("shared state still unavailable: %s", exc)
            await asyncio.sleep(1.0)

    async def _refresh_loop(self) -> None:
        """Keep the reservations of long requests alive; a dead process stops doing this."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            for holder, ticket in list(self._active.items()):
                if ticket.semaphores or ticket.counters:
                    try:
                        await self.state.refresh(holder, self.ttl, ticket.semaphores, ticket.counters)
                    except Exception:
                        log.exception("could not refresh reservations")

    # -- planning --------------------------------------------------------------------------

    def _rate_limits(self, plan: _Plan, label: str, key: str, limits: Any, prompt_tokens: int) -> None:
        rpm, tpm, concurrency = limits.rpm, limits.tpm, limits.max_concurrency
        if rpm:
            plan.windows.append(WindowCheck(f"rpm:{key}", rpm, MINUTE))
            plan.window_labels.append(f"{label} allows {rpm} requests per minute")
        if tpm:
            # admission checks the tokens already used plus this prompt; the actual tokens are added on settle
            plan.windows.append(WindowCheck(f"tpm:{key}", tpm, MINUTE, amount=min(prompt_tokens, tpm), record=False))
            plan.window_labels.append(f"{label} allows {tpm} tokens per minute")
        if concurrency:
            plan.semaphores.append(SemaphoreCheck(f"conc:{key}", concurrency))
            plan.semaphore_labels.append(f"{label} allows {concurrency} concurrent requests")

    def _spend_limits(self, plan: _Plan, limits: Limits, amount: int, now: float) -> None:
        if limits.credit_nusd is not None:
            plan.balances.append(BalanceCheck(limits.credit_counter(), limits.credit_nusd, amount))
            plan.balance_owners.append((limits, "credit", None))
        if limits.budget_nusd is not None and limits.budget_period is not None:
            name, _, end = limits.budget_counter(now)
            plan.balances.append(BalanceCheck(name, limits.budget_nusd, amount))
            plan.balance_owners.append((limits, f"{_ADJECTIVE[limits.budget_period]} budget", end))

    async def admit_unmetered(self, principal: Any, holder: str) -> None:
        """A request that costs nothing upstream (count_tokens, feedback) still counts against
        the key's and its team's requests per minute; refused with 429 past them."""
        account: Account | None = principal.metadata.get("account")
        if account is None:
            return
        plan = _Plan()
        owners = [(f"key '{account.key.name}'", f"key:{account.key.id}", account.key)]
        if account.team is not None:
            owners.append((f"team '{account.team.name}'", f"team:{account.team.id}", account.team))
        for label, key, limits in owners:
            if limits.rpm:
                plan.windows.append(WindowCheck(f"rpm:{key}", limits.rpm, MINUTE))
                plan.window_labels.append(f"{label} allows {limits.rpm} requests per minute")
        if not plan.windows:
            return
        admission = await self.state.admit(holder, self.ttl, plan.windows)
        if not admission.ok:
            raise self._refusal(admission.kind, admission.index or 0, admission, plan, 0)

    # -- the hook --------------------------------------------------------------------------

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        account: Account | None = ctx.principal.metadata.get("account")
        if ctx.extras.get("prepaid"):
            await self._admit_prepaid(ctx, account)
            return
        model_limits: RateLimitsConfig | None = self.settings.model_limits.get(ctx.model)
        if (account is None or not account.limits_anything) and model_limits is None:
            ctx.extras["accounts"] = Ticket()
            return
        # counting tokens costs nothing: rate limits apply, no spend is reserved
        spending = account is not None and account.limits_spend and ctx.endpoint != "count_tokens"
        reservation = self.policy.reserve(request, ctx.model, ctx.endpoint) if spending else None
        prompt_tokens = reservation.prompt_tokens if reservation is not None else self.policy.prompt_tokens(request)
        plan = _Plan()
        if account is not None:
            self._rate_limits(plan, f"key '{account.key.name}'", f"key:{account.key.id}", account.key, prompt_tokens)
            if account.team is not None:
                team = account.team
                self._rate_limits(plan, f"team '{team.name}'", f"team:{team.id}", team, prompt_tokens)
        if model_limits is not None:
            self._rate_limits(plan, f"model '{ctx.model}'", f"model:{ctx.model}", model_limits, prompt_tokens)
        ticket = Ticket()
        if reservation is not None and account is not None:
            unpriced = reservation.exposure.unpriced
            if unpriced is not None:
                raise _unpriced(unpriced, ctx.model)
            ticket.reserved = reservation.nusd
            ticket.prompt_estimate_nusd = reservation.prompt_nusd
            now = time.time()
            self._spend_limits(plan, account.key, ticket.reserved, now)
            if account.team is not None:
                self._spend_limits(plan, account.team, ticket.reserved, now)
            if account.user is not None:
                self._spend_limits(plan, account.user, ticket.reserved, now)
        holder = ctx.request_id
        admission = await self._admit_plan(holder, plan)
        if not admission.ok:
            raise self._refusal(admission.kind, admission.index or 0, admission, plan, ticket.reserved)
        ticket.semaphores = [s.key for s in plan.semaphores]
        ticket.counters = [b.key for b in plan.balances]
        ticket.tpm_windows = [w.key for w in plan.windows if not w.record]
        ctx.extras["accounts"] = ticket
        if ticket.semaphores or ticket.counters:
            self._active[holder] = ticket

    async def _admit_plan(self, holder: str, plan: _Plan) -> Any:
        try:
            if self.backlog.pending:  # charges made while the state was away come first
                await self.backlog.replay(self.state)
            for _ in range(3):
                admission = await self.state.admit(holder, self.ttl, plan.windows, plan.semaphores, plan.balances)
                if admission.kind != "missing":
                    break
                for index in admission.missing:
                    await self.service.seed(plan.balance_owners[index][0], plan.balances[index].key)
        except GatewayError:
            raise
        except Exception as exc:
            raise unavailable("the shared state", exc) from exc
        return admission

    async def check_room(
        self, principal: Any, request: dict[str, Any], model: str, endpoint: str, share: float = 1.0
    ) -> None:
        """Refuse, as ``before`` would (402, 403), when the caller's credit or budget has no room
        for one request like ``request`` at ``share`` of its worst-case price — without holding
        anything or recording a request. A batch sent to a provider's Batch API is checked so
        when it is created; its lines are then charged as their answers arrive."""
        account: Account | None = principal.metadata.get("account")
        if account is None or not account.limits_spend:
            return
        reservation = self.policy.reserve(request, model, endpoint)
        if reservation.exposure.unpriced is not None:
            raise _unpriced(reservation.exposure.unpriced, model)
        amount = math.ceil(reservation.nusd * share)
        plan = _Plan()
        now = time.time()
        for owner in (account.key, account.team, account.user):
            if owner is not None:
                self._spend_limits(plan, owner, amount, now)
        holder = "check:" + secrets.token_hex(8)
        admission = await self._admit_plan(holder, plan)
        if admission.ok:  # release at once: nothing is held
            await self.state.settle(holder, charges=[Charge(b.key, 0) for b in plan.balances])
            return
        raise self._refusal(admission.kind, admission.index or 0, admission, plan, amount)

    async def _admit_prepaid(self, ctx: RequestContext, account: Account | None) -> None:
        """A request whose work the upstream has already done (a line of a batch the provider
        ran in its own Batch API): nothing can be refused any more — no rate limit, no spend
        check — but ``after`` charges its cost to every spend counter, as for any request."""
        ticket = Ticket()
        ctx.extras["accounts"] = ticket
        if account is None or not account.limits_spend:
            return
        plan = _Plan()
        now = time.time()
        for owner in (account.key, account.team, account.user):
            if owner is not None:
                self._spend_limits(plan, owner, 0, now)
        plan.balances = [BalanceCheck(b.key, UNBOUNDED, 0) for b in plan.balances]
        admission = await self._admit_plan(ctx.request_id, plan)
        if admission.ok:
            ticket.counters = [b.key for b in plan.balances]

    def _refusal(self, kind: str | None, index: int, admission: Any, plan: _Plan, reserved: int) -> Exception:
        if kind in ("window", "semaphore"):
            label = plan.window_labels[index] if kind == "window" else plan.semaphore_labels[index]
            retry = admission.retry_after or 0.0
            return RateLimited(
                f"Rate limit reached: {label}. Retry in {retry:.1f} s.",
                retry_after=math.ceil(retry),
                headers={"x-ratelimit-reset": f"{retry:.3f}s"},
            )
        if kind == "balance":
            owner, what, resets = plan.balance_owners[index]
            left = max(0, admission.available or 0)
            message = (
                f"Budget exceeded: the {what} of {owner.kind} '{owner.name}' has ${to_usd(left):.6f} left and this "
                f"request may cost up to ${to_usd(reserved):.6f}."
            )
            if resets is not None:
                message += f" It resets at {iso(resets)}."
                return BudgetExceeded(message, param=owner.kind, retry_after=max(0.0, resets - time.time()))
            return BudgetExceeded(
                message + " Top up the credit to continue.", code="insufficient_credit", param=owner.kind
            )
        return RuntimeError(f"unexpected admission result {kind!r}")

    async def after(self, ctx: RequestContext) -> None:
        ticket: Ticket | None = ctx.extras.pop("accounts", None)
        if ticket is None:
            return
        holder = ctx.request_id
        self._active.pop(holder, None)
        try:
            if ctx.cost is not None:
                cost = to_nano(ctx.cost)
                if ctx.extras.get("usage_estimated") and ticket.reserved:
                    cost = min(cost, ticket.reserved)  # a count is an estimate; the reservation is a bound
            elif ctx.usage is None and ctx.status == "cancelled" and ctx.trace.deployment is not None:
                cost = ticket.prompt_estimate_nusd  # hung up before usage arrived: the prompt was paid for
            else:
                cost = 0
            usage = ctx.usage or {}
            tokens = int(usage.get("total_tokens") or 0) or int(usage.get("prompt_tokens") or 0) + int(
                usage.get("completion_tokens") or 0
            )
            charges = [Charge(key, cost) for key in ticket.counters]
            windows = [WindowAdd(key, MINUTE, tokens) for key in ticket.tpm_windows]
            record = (QUEUE, encode(usage_row(ctx, cost)))
        except Exception:
            log.exception("could not price request %s", ctx.request_id)
            return
        try:
            if self.backlog.pending:
                raise ConnectionError("earlier settlements are still waiting")  # keep their order
            await self.state.settle(
                holder, semaphores=ticket.semaphores, charges=charges, windows=windows, record=record
            )
        except Exception as exc:
            log.warning("shared state unavailable (%s); settlement of %s kept locally", exc, ctx.request_id)
            try:
                await self.backlog.keep(holder, ticket.semaphores, charges, windows, record)
            except Exception:
                log.exception("could not keep the settlement of request %s", ctx.request_id)
