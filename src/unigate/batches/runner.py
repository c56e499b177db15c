"""Runs batches inside the gateway: each line through the gateway's own route for its URL, as
the batch's key, so limits, budgets, routing, cost and the ledger apply as for any request.

- Interactive first: at most ``batches.concurrency`` lines are in flight, and only
  ``batches.interactive_concurrency`` while interactive requests are in flight.
- Headroom: a line waits while every deployment of its model that has an ``rpm`` has used
  ``batches.headroom`` of it in the last minute.
- Rate limits (the key's, or an upstream's after the router's retries) make a line wait and
  try again; other errors are the line's answer (in the error file).
- One runner: of all the processes on one database (workers, replicas) the one holding the
  runner lock (``batches/lock.py``) runs every batch; the others serve the API and take over
  when it goes away.
- A batch sent to a provider's own Batch API (``remote``) is followed by ``remote.RemoteRun``.
- Expiry: a batch still running when its completion window ends stops there (``expired``);
  its unanswered lines go to the error file as OpenAI writes them.
- Restart: a line is pending until its answer is stored. Each line has a fixed request id, so
  a line that was in flight when the process died runs again under the same id and the ledger
  (idempotent on request id) charges it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from unigate.batches.remote import EXPIRED, NativeSupport, RemoteRun
from unigate.batches.store import BatchStore, FileStore
from unigate.config import BatchesConfig
from unigate.context import Principal, RequestContext

if TYPE_CHECKING:
    from unigate.routing.groups import ModelGroup

log = logging.getLogger("unigate.batches")

LINE_PREFIX = "req_batch_"
POLL = 2.0
CHUNK = 200
MAX_RATE_LIMIT_RETRIES = 20
WINDOW = 60.0


def line_request_id(batch_id: str, line_no: int) -> str:
    return f"{LINE_PREFIX}{batch_id.removeprefix('batch_')}_{line_no}"


class TrafficGauge:
    """A RequestHook that counts interactive requests in flight and each deployment's requests
    in the last minute (what the runner yields to)."""

    def __init__(self) -> None:
        self.interactive = 0
        self.recent: dict[str, deque[float]] = defaultdict(deque)

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        if not ctx.request_id.startswith(LINE_PREFIX):
            self.interactive += 1
            ctx.extras["interactive"] = True

    async def after(self, ctx: RequestContext) -> None:
        if ctx.extras.pop("interactive", False):
            self.interactive -= 1
        deployment = ctx.trace.deployment
        if deployment is not None and deployment.rpm:
            self.recent[deployment.id].append(time.monotonic())

    def used(self, deployment_id: str) -> int:
        window = self.recent.get(deployment_id)
        if not window:
            return 0
        cutoff = time.monotonic() - WINDOW
        while window and window[0] < cutoff:
            window.popleft()
        return len(window)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a line's request got back: status, headers and the whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


# Serves one line (method, url, body, as whom, request id) through the gateway's own route for it.
Dispatch = Callable[[str, str, bytes, Principal, str], Awaitable[Reply]]


class BatchRunner:
    """``dispatch`` serves a line through the gateway's route for its URL; ``find_group`` is the
    model groups' look-up (rpm headroom); ``principal_by_id`` finds the key a batch runs as
    (``None`` without accounts)."""

    def __init__(
        self,
        dispatch: Dispatch,
        find_group: Callable[[str], ModelGroup | None],
        principal_by_id: Callable[[str], Awaitable[Principal | None]] | None,
        store: BatchStore,
        files: FileStore,
        config: BatchesConfig,
        native: NativeSupport | None = None,
    ) -> None:
        self.dispatch = dispatch
        self.find_group = find_group
        self.principal_by_id = principal_by_id
        self.store = store
        self.files = files
        self.config = config
        self.native = native
        self.gauge = TrafficGauge()
        self.inflight = 0
        self._changed = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._stopping = False
        self._poller: asyncio.Task[None] | None = None
        self._lock: Any = None
        self.runs = True  # False while another process holds the runner lock

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, lock: Any = None) -> None:
        """Run every unfinished batch, and any created later. With a ``lock`` (``batches/lock.py``)
        only its holder runs batches; every process looks for work (or for the lock) every
        ``POLL`` seconds."""
        self._lock = lock
        self.runs = lock is None or await self._try_acquire()
        self._poller = asyncio.ensure_future(self._poll())

    async def _try_acquire(self) -> bool:
        try:
            return bool(await self._lock.acquire())
        except Exception:
            log.exception("could not take the batch runner lock")
            return False

    async def _poll(self) -> None:
        while True:
            try:
                await self._check_lock()
                if self.runs:
                    for batch in await self.store.active():
                        self.submit(batch["id"])
                    await self.files.sweep()
            except Exception:
                log.exception("could not look for batches to run")
            await asyncio.sleep(POLL)

    async def _check_lock(self) -> None:
        if self._lock is None:
            return
        if not self.runs:
            self.runs = await self._try_acquire()
            if self.runs:
                log.info("this process now runs the batches")
        elif not await self._lock.held():
            log.warning("lost the batch runner lock; another process resumes the batches")
            self.runs = False
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._lock is not None:
            await self._lock.release()

    def submit(self, batch_id: str) -> None:
        """Run the batch (if this process runs batches), or wake its run to look at it again
        (a cancel)."""
        if batch_id in self._tasks:
            self._wake[batch_id].set()
        elif not self._stopping and self.runs:
            self._wake[batch_id] = asyncio.Event()
            task = asyncio.ensure_future(self._run(batch_id))
            self._tasks[batch_id] = task

            def forget(_task: asyncio.Task[None]) -> None:
                self._tasks.pop(batch_id, None)
                self._wake.pop(batch_id, None)

            task.add_done_callback(forget)

    # -- one batch ---------------------------------------------------------------------------

    async def _run(self, batch_id: str) -> None:
        try:
            batch = await self.store.get(batch_id)
            if batch is None:
                return
            if batch["status"] == "validating":
                await self.store.set(batch_id, status="in_progress", in_progress_at=time.time())
            principal = await self._principal(batch)
            if batch.get("remote") and self.native is not None:
                remote = RemoteRun(self.native, self.store, self.config, self._wake[batch_id], line_request_id)
                final = await remote.run(batch, principal)
            else:
                final = await self._run_here(batch, principal)
            await self._finalize(batch, final)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch %s stopped on an error; it resumes on the next start", batch_id)

    async def _run_here(self, batch: dict[str, Any], principal: Principal | None) -> str:
        """Every pending line through the gateway; the batch's final status."""
        batch_id = batch["id"]
        running: set[asyncio.Task[None]] = set()
        after = 0
        stopped: str | None = None
        checked = time.monotonic()
        while stopped is None:
            chunk = await self.store.pending(batch_id, after, CHUNK)
            if not chunk:
                break
            for line in chunk:
                after = line["line_no"]
                if time.monotonic() - checked > 0.5:
                    checked = time.monotonic()
                    stopped = _stop_reason(await self.store.get(batch_id))
                    if stopped is not None:
                        break
                await self._admit(batch["endpoint"], line["body"])
                task = asyncio.ensure_future(self._line(batch, principal, line))
                running.add(task)
                task.add_done_callback(running.discard)
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        return stopped or _stop_reason(await self.store.get(batch_id)) or "completed"

    async def _principal(self, batch: dict[str, Any]) -> Principal | None:
        who = batch["principal"] or {}
        kind = who.get("kind", "anonymous")
        if kind != "key":
            return Principal(kind, key_name=who.get("key_name"))
        if self.principal_by_id is None:
            return None
        return await self.principal_by_id(str(who.get("key_id")))

    async def _admit(self, endpoint: str, body: dict[str, Any]) -> None:
        """Wait for a free line slot (fewer while interactive traffic is in flight) and for
        rpm headroom on the line's model."""
        while True:
            limit = self.config.concurrency if self.gauge.interactive == 0 else self.config.interactive_concurrency
            if self.inflight < limit and self._has_headroom(body.get("model")):
                self.inflight += 1
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.05)

    def _has_headroom(self, model: Any) -> bool:
        if not isinstance(model, str):
            return True
        group = self.find_group(model)
        if group is None:
            return True
        for deployment in group.deployments:
            if not deployment.rpm or self.gauge.used(deployment.id) < self.config.headroom * deployment.rpm:
                return True
        return False

    async def _line(self, batch: dict[str, Any], principal: Principal | None, line: dict[str, Any]) -> None:
        request_id = line_request_id(batch["id"], line["line_no"])
        try:
            if principal is None:
                status, body = (
                    401,
                    {
                        "error": {
                            "message": "The key that created this batch can no longer be used.",
                            "type": "authentication_error",
                            "param": None,
                            "code": "invalid_api_key",
                        }
                    },
                )
            else:
                status, body = await self._execute(batch["endpoint"], line["body"], principal, request_id)
            await self.store.finish(batch["id"], line["line_no"], status, body, request_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch %s line %s failed in the gateway", batch["id"], line["line_no"])
        finally:
            self.inflight -= 1
            self._changed.set()

    async def _execute(self, url: str, body: dict[str, Any], principal: Principal, request_id: str) -> tuple[int, Any]:
        raw = orjson.dumps(body)
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            response = await self.dispatch("POST", url, raw, principal, request_id)
            status = response.status
            if status == 429 and attempt < MAX_RATE_LIMIT_RETRIES:
                await asyncio.sleep(min(self.config.rate_limit_wait, _retry_after(response) or 1.0 * (attempt + 1)))
                continue
            try:
                return status, orjson.loads(response.body)
            except orjson.JSONDecodeError:
                return status, {"raw": response.body.decode(errors="replace")}
        raise AssertionError("unreachable")

    # -- the end -----------------------------------------------------------------------------

    async def _finalize(self, batch: dict[str, Any], final: str) -> None:
        """Write the output and error files and set the final status (completed, cancelled,
        expired or failed)."""
        batch_id = batch["id"]
        if final == "expired":
            await self.store.expire_pending(batch_id, EXPIRED)
        await self.store.set(batch_id, status="finalizing", finalizing_at=time.time())
        output: list[bytes] = []
        errors: list[bytes] = []
        for line in await self.store.answered(batch_id):
            record: dict[str, Any] = {"id": "batch_req_" + secrets.token_hex(12), "custom_id": line["custom_id"]}
            if line["status_code"] is None:  # never run (expired): OpenAI's shape for it
                record.update(response=None, error=line["result"])
                errors.append(orjson.dumps(record))
                continue
            record["response"] = {
                "status_code": line["status_code"],
                "request_id": line["request_id"],
                "body": line["result"],
            }
            record["error"] = None
            (output if line["status_code"] < 300 else errors).append(orjson.dumps(record))
        owner = batch["owner"]
        output_id = error_id = None
        if output:
            made = await self.files.create(
                owner, f"{batch_id}_output.jsonl", "batch_output", b"\n".join(output) + b"\n"
            )
            output_id = made["id"]
        if errors:
            made = await self.files.create(owner, f"{batch_id}_error.jsonl", "batch_output", b"\n".join(errors) + b"\n")
            error_id = made["id"]
        stamp = {
            "completed": "completed_at",
            "cancelled": "cancelled_at",
            "expired": "expired_at",
            "failed": "failed_at",
        }
        await self.store.set(
            batch_id, output_file_id=output_id, error_file_id=error_id, status=final, **{stamp[final]: time.time()}
        )
        log.info("batch %s %s: %d answered, %d failed", batch_id, final, len(output), len(errors))


def _stop_reason(batch: dict[str, Any] | None) -> str | None:
    """Why a batch running here stops before its last line: a cancel, or its window ended."""
    if batch is None or batch["status"] == "cancelling":
        return "cancelled"
    if batch.get("expires_at") and time.time() > batch["expires_at"]:
        return "expired"
    return None


def _retry_after(response: Reply) -> float | None:
    for name, value in response.headers:
        if name.lower() == b"retry-after":
            try:
                return max(0.1, float(value))
            except ValueError:
                return None
    return None
