"""OpenAI's (and Azure OpenAI's) Batch API: ``POST /files`` (purpose ``batch``), ``POST
/batches``, ``GET /batches/{id}``, ``POST /batches/{id}/cancel`` and the output and error files.

The lines keep OpenAI's own format; only the model becomes the deployment's upstream model (on
Azure, its deployment name) and the custom_id the line's number.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from unigate.providers.batch_api._http import RemoteError, call, loads
from unigate.providers.batch_api.types import Outcome, Progress, remote_custom_id, result_rows
from unigate.providers.openai_compat import COMPAT_PROVIDERS
from unigate.providers.openai_compat.request import AZURE_API_VERSION, GATEWAY_FIELDS
from unigate.providers.openai_responses import usage_from_native
from unigate.providers.shell import join_url, segment
from unigate.types import Deployment, Usage

_STATES = {
    "completed": "completed",
    "failed": "failed",
    "expired": "expired",
    "cancelled": "cancelled",
}
# an error-file line the provider wrote for a line it never ran: the line stays unanswered
_NOT_RUN = ("batch_expired", "batch_cancelled")


class OpenAIBatches:
    def __init__(self, http: aiohttp.ClientSession, deployment: Deployment, endpoint: str) -> None:
        self.http = http
        self.deployment = deployment
        self.endpoint = endpoint
        self.row = COMPAT_PROVIDERS[deployment.provider]
        base = deployment.api_base or self.row.base_url
        # Azure's resource endpoint serves /openai/files and /openai/batches with an api-version;
        # its v1 endpoint (…/openai/v1) is OpenAI's own API
        self.azure_classic = self.row.azure and not base.rstrip("/").endswith("/openai/v1")
        self.base = base

    def _url(self, path: str) -> str:
        if self.azure_classic:
            version = segment(str(self.deployment.option("api_version", AZURE_API_VERSION)))
            return join_url(self.base, f"openai/{path}") + f"?api-version={version}"
        return join_url(self.base, path)

    def _headers(self) -> dict[str, str]:
        headers = dict(self.deployment.headers)
        key = self.deployment.api_key
        if key and self.row.auth == "api-key":
            headers["api-key"] = key
        elif key and self.row.auth == "bearer":
            headers["authorization"] = "Bearer " + key
        return headers

    async def _call(self, method: str, path: str, **kwargs: Any) -> bytes:
        return await call(
            self.http,
            self.deployment.provider,
            method,
            self._url(path),
            self._headers(),
            self.deployment.api_key,
            **kwargs,
        )

    # -- the protocol ----------------------------------------------------------------------------

    def prepare(self, line_no: int, body: dict[str, Any]) -> dict[str, Any]:
        native = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
        native["model"] = self.deployment.model
        url = self.endpoint.removeprefix("/v1") if self.azure_classic else self.endpoint
        return {"custom_id": remote_custom_id(line_no), "method": "POST", "url": url, "body": native}

    async def submit(self, batch_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        form.add_field("file", data, filename=f"{batch_id}.jsonl", content_type="application/jsonl")
        uploaded = loads(await self._call("POST", "files", data=form), self.deployment.provider)
        endpoint = self.endpoint.removeprefix("/v1") if self.azure_classic else self.endpoint
        created = loads(
            await self._call(
                "POST",
                "batches",
                json={
                    "input_file_id": uploaded.get("id"),
                    "endpoint": endpoint,
                    "completion_window": "24h",
                    "metadata": {"unigate_batch_id": batch_id},
                },
            ),
            self.deployment.provider,
        )
        if not isinstance(created.get("id"), str):
            raise RemoteError(f"{self.deployment.provider}: the created batch has no id", None)
        return {"id": created["id"], "input_file_id": uploaded.get("id")}

    async def find(self, batch_id: str) -> dict[str, Any] | None:
        listing = loads(await self._call("GET", "batches?limit=100"), self.deployment.provider)
        for item in listing.get("data") or []:
            if isinstance(item, dict) and (item.get("metadata") or {}).get("unigate_batch_id") == batch_id:
                return {"id": item.get("id"), "input_file_id": item.get("input_file_id")}
        return None

    async def poll(self, remote: dict[str, Any]) -> Progress:
        batch = loads(await self._call("GET", f"batches/{segment(remote['id'])}"), self.deployment.provider)
        counts = batch.get("request_counts") or {}
        errors = (batch.get("errors") or {}).get("data") if isinstance(batch.get("errors"), dict) else None
        remote["output_file_id"] = batch.get("output_file_id")
        remote["error_file_id"] = batch.get("error_file_id")
        return Progress(
            _STATES.get(str(batch.get("status")), "running"),
            int(counts.get("completed") or 0),
            int(counts.get("failed") or 0),
            errors if isinstance(errors, list) else None,
        )

    async def cancel(self, remote: dict[str, Any]) -> None:
        await self._call("POST", f"batches/{segment(remote['id'])}/cancel")

    async def results(self, remote: dict[str, Any]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for name in ("output_file_id", "error_file_id"):
            file_id = remote.get(name)
            if not isinstance(file_id, str):
                continue
            raw = await self._call("GET", f"files/{segment(file_id)}/content")
            outcomes.extend(o for line_no, item in result_rows(raw) if (o := self._outcome(line_no, item)) is not None)
        return outcomes

    def _outcome(self, line_no: int, item: dict[str, Any]) -> Outcome | None:
        response = item.get("response")
        if isinstance(response, dict) and isinstance(response.get("status_code"), int):
            body = response.get("body")
            return Outcome(line_no, response["status_code"], body, usage_of(body))
        found = item.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        if error.get("code") in _NOT_RUN:
            return None
        message = str(error.get("message") or "The provider's batch did not answer this line.")
        return Outcome(
            line_no,
            500,
            {"error": {"message": message, "type": "api_error", "param": None, "code": error.get("code")}},
            None,
        )


def usage_of(body: Any) -> Usage | None:
    """Usage in a chat completion or embeddings body (OpenAI's own shape, details kept), or in a
    Responses API body."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    if "prompt_tokens" in usage:
        found: Usage = {**usage}
        found["prompt_tokens"] = int(usage.get("prompt_tokens") or 0)
        found["completion_tokens"] = int(usage.get("completion_tokens") or 0)
        found["total_tokens"] = int(usage.get("total_tokens") or found["prompt_tokens"] + found["completion_tokens"])
        return found
    return usage_from_native(usage)
