"""Auto routing's HTTP surface: ``POST /v1/feedback`` (a client's verdict on one of its own
answers, for retraining the learned router), ``GET /v1/auto/policies`` (what ``auto/<policy>``
names exist) and ``GET /v1/auto/stats`` (spend and savings, admin only).
Present when ``auto.enabled``; the selection itself is the pipeline's (``routing/auto``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unigate.context import Principal
from unigate.errors import BadRequest, NotFound, PermissionDenied
from unigate.routing.auto.accounting import AutoHook
from unigate.routing.auto.feedback import validate_feedback
from unigate.server.http import Request, Response, json_response
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.unmetered import admit_unmetered
from unigate.server.validation import parse_json_object

if TYPE_CHECKING:
    from unigate.accounts.runtime import AccountsRuntime


def register(routes: Routes, services: Services) -> None:
    auto = services.auto
    if auto is None:
        return
    feedback = auto.feedback
    hook = auto.hook
    accounts = services.accounts

    async def post_feedback(request: Request, principal: Principal) -> Response:
        await admit_unmetered(accounts, request, principal)
        body = parse_json_object(request.body, request.header(b"content-type"))
        record = validate_feedback(body)
        await check_owner(accounts, hook, record["request_id"], principal)
        record["key_id"] = principal.key_id
        try:
            await feedback.add(record)
        except OSError as exc:
            raise BadRequest(f"Feedback could not be stored: {exc.strerror}", code="feedback_not_stored") from exc
        hook.traffic.feedback(record["request_id"], record["score"])
        return json_response({"object": "feedback", "request_id": record["request_id"], "recorded": True})

    async def get_policies(request: Request, principal: Principal) -> Response:
        data = [
            {"id": name, **visible(policy.describe(), principal)}
            for name, policy in (await auto.prepared_policies()).items()
        ]
        return json_response({"object": "list", "data": data})

    async def get_stats(request: Request, principal: Principal) -> Response:
        if not principal.is_admin:  # spend and savings of every key: the operator's view
            raise PermissionDenied("Auto-routing statistics need the master key.", code="admin_only")
        return json_response({"object": "list", "data": hook.traffic.snapshot()})

    routes.route("POST", "/v1/feedback", post_feedback)
    routes.route("POST", "/feedback", post_feedback)
    routes.route("GET", "/v1/auto/policies", get_policies)
    routes.route("GET", "/v1/auto/stats", get_stats)


async def check_owner(accounts: AccountsRuntime | None, hook: AutoHook, request_id: str, principal: Principal) -> None:
    """Feedback is taken for the caller's own requests only (an admin's for any): the id must be
    a recent request of this process or in the ledger, made with the caller's key. Another key's
    id gets the same answer as an unknown one."""
    found, owner = hook.owners.find(request_id)
    if not found and accounts is not None:
        found, owner = await accounts.store.request_owner(request_id)
    if found and (principal.is_admin or owner == principal.key_id):
        return
    raise NotFound(
        f"No request '{request_id}' made with this key is known (feedback is for your own recent requests).",
        param="request_id",
        code="unknown_request_id",
    )


def visible(description: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A policy as a key may see it: only the candidate models the key may use."""
    if principal.allowed_models is None:
        return description
    return {
        **description,
        "candidates": [name for name in description["candidates"] if principal.may_use(name)],
        "unavailable": [name for name in description["unavailable"] if principal.may_use(name)],
    }
