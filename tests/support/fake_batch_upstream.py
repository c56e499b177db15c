"""A fake provider Batch API on loopback (a real aiohttp server) speaking OpenAI's wire format
(``/v1/files``, ``/v1/batches``) and Anthropic's (``/v1/messages/batches``).

A batch stays ``in_progress`` while ``hold`` is set; once released, the next look at it ends it:
every line is answered (a chat completion echoing the last user message, or for a line whose
text contains "fail" an error), with fixed usage (10 prompt + 5 completion tokens). A cancel
ends the batch at the next look with the first ``answered_before_stop`` lines answered and the
rest not run; ``expire`` does the same with status ``expired``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.support.loopback import LoopbackServer

PROMPT, COMPLETION = 10, 5


@dataclass
class RemoteBatch:
    id: str
    kind: str  # "openai" | "anthropic"
    lines: list[dict[str, Any]]
    endpoint: str = ""
    input_file_id: str | None = None
    metadata: dict[str, Any] | None = None
    status: str = "in_progress"
    stop: str | None = None  # "cancel" | "expire": how it is to end
    output_file_id: str | None = None
    error_file_id: str | None = None
    results: bytes = b""


@dataclass
class FakeBatchUpstream(LoopbackServer):
    hold: bool = True
    answered_before_stop: int = 0
    expire: bool = False
    done_while_held: int = 0  # the completed count an OpenAI batch reports while held
    batches: dict[str, RemoteBatch] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # method, path, headers

    def calls(self, method: str, path_start: str) -> list[tuple[str, str, dict[str, str]]]:
        return [c for c in self.seen if c[0] == method and c[1].startswith(path_start)]

    async def start(self) -> FakeBatchUpstream:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._record])
        for prefix in ("/v1", "/openai"):  # OpenAI's paths, and Azure's (with ?api-version=)
            app.router.add_post(f"{prefix}/files", self._upload)
            app.router.add_get(f"{prefix}/files/{{id}}/content", self._content)
            app.router.add_post(f"{prefix}/batches", self._create_openai)
            app.router.add_get(f"{prefix}/batches", self._list_openai)
            app.router.add_get(f"{prefix}/batches/{{id}}", self._get_openai)
            app.router.add_post(f"{prefix}/batches/{{id}}/cancel", self._cancel)
        app.router.add_post("/v1/messages/batches", self._create_anthropic)
        app.router.add_get("/v1/messages/batches/{id}", self._get_anthropic)
        app.router.add_post("/v1/messages/batches/{id}/cancel", self._cancel)
        app.router.add_get("/v1/messages/batches/{id}/results", self._results_anthropic)
        await self.serve(app)
        return self

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.seen.append((request.method, request.path_qs, {k.lower(): v for k, v in request.headers.items()}))
        return await handler(request)

    # -- OpenAI ----------------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or not hasattr(upload, "file"):
            return web.json_response({"error": {"message": "bad upload"}}, status=400)
        file_id = "file-up" + secrets.token_hex(6)
        self.files[file_id] = upload.file.read()  # type: ignore[union-attr]
        return web.json_response({"id": file_id, "object": "file", "purpose": "batch"})

    async def _content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["id"])
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _create_openai(self, request: web.Request) -> web.Response:
        body = await request.json()
        data = self.files.get(body.get("input_file_id"))
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=400)
        lines = [orjson.loads(row) for row in data.splitlines() if row.strip()]
        batch = RemoteBatch(
            "batch_up" + secrets.token_hex(6),
            "openai",
            lines,
            body["endpoint"],
            body["input_file_id"],
            body.get("metadata"),
        )
        self.batches[batch.id] = batch
        return web.json_response(self._openai_object(batch))

    async def _list_openai(self, request: web.Request) -> web.Response:
        data = [self._openai_object(b) for b in self.batches.values() if b.kind == "openai"]
        return web.json_response({"object": "list", "data": data[::-1]})

    async def _get_openai(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        self._advance(batch)
        return web.json_response(self._openai_object(batch))

    def _openai_object(self, batch: RemoteBatch) -> dict[str, Any]:
        done = batch.status not in ("in_progress", "cancelling")
        answered = self._answered(batch) if done else batch.lines[: self.done_while_held]
        failed = sum(1 for line in answered if _fails(line))
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "input_file_id": batch.input_file_id,
            "status": batch.status,
            "metadata": batch.metadata,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "request_counts": {"total": len(batch.lines), "completed": len(answered) - failed, "failed": failed},
        }

    async def _cancel(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        batch.stop = "cancel"
        batch.status = "cancelling" if batch.kind == "openai" else batch.status
        return web.json_response({"id": batch.id, "status": batch.status})

    # -- Anthropic -------------------------------------------------------------------------------

    async def _create_anthropic(self, request: web.Request) -> web.Response:
        body = await request.json()
        batch = RemoteBatch("msgbatch_" + secrets.token_hex(6), "anthropic", body["requests"])
        self.batches[batch.id] = batch
        return web.json_response(self._anthropic_object(batch))

    async def _get_anthropic(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return web.json_response({"error": {"type": "not_found_error", "message": "no such batch"}}, status=404)
        self._advance(batch)
        return web.json_response(self._anthropic_object(batch))

    def _anthropic_object(self, batch: RemoteBatch) -> dict[str, Any]:
        ended = batch.status != "in_progress"
        answered = self._answered(batch) if ended else []
        failed = sum(1 for line in answered if _fails(line))
        unrun = len(batch.lines) - len(answered) if ended else 0
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else len(batch.lines),
                "succeeded": len(answered) - failed,
                "errored": failed,
                "canceled": unrun if batch.stop == "cancel" else 0,
                "expired": unrun if batch.stop == "expire" else 0,
            },
            "results_url": f"{self.root_url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    async def _results_anthropic(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None or batch.status == "in_progress":
            return web.json_response({"error": {"type": "not_found_error", "message": "not ready"}}, status=404)
        return web.Response(body=batch.results, content_type="application/binary")

    # -- progress --------------------------------------------------------------------------------

    def _answered(self, batch: RemoteBatch) -> list[dict[str, Any]]:
        return batch.lines[: self.answered_before_stop] if batch.stop else batch.lines

    def _advance(self, batch: RemoteBatch) -> None:
        """End a batch that was released, cancelled or expired, writing its results."""
        if batch.status not in ("in_progress", "cancelling"):
            return
        if self.expire and batch.stop is None:
            batch.stop = "expire"
        if self.hold and batch.stop is None:
            return
        answered = self._answered(batch)
        unrun = batch.lines[len(answered) :]
        if batch.kind == "openai":
            batch.status = {"cancel": "cancelled", "expire": "expired"}.get(batch.stop or "", "completed")
            output = [_openai_result(line) for line in answered if not _fails(line)]
            errors = [_openai_result(line) for line in answered if _fails(line)]
            errors += [_openai_unrun(line, batch.stop) for line in unrun]
            if output:
                batch.output_file_id = "file-out" + secrets.token_hex(6)
                self.files[batch.output_file_id] = b"".join(orjson.dumps(r) + b"\n" for r in output)
            if errors:
                batch.error_file_id = "file-err" + secrets.token_hex(6)
                self.files[batch.error_file_id] = b"".join(orjson.dumps(r) + b"\n" for r in errors)
        else:
            batch.status = "ended"
            rows = [_anthropic_result(line) for line in answered]
            rows += [
                {"custom_id": line["custom_id"], "result": {"type": _UNRUN[batch.stop or "expire"]}} for line in unrun
            ]
            batch.results = b"".join(orjson.dumps(r) + b"\n" for r in rows)


_UNRUN = {"cancel": "canceled", "expire": "expired"}


def _text(line: dict[str, Any]) -> str:
    body = line.get("body") or line.get("params") or {}
    if "input" in body:
        return str(body["input"])
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)


def _fails(line: dict[str, Any]) -> bool:
    return "fail" in _text(line)


def _openai_result(line: dict[str, Any]) -> dict[str, Any]:
    rid = "req_" + secrets.token_hex(6)
    if _fails(line):
        body: dict[str, Any] = {"error": {"message": "refused by the fake", "type": "invalid_request_error"}}
        status = 400
    elif line["url"].endswith("/embeddings"):
        body = {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "model": line["body"]["model"],
            "usage": {"prompt_tokens": PROMPT, "total_tokens": PROMPT},
        }
        status = 200
    else:
        body = {
            "id": "chatcmpl-" + rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": line["body"]["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "batch: " + _text(line)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": PROMPT, "completion_tokens": COMPLETION, "total_tokens": PROMPT + COMPLETION},
        }
        status = 200
    return {
        "id": "batch_req_" + rid,
        "custom_id": line["custom_id"],
        "response": {"status_code": status, "request_id": rid, "body": body},
        "error": None,
    }


def _openai_unrun(line: dict[str, Any], stop: str | None) -> dict[str, Any]:
    code = "batch_cancelled" if stop == "cancel" else "batch_expired"
    return {
        "id": "batch_req_x",
        "custom_id": line["custom_id"],
        "response": None,
        "error": {"code": code, "message": code},
    }


def _anthropic_result(line: dict[str, Any]) -> dict[str, Any]:
    if _fails(line):
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": "refused by the fake"}}
        return {"custom_id": line["custom_id"], "result": {"type": "errored", "error": error}}
    message = {
        "id": "msg_" + secrets.token_hex(6),
        "type": "message",
        "role": "assistant",
        "model": line["params"]["model"],
        "content": [{"type": "text", "text": "batch: " + _text(line)}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": PROMPT, "output_tokens": COMPLETION},
    }
    return {"custom_id": line["custom_id"], "result": {"type": "succeeded", "message": message}}
