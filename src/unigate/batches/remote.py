"""Drives a batch that a provider runs in its own Batch API (``unigate.providers.batch_api``):
submit, poll, propagate a cancel, collect the answers, charge each line at the batch price.

Restart-safe: the remote batch's id is stored before anything waits on it, so a restarted
gateway polls the same remote batch. A submit cut short between the provider's answer and the
store is looked up again where the provider allows it (OpenAI: by the batch's metadata);
Anthropic's batches cannot be recognised, so such a batch is sent once more. A line is charged
(ledger row under the line's fixed request id, idempotent) before its answer is stored, so a
crash while collecting charges no line twice and loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from unigate.batches.store import BatchStore
from unigate.config import BatchesConfig
from unigate.context import Principal, RequestContext
from unigate.errors import GatewayError
from unigate.providers.batch_api import (
    LEDGER_ENDPOINT,
    LEDGER_SURFACE,
    NativeBatches,
    Outcome,
    Progress,
    RemoteError,
    client_for,
)
from unigate.types import Deployment

if TYPE_CHECKING:
    from unigate.gateway import Gateway

log = logging.getLogger("unigate.batches")

EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}


class NativeSupport:
    """What the runner needs from the gateway for provider-run batches: the deployment a batch
    was sent to, a client for its Batch API, and the pipeline's hooks to charge each line."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def deployment(self, remote: dict[str, Any]) -> Deployment | None:
        group = self.gateway.find_group(remote["model"])
        for deployment in group.deployments if group is not None else ():
            if deployment.id == remote["deployment"]:
                return deployment
        return None

    def client(self, deployment: Deployment, endpoint: str) -> NativeBatches:
        return client_for(self.gateway.http_session(), deployment, endpoint)

    async def charge(
        self, principal: Principal, request_id: str, deployment: Deployment, endpoint: str, outcome: Outcome
    ) -> None:
        """One answered line through the hooks like an interactive request (ledger, spend,
        metrics, log), priced at the provider's batch price. Admission cannot refuse it: the
        provider has already done the work."""
        ctx = RequestContext(
            request_id=request_id,
            principal=principal,
            model=deployment.public_name,
            stream=False,
            endpoint=LEDGER_ENDPOINT[endpoint],
            surface=LEDGER_SURFACE.get(endpoint),
        )
        ctx.extras["prepaid"] = True
        ctx.trace.deployment = deployment
        await self.gateway.admit(ctx, {"model": deployment.public_name})
        ctx.usage = outcome.usage
        if outcome.usage:
            catalog = self.gateway.catalog
            ctx.cost = catalog.batch_cost(deployment.provider, deployment.model, outcome.usage, deployment.public_name)
        if outcome.status_code >= 400:
            error = (outcome.body or {}).get("error") if isinstance(outcome.body, dict) else None
            message = str((error or {}).get("message") or f"HTTP {outcome.status_code}")
            ctx.status, ctx.error = "error", GatewayError(message, provider=deployment.provider)
        await self.gateway.finish(ctx)


