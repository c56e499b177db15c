"""The files and batches surface: OpenAI's ``/v1/files`` and ``/v1/batches``.

Files are stored in the data directory (``<data_dir>/files``), size-limited, and owned by the
key that uploaded them: another key gets 404. A batch's input file is checked when the batch
is created (a malformed line fails the batch with the line's number, as OpenAI does); the
gateway then runs the lines itself (``unigate.batches.runner``), or — when the batch's model is
served by a deployment with ``native_batches: true`` — sends them to that provider's own Batch
API (``unigate.providers.batch_api``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from unigate.batches.lock import runner_lock
from unigate.batches.remote import NativeSupport
from unigate.batches.runner import BatchRunner, Reply
from unigate.batches.store import BatchStore, FileStore, new_id
from unigate.catalog.catalog import BATCH_DISCOUNT
from unigate.context import Principal
from unigate.errors import BadRequest, NotFound, PayloadTooLarge
from unigate.providers.batch_api import LEDGER_ENDPOINT, native_deployment
from unigate.server.http import Request, Response, StreamingResponse, json_response
from unigate.server.multipart import parse_multipart
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.validation import parse_json_object

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses")
PURPOSES = ("batch",)
WINDOW = 24 * 3600.0
FILE_EXPIRY = (3600, 30 * 24 * 3600)  # what OpenAI allows for expires_after.seconds
NATIVE_FLAG = "unigate_native_batch"  # batch metadata: "false" keeps a batch in the gateway


def owner_of(principal: Principal) -> str:
    return principal.key_id or principal.kind


def file_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "file",
        "bytes": row["bytes"],
        "created_at": int(row["created_at"]),
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": "processed",
        "status_details": None,
        "expires_at": int(row["expires_at"]) if row.get("expires_at") is not None else None,
    }


def batch_object(row: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    def ts(name: str) -> int | None:
        value = row.get(name)
        return int(value) if value is not None else None

    remote = row.get("remote") or {}
    if remote and row["status"] in ("in_progress", "cancelling"):
        # a provider-run batch's answers arrive at the end: until then, the provider's counts
        counts = {
            "completed": max(counts["completed"], int(remote.get("completed") or 0)),
            "failed": max(counts["failed"], int(remote.get("failed") or 0)),
        }

    return {
        "id": row["id"],
        "object": "batch",
        "endpoint": row["endpoint"],
        "errors": row["errors"],
        "input_file_id": row["input_file_id"],
        "completion_window": row["completion_window"],
        "status": row["status"],
        "output_file_id": row.get("output_file_id"),
        "error_file_id": row.get("error_file_id"),
        "created_at": int(row["created_at"]),
        "in_progress_at": ts("in_progress_at"),
        "expires_at": ts("expires_at"),
        "finalizing_at": ts("finalizing_at"),
        "completed_at": ts("completed_at"),
        "failed_at": ts("failed_at"),
        "expired_at": ts("expired_at"),
        "cancelling_at": ts("cancelling_at"),
        "cancelled_at": ts("cancelled_at"),
        "request_counts": {"total": row["total"], **counts},
        "metadata": row["metadata"],
    }


def parse_lines(data: bytes, endpoint: str, max_lines: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The requests of a batch input file, and the errors that fail the batch (OpenAI's shape)."""
    requests: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()

    def fail(number: int, code: str, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "message": message, "param": param, "line": number})

    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(requests) >= max_lines:
            fail(number, "too_many_requests", f"A batch may hold at most {max_lines} requests.")
            break
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError:
            fail(number, "invalid_json_line", "This line is not valid JSON.")
            continue
        if not isinstance(item, dict):
            fail(number, "invalid_request", "Each line must be a JSON object.")
            continue
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            fail(number, "missing_required_parameter", "Each line needs a 'custom_id' string.", "custom_id")
            continue
        if custom_id in seen:
            fail(number, "duplicate_custom_id", f"The custom_id '{custom_id}' is used twice.", "custom_id")
            continue
        seen.add(custom_id)
        if item.get("method", "POST") != "POST":
            fail(number, "invalid_method", "Only POST requests can be batched.", "method")
            continue
        if item.get("url") != endpoint:
            fail(number, "mismatched_endpoint", f"The line's url must be the batch's endpoint '{endpoint}'.", "url")
            continue
        body = item.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            fail(number, "invalid_request", "Each line needs a 'body' object with a 'model'.", "body")
            continue
        if body.get("stream"):
            fail(number, "invalid_request", "Batched requests cannot stream.", "body.stream")
            continue
        requests.append({"line_no": number, "custom_id": custom_id, "body": body})
    if not requests and not errors:
        errors.append(
            {"code": "empty_file", "message": "The input file holds no requests.", "param": None, "line": None}
        )
    return requests, errors


