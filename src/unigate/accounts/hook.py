"""The request hook: rate limits and budget reservation before the call, settlement and the
ledger record after it.

``before`` makes one atomic ``admit`` on the shared state: RPM/TPM windows and concurrency
slots for the key, its team and the model, plus a reservation of the request's worst-case cost
on every spend counter that applies (key credit, key period budget, team credit, team period
budget). ``after`` makes one atomic ``settle``: the actual cost (``ctx.cost``) is charged to
those counters, the reservations and slots are released, the actual tokens go into the TPM
windows and the ledger record is queued — all or nothing.

Worst case = estimated prompt tokens × the highest input price among the deployments that
could answer (the model's and its fallbacks') + max output tokens × the highest output price.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from unigate.accounts.ledger import QUEUE, encode, usage_row
from unigate.accounts.models import Account, Limits, iso, reservation_nano, to_nano, to_usd
from unigate.accounts.service import AccountsService
from unigate.config import RateLimitsConfig
from unigate.context import RequestContext
from unigate.errors import BudgetExceeded, PermissionDenied, RateLimited
from unigate.state import BalanceCheck, Charge, SemaphoreCheck, WindowAdd, WindowCheck

if TYPE_CHECKING:
    from unigate.catalog import Catalog
    from unigate.routing.groups import ModelGroup

log = logging.getLogger("unigate.accounts")

MINUTE = 60.0
_ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly"}
IMAGE_TOKENS = 2000  # upper bound per image part (OpenAI high detail ≈ 1.1k, Anthropic ≈ 1.6k)


@dataclass(frozen=True, slots=True)
class WorstPrice:
    input: float | None  # USD per 1M tokens, None when some deployment has no known price
    output: float | None
    max_output: int | None


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


def estimate_prompt_bytes(request: dict[str, Any]) -> int:
    """UTF-8 bytes of everything that becomes prompt tokens (an upper bound on the token count
    for byte-level BPE tokenizers), images at a fixed upper bound."""
    total = 0
    for message in request.get("messages") or ():
        total += 8
        content = message.get("content")
        if isinstance(content, str):
            total += len(content.encode())
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    total += len(str(part.get("text") or "").encode())
                elif part.get("type") in ("image_url", "image", "input_image"):
                    total += IMAGE_TOKENS
                else:
                    total += len(orjson.dumps(part))
        if message.get("tool_calls"):
            total += len(orjson.dumps(message["tool_calls"]))
    if request.get("tools"):
        total += len(orjson.dumps(request["tools"]))
    if request.get("response_format"):
        total += len(orjson.dumps(request["response_format"]))
    embed_input = request.get("input")
    if isinstance(embed_input, str):
        total += len(embed_input.encode())
    elif isinstance(embed_input, list):
        total += sum(len(item.encode()) if isinstance(item, str) else 4 * len(item) for item in embed_input)
    return total


class Accountant:
    """The RequestHook of the accounts package."""

    def __init__(self, groups: Mapping[str, ModelGroup], catalog: Catalog, service: AccountsService) -> None:
        self.groups = groups
        self.catalog = catalog
        self.service = service
        self.state = service.state
        self.settings = service.settings
        self.ttl = self.settings.reservation_ttl
        self._prices: dict[str, WorstPrice] = {}
        self._active: dict[str, Ticket] = {}
        self._refresher: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._refresher = asyncio.ensure_future(self._refresh_loop())

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

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

    # -- prices ----------------------------------------------------------------------------

    def worst_price(self, model: str) -> WorstPrice:
        cached = self._prices.get(model)
        if cached is not None:
            return cached
        groups = self.groups
        catalog = self.catalog
        seen: set[str] = set()
        pending = [model]
        worst_in: float | None = 0.0
        worst_out: float | None = 0.0
        max_output: int | None = 0
        while pending:
            name = pending.pop()
            group = groups.get(name)
            if name in seen or group is None:
                continue
            seen.add(name)
            for deployment in group.deployments:
                price = catalog.price(deployment.provider, deployment.model)
                if price is None:
                    worst_in = worst_out = None
                elif worst_in is not None and worst_out is not None:
                    worst_in = max(worst_in, price.input, price.cached_input or 0.0)
                    worst_out = max(worst_out, price.output)
                out = catalog.info(deployment.provider, deployment.model).max_output_tokens
                max_output = None if out is None or max_output is None else max(max_output, out)
            routing = getattr(group, "routing", None)
            for chain in ("fallbacks", "context_window_fallbacks", "content_filter_fallbacks"):
                pending.extend(getattr(routing, chain, None) or ())
        worst = WorstPrice(worst_in, worst_out, max_output or None)
        self._prices[model] = worst
        return worst

    def _output_tokens(self, request: dict[str, Any], worst: WorstPrice, endpoint: str) -> int:
        if endpoint == "embeddings":
            return 0
        asked = request.get("max_completion_tokens") or request.get("max_tokens")
        if isinstance(asked, int) and asked > 0:
            return min(asked, worst.max_output) if worst.max_output else asked
        fallback = worst.max_output or self.settings.default_max_output_tokens
        return min(fallback, self.settings.max_reserved_output_tokens)

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

    # -- the hook --------------------------------------------------------------------------

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        account: Account | None = ctx.principal.metadata.get("account")
        model_limits: RateLimitsConfig | None = self.settings.model_limits.get(ctx.model)
        if (account is None or not account.limits_anything) and model_limits is None:
            ctx.extras["accounts"] = Ticket()
            return
        prompt_tokens = math.ceil(estimate_prompt_bytes(request) / self.settings.prompt_bytes_per_token)
        plan = _Plan()
        if account is not None:
            self._rate_limits(plan, f"key '{account.key.name}'", f"key:{account.key.id}", account.key, prompt_tokens)
            if account.team is not None:
                team = account.team
                self._rate_limits(plan, f"team '{team.name}'", f"team:{team.id}", team, prompt_tokens)
        if model_limits is not None:
            self._rate_limits(plan, f"model '{ctx.model}'", f"model:{ctx.model}", model_limits, prompt_tokens)
        ticket = Ticket()
        spending = (
            account is not None
            and ctx.endpoint != "count_tokens"  # counting tokens costs nothing: no reservation
            and (account.key.limits_spend or bool(account.team and account.team.limits_spend))
        )
        if spending and account is not None:
            worst = self.worst_price(ctx.model)
            if worst.input is None or worst.output is None:
                raise PermissionDenied(
                    f"The model '{ctx.model}' has no known price, so a key with a budget cannot use it. "
                    "Set a price for it in the config (models[].pricing).",
                    code="model_not_priced",
                )
            ticket.reserved = reservation_nano(
                prompt_tokens, self._output_tokens(request, worst, ctx.endpoint), worst.input, worst.output
            )
            ticket.prompt_estimate_nusd = reservation_nano(prompt_tokens, 0, worst.input, 0.0)
            now = time.time()
            self._spend_limits(plan, account.key, ticket.reserved, now)
            if account.team is not None:
                self._spend_limits(plan, account.team, ticket.reserved, now)
        holder = ctx.request_id
        for _ in range(3):
            admission = await self.state.admit(holder, self.ttl, plan.windows, plan.semaphores, plan.balances)
            if admission.kind != "missing":
                break
            for index in admission.missing:
                await self.service.seed(plan.balance_owners[index][0], plan.balances[index].key)
        if not admission.ok:
            raise self._refusal(admission.kind, admission.index or 0, admission, plan, ticket.reserved)
        ticket.semaphores = [s.key for s in plan.semaphores]
        ticket.counters = [b.key for b in plan.balances]
        ticket.tpm_windows = [w.key for w in plan.windows if not w.record]
        ctx.extras["accounts"] = ticket
        if ticket.semaphores or ticket.counters:
            self._active[holder] = ticket

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
            elif ctx.usage is None and ctx.status == "cancelled" and ctx.trace.deployment is not None:
                cost = ticket.prompt_estimate_nusd  # hung up before usage arrived: the prompt was paid for
            else:
                cost = 0
            usage = ctx.usage or {}
            tokens = int(usage.get("total_tokens") or 0) or int(usage.get("prompt_tokens") or 0) + int(
                usage.get("completion_tokens") or 0
            )
            await self.state.settle(
                holder,
                semaphores=ticket.semaphores,
                charges=[Charge(key, cost) for key in ticket.counters],
                windows=[WindowAdd(key, MINUTE, tokens) for key in ticket.tpm_windows],
                record=(QUEUE, encode(usage_row(ctx, cost))),
            )
        except Exception:
            log.exception("could not settle request %s", ctx.request_id)