class RemoteRun:
    """One provider-run batch, from submit to its final status."""

    def __init__(
        self,
        support: NativeSupport,
        store: BatchStore,
        config: BatchesConfig,
        wake: asyncio.Event,
        request_id: Any,
    ) -> None:
        self.support = support
        self.store = store
        self.config = config
        self.wake = wake
        self.request_id = request_id  # (batch id, line number) → the line's fixed request id

    async def run(self, batch: dict[str, Any], principal: Principal | None) -> str:
        """Returns the batch's final status: completed, cancelled, expired or failed."""
        batch_id = batch["id"]
        remote = dict(batch["remote"])
        deployment = self.support.deployment(remote)
        if deployment is None:
            await self._fail(
                batch_id,
                "deployment_gone",
                f"The deployment '{remote['deployment']}' this batch was sent to is no longer configured.",
            )
            return "failed"
        client = self.support.client(deployment, batch["endpoint"])
        while remote.get("id") is None:
            if await self._local_status(batch_id) == "cancelled":  # cancelled before it was sent
                return "cancelled"
            submitted = await self._submit(batch, remote, client)
            if submitted == "failed":
                return "failed"
            if submitted == "empty":
                return await self._local_status(batch_id)
        progress = await self._follow(batch, remote, client)
        if progress.state == "failed":
            await self._fail(batch_id, "provider_failed", "The provider's batch failed.", progress.errors)
            return "failed"
        outcomes = await client.results(remote)
        who = principal or _stand_in(batch)
        for outcome in outcomes:
            request_id = self.request_id(batch_id, outcome.line_no)
            if not await self.store.is_pending(batch_id, outcome.line_no):
                continue
            await self.support.charge(who, request_id, deployment, batch["endpoint"], outcome)
            await self.store.finish(batch_id, outcome.line_no, outcome.status_code, outcome.body, request_id)
        if remote.get("expiring") or progress.state == "expired":
            return "expired"
        if remote.get("cancel_sent") or progress.state == "cancelled":
            return "cancelled"
        return "completed"

    async def _submit(self, batch: dict[str, Any], remote: dict[str, Any], client: NativeBatches) -> str:
        batch_id = batch["id"]
        if remote.get("state") == "submitting":  # a submit was cut short: the provider may have it
            with contextlib.suppress(RemoteError):
                found = await client.find(batch_id)
                if found is not None:
                    remote.update(found, state="running")
                    await self.store.set(batch_id, remote=remote)
                    return "running"
        lines: list[dict[str, Any]] = []
        for line in await self.store.pending(batch_id, 0, 10**9):
            try:
                lines.append(client.prepare(line["line_no"], line["body"]))
            except GatewayError as exc:  # e.g. n > 1 for Anthropic: this line's answer, as interactively
                request_id = self.request_id(batch_id, line["line_no"])
                await self.store.finish(batch_id, line["line_no"], exc.http_status, exc.to_dict(), request_id)
        if not lines:
            return "empty"
        remote["state"] = "submitting"
        await self.store.set(batch_id, remote=remote)
        try:
            remote.update(await client.submit(batch_id, lines), state="running")
        except RemoteError as exc:
            if exc.permanent:
                await self._fail(batch_id, "provider_refused", exc.message)
                return "failed"
            log.warning("batch %s: could not submit to the provider (%s); trying again", batch_id, exc.message)
            await self._sleep()
            return "retry"
        await self.store.set(batch_id, remote=remote)
        log.info("batch %s sent to %s as %s", batch_id, remote["provider"], remote["id"])
        return "running"

    async def _follow(self, batch: dict[str, Any], remote: dict[str, Any], client: NativeBatches) -> Progress:
        """Poll until the remote batch ends, passing a cancel and the completion window on."""
        batch_id = batch["id"]
        while True:
            current = await self.store.get(batch_id)
            if current is None:
                return Progress("cancelled")
            stop = None
            if current["status"] == "cancelling" and not remote.get("cancel_sent"):
                stop = "cancel_sent"
            elif current.get("expires_at") and time.time() > current["expires_at"] and not remote.get("expiring"):
                stop = "expiring"  # our window ended first: stop it there, keep what it answered
            try:
                if stop is not None:
                    await client.cancel(remote)
                    remote[stop] = True
                    remote.setdefault("cancel_sent", True)
                progress = await client.poll(remote)
            except RemoteError as exc:
                if exc.permanent and exc.status == 404:
                    return Progress("failed", errors=[{"code": "provider_batch_gone", "message": exc.message}])
                log.warning("batch %s: the provider could not be asked (%s)", batch_id, exc.message)
                await self._sleep()
                continue
            remote["completed"], remote["failed"] = progress.completed, progress.failed
            await self.store.set(batch_id, remote=remote)
            if progress.ended:
                return progress
            await self._sleep()

    async def _sleep(self) -> None:
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), self.config.native_poll_interval)

    async def _fail(self, batch_id: str, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        data = errors or [{"code": code, "message": message, "param": None, "line": None}]
        await self.store.set(batch_id, errors={"object": "list", "data": data[:100]})

    async def _local_status(self, batch_id: str) -> str:
        current = await self.store.get(batch_id)
        return "cancelled" if current is not None and current["status"] == "cancelling" else "completed"


def _stand_in(batch: dict[str, Any]) -> Principal:
    """Whom to ledger a line under when the batch's key can no longer be found: its id stays."""
    who = batch["principal"] or {}
    return Principal(
        who.get("kind", "anonymous"), key_id=who.get("key_id"), key_name=who.get("key_name"), team_id=who.get("team_id")
    )