def expiry_of(form: Any) -> float | None:
    """``expires_after[anchor]`` / ``expires_after[seconds]`` of an upload (OpenAI's shape)."""
    anchor, seconds = form.text("expires_after[anchor]"), form.text("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise BadRequest(
            "'expires_after[anchor]' must be 'created_at'.", param="expires_after.anchor", code="invalid_value"
        )
    try:
        value = int(seconds or "")
    except ValueError:
        value = -1
    low, high = FILE_EXPIRY
    if not low <= value <= high:
        raise BadRequest(
            f"'expires_after[seconds]' must be an integer from {low} to {high}.",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return float(value)


def register(routes: Routes, services: Services) -> None:
    config = services.config.batches
    if not config.enabled:
        return
    from unigate.accounts.db import create_engine

    engine = create_engine(services.config)
    files = FileStore(engine, Path(services.config.data_dir) / "files")
    store = BatchStore(engine)
    dispatch = services.dispatch

    async def serve_line(method: str, url: str, body: bytes, principal: Principal, request_id: str) -> Reply:
        response = await dispatch(method, url, body, principal, request_id)
        if isinstance(response, StreamingResponse):  # lines never stream; drain to be safe
            return Reply(response.status, response.headers, b"".join([piece async for piece in response.chunks]))
        return Reply(response.status, response.headers, response.body)

    accounts = services.accounts
    runner = BatchRunner(
        serve_line,
        services.gateway.find_group,
        accounts.service.principal_by_id if accounts is not None else None,
        store,
        files,
        config,
        NativeSupport(services.gateway),
    )
    services.hooks.add(runner.gauge)

    async def startup() -> None:
        await store.migrate()
        await runner.start(runner_lock(engine, Path(services.config.data_dir)))

    async def shutdown() -> None:
        await runner.stop()
        await engine.dispose()

    services.lifecycle.startup.append(startup)
    services.lifecycle.shutdown.append(shutdown)

    # -- files -------------------------------------------------------------------------------

    async def upload(request: Request, principal: Principal) -> Response:
        form = parse_multipart(request.body, request.header(b"content-type"))
        purpose = form.text("purpose")
        if not purpose:
            raise BadRequest(
                "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter"
            )
        if purpose not in PURPOSES:
            raise BadRequest(
                f"'purpose' must be one of {list(PURPOSES)}, got {purpose!r}.", param="purpose", code="invalid_value"
            )
        upload = form.file("file")
        if upload is None:
            raise BadRequest("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
        if not upload.data:
            raise BadRequest("The uploaded file is empty.", param="file", code="invalid_value")
        if len(upload.data) > config.max_file_bytes:
            raise PayloadTooLarge(f"The file is larger than the limit of {config.max_file_bytes} bytes.", param="file")
        expires_after = expiry_of(form)
        row = await files.create(owner_of(principal), upload.filename, purpose, upload.data, expires_after)
        return json_response(file_object(row))

    async def owned_file(file_id: str, principal: Principal) -> dict[str, Any]:
        row = await files.get(file_id, owner_of(principal))
        if row is None:
            raise NotFound(f"No such File object: {file_id}", param="id", code="file_not_found")
        return row

    def stored(row: dict[str, Any]) -> bytes:
        try:
            return files.read(row["id"])
        except FileNotFoundError:  # a replica whose data_dir is not shared with the one that wrote it
            raise NotFound(
                f"The content of {row['id']} is not in this gateway's data directory.", code="file_not_found"
            ) from None

    async def file_item(request: Request, principal: Principal) -> Response:
        file_id, _, rest = request.path_params["rest"].partition("/")
        row = await owned_file(file_id, principal)
        if request.method == "DELETE" and not rest:
            await files.delete(file_id, owner_of(principal))
            return json_response({"id": file_id, "object": "file", "deleted": True})
        if rest == "content" and request.method == "GET":
            return Response(stored(row), 200, [(b"content-type", b"application/octet-stream")])
        if rest:
            raise NotFound(f"Unknown endpoint: {request.method} {request.path}", code="unknown_url")
        return json_response(file_object(row))

    async def list_files(request: Request, principal: Principal) -> Response:
        try:
            limit = min(10_000, max(1, int(request.query.get("limit") or 10_000)))
        except ValueError:
            raise BadRequest("'limit' must be an integer.", param="limit") from None
        rows = await files.owned(owner_of(principal), request.query.get("purpose"), limit)
        return json_response({"object": "list", "data": [file_object(r) for r in rows], "has_more": False})

    # -- batches -----------------------------------------------------------------------------

    async def create_batch(request: Request, principal: Principal) -> Response:
        body = parse_json_object(request.body, request.header(b"content-type"))
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str):
                raise BadRequest(
                    f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
                )
        if body["endpoint"] not in ENDPOINTS:
            raise BadRequest(f"'endpoint' must be one of {list(ENDPOINTS)}.", param="endpoint", code="invalid_value")
        if body["completion_window"] != "24h":
            raise BadRequest("'completion_window' must be '24h'.", param="completion_window", code="invalid_value")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadRequest("'metadata' must be an object.", param="metadata", code="invalid_value")
        source = await files.get(body["input_file_id"], owner_of(principal))
        if source is None:
            raise NotFound(
                f"No such File object: {body['input_file_id']}", param="input_file_id", code="file_not_found"
            )
        requests, errors = parse_lines(stored(source), body["endpoint"], config.max_lines)
        remote = None if errors else native_target(requests, body["endpoint"], principal, metadata)
        if remote is not None and accounts is not None:  # its lines cannot be refused later
            endpoint = LEDGER_ENDPOINT[body["endpoint"]]
            await accounts.accountant.check_room(
                principal, requests[0]["body"], remote["model"], endpoint, BATCH_DISCOUNT
            )
        now = time.time()
        batch = {
            "id": new_id("batch_"),
            "owner": owner_of(principal),
            "principal": {
                "kind": principal.kind,
                "key_id": principal.key_id,
                "key_name": principal.key_name,
                "team_id": principal.team_id,
            },
            "endpoint": body["endpoint"],
            "input_file_id": source["id"],
            "completion_window": "24h",
            "status": "failed" if errors else "validating",
            "created_at": now,
            "failed_at": now if errors else None,
            "expires_at": now + WINDOW,
            "total": 0 if errors else len(requests),
            "metadata": metadata,
            "errors": {"object": "list", "data": errors[:100]} if errors else None,
            "remote": remote,
        }
        await store.create(batch, [] if errors else requests)
        if not errors:
            runner.submit(batch["id"])
        return json_response(batch_object(batch, {"completed": 0, "failed": 0}))

    def native_target(
        requests: list[dict[str, Any]], endpoint: str, principal: Principal, metadata: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Where the batch goes when its provider runs it: every line names one model the key may
        use, served by a deployment with ``native_batches: true`` (unless the batch's metadata
        says ``unigate_native_batch: "false"``)."""
        flag = str((metadata or {}).get(NATIVE_FLAG, "")).lower()
        if flag == "false":
            return None
        models = {r["body"]["model"] for r in requests}
        model = next(iter(models)) if len(models) == 1 else ""
        group = services.gateway.find_group(model) if model else None
        deployment = None
        if group is not None and principal.may_use(model):
            deployment = native_deployment(group.deployments, endpoint)
        if deployment is None:
            if flag == "true":
                raise BadRequest(
                    f"This batch cannot go to a provider's own Batch API: its lines must all name one model "
                    f"served by a deployment with 'native_batches: true' for {endpoint} "
                    f"(OpenAI and Azure: chat, embeddings, responses; Anthropic: chat).",
                    param=f"metadata.{NATIVE_FLAG}",
                    code="invalid_value",
                )
            return None
        return {"provider": deployment.provider, "model": model, "deployment": deployment.id, "id": None}

    async def owned_batch(batch_id: str, principal: Principal) -> dict[str, Any]:
        row = await store.get(batch_id, owner_of(principal))
        if row is None:
            raise NotFound(f"No such Batch object: {batch_id}", param="batch_id", code="batch_not_found")
        return row

    async def rendered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        counts = await store.counts([r["id"] for r in rows])
        return [batch_object(r, counts[r["id"]]) for r in rows]

    async def batch_item(request: Request, principal: Principal) -> Response:
        batch_id, _, rest = request.path_params["rest"].partition("/")
        row = await owned_batch(batch_id, principal)
        if request.method == "POST":
            if rest != "cancel":
                raise NotFound(f"Unknown endpoint: POST {request.path}", code="unknown_url")
            if not await store.request_cancel(batch_id, owner_of(principal)) and row["status"] not in (
                "cancelling",
                "cancelled",
            ):
                raise BadRequest(f"A batch that is {row['status']} cannot be cancelled.", code="invalid_state")
            runner.submit(batch_id)
            row = await owned_batch(batch_id, principal)
        elif rest:
            raise NotFound(f"Unknown endpoint: GET {request.path}", code="unknown_url")
        return json_response((await rendered([row]))[0])

    async def list_batches(request: Request, principal: Principal) -> Response:
        try:
            limit = min(100, max(1, int(request.query.get("limit") or 20)))
        except ValueError:
            raise BadRequest("'limit' must be an integer.", param="limit") from None
        rows = await store.recent(owner_of(principal), limit + 1, request.query.get("after"))
        data = await rendered(rows[:limit])
        return json_response(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": len(rows) > limit,
            }
        )

    async def dashboard(request: Request, principal: Principal) -> Response:
        """Progress for /ui: every batch for the master key, a key's own otherwise."""
        rows = await store.recent(None if principal.is_admin else owner_of(principal), 50)
        data = await rendered(rows)
        for row, item in zip(rows, data, strict=True):  # where it runs: here, or a provider's Batch API
            item["runs_on"] = (row.get("remote") or {}).get("provider") or "gateway"
        return json_response({"object": "list", "data": data})

    routes.route("GET", "/ui/api/batches", dashboard)
    for prefix in ("/v1", ""):
        routes.route("POST", f"{prefix}/files", upload, max_body=config.max_file_bytes + 1024 * 1024)
        routes.route("GET", f"{prefix}/files", list_files)
        routes.route("GET", f"{prefix}/files/*", file_item)
        routes.route("DELETE", f"{prefix}/files/*", file_item)
        routes.route("POST", f"{prefix}/batches", create_batch)
        routes.route("GET", f"{prefix}/batches", list_batches)
        routes.route("GET", f"{prefix}/batches/*", batch_item)
        routes.route("POST", f"{prefix}/batches/*", batch_item)
