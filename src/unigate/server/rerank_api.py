"""The rerank surface: ``POST /v1/rerank`` in the Cohere/Jina shape RAG frameworks send
(``query``, ``documents``, ``top_n``, ``return_documents``), answered in the same shape by Cohere,
Jina-style OpenAI-compatible servers (Jina, vLLM, Infinity) and Bedrock."""

from __future__ import annotations

from typing import Any

from unigate.context import Principal
from unigate.errors import BadRequest
from unigate.operations import Operation
from unigate.providers.media import rerank_usage
from unigate.server.http import Request, Response, json_response
from unigate.server.openai_api import route_headers
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.validation import parse_json_object

MAX_DOCUMENTS = 1000


def _invalid(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def validate_rerank(body: dict[str, Any]) -> None:
    for name in ("model", "query", "documents"):
        if body.get(name) is None:
            raise BadRequest(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    if not isinstance(body["model"], str) or not body["model"]:
        raise _invalid("'model' must be a non-empty string.", "model")
    if not isinstance(body["query"], str) or not body["query"].strip():
        raise _invalid("'query' must be a non-empty string.", "query")
    documents = body["documents"]
    if not isinstance(documents, list) or not documents:
        raise _invalid("'documents' must be a non-empty array.", "documents")
    if len(documents) > MAX_DOCUMENTS:
        raise _invalid(f"'documents' may hold at most {MAX_DOCUMENTS} items.", "documents")
    for i, doc in enumerate(documents):
        if not (isinstance(doc, str) or (isinstance(doc, dict) and isinstance(doc.get("text"), str))):
            raise _invalid(f"'documents[{i}]' must be a string or an object with 'text'.", f"documents[{i}]")
    top_n = body.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise _invalid("'top_n' must be a positive integer.", "top_n")
    if body.get("return_documents") is not None and not isinstance(body["return_documents"], bool):
        raise _invalid("'return_documents' must be a boolean.", "return_documents")


RERANK: Operation[dict[str, Any], Any] = Operation(
    "rerank", lambda p, r, d: p.rerank(r, d), rerank_usage, method="rerank", pricing="media"
)


def register(routes: Routes, services: Services) -> None:
    gateway = services.gateway

    async def rerank(request: Request, principal: Principal) -> Response:
        body = parse_json_object(request.body, request.header(b"content-type"))
        validate_rerank(body)
        reply, ctx = await gateway.run(RERANK, body, principal, request_id=request.path_params["request_id"])
        return json_response(reply, headers=route_headers(ctx))

    for path in ("/v1/rerank", "/rerank", "/v2/rerank"):
        routes.route("POST", path, rerank)
