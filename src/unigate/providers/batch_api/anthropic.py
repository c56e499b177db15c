"""Anthropic's Message Batches API: ``POST /v1/messages/batches`` with ``requests[{custom_id,
params}]``, ``GET /v1/messages/batches/{id}``, ``…/cancel`` and the results JSONL.

Each OpenAI chat line becomes Messages ``params`` through the same translator as an interactive
request (``providers.anthropic.to_native``); each ``succeeded`` result becomes a chat
completion through the same translator back (``from_native``), so a batch line answers exactly
as the same request sent interactively would.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp

from unigate.errors import GatewayError
from unigate.providers.anthropic import ERROR_TYPE_STATUS, from_native, native_headers, to_native
from unigate.providers.anthropic.request import DEFAULT_API_BASE
from unigate.providers.batch_api._http import RemoteError, call, loads
from unigate.providers.batch_api.types import Outcome, Progress, remote_custom_id, result_rows
from unigate.providers.shell import join_url, segment
from unigate.types import Deployment, as_chat_request


class AnthropicBatches:
    def __init__(self, http: aiohttp.ClientSession, deployment: Deployment, endpoint: str) -> None:
        self.http = http
        self.deployment = deployment
        base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
        self.root = join_url(base, "messages/batches" if base.endswith("/v1") else "v1/messages/batches")

    def _headers(self) -> dict[str, str]:
        headers = native_headers(as_chat_request({}), self.deployment)
        headers.pop("content-type", None)
        return headers

    async def _call(self, method: str, url: str, **kwargs: Any) -> bytes:
        return await call(self.http, "anthropic", method, url, self._headers(), self.deployment.api_key, **kwargs)

    def prepare(self, line_no: int, body: dict[str, Any]) -> dict[str, Any]:
        params = to_native(as_chat_request(dict(body)), self.deployment, stream=False)
        params.pop("stream", None)
        return {"custom_id": remote_custom_id(line_no), "params": params}

    async def submit(self, batch_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        created = loads(await self._call("POST", self.root, json={"requests": lines}), "anthropic")
        if not isinstance(created.get("id"), str):
            raise RemoteError("anthropic: the created batch has no id", None)
        return {"id": created["id"]}

    async def find(self, batch_id: str) -> dict[str, Any] | None:
        return None  # a Message Batch carries nothing of ours to recognise it by

    async def poll(self, remote: dict[str, Any]) -> Progress:
        batch = loads(await self._call("GET", f"{self.root}/{segment(remote['id'])}"), "anthropic")
        counts = batch.get("request_counts") or {}
        remote["results_url"] = batch.get("results_url")
        done, failed = int(counts.get("succeeded") or 0), int(counts.get("errored") or 0)
        if batch.get("processing_status") != "ended":
            return Progress("running", done, failed)
        state = "completed"
        if int(counts.get("canceled") or 0):
            state = "cancelled"
        elif int(counts.get("expired") or 0):
            state = "expired"
        return Progress(state, done, failed)

    async def cancel(self, remote: dict[str, Any]) -> None:
        await self._call("POST", f"{self.root}/{segment(remote['id'])}/cancel")

    async def results(self, remote: dict[str, Any]) -> list[Outcome]:
        url = f"{self.root}/{segment(remote['id'])}/results"
        given = remote.get("results_url")
        # the key goes only to the API's own host, whatever URL the answer names
        if isinstance(given, str) and urlsplit(given)[:2] == urlsplit(self.root)[:2]:
            url = given
        raw = await self._call("GET", url)
        return [o for line_no, item in result_rows(raw) if (o := self._outcome(line_no, item)) is not None]

    def _outcome(self, line_no: int, item: dict[str, Any]) -> Outcome | None:
        result = item.get("result")
        if not isinstance(result, dict):
            return None
        kind = result.get("type")
        if kind == "succeeded":
            try:
                response = from_native(result.get("message"), self.deployment.public_name)
            except GatewayError as exc:
                return Outcome(line_no, exc.http_status, _error_body(exc.message, "api_error"), None)
            return Outcome(line_no, 200, response, response.get("usage"))
        if kind == "errored":
            error = (result.get("error") or {}).get("error") or {}
            kind = str(error.get("type") or "api_error")
            return Outcome(
                line_no, ERROR_TYPE_STATUS.get(kind, 500), _error_body(str(error.get("message") or kind), kind), None
            )
        return None  # canceled or expired: never run


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}
