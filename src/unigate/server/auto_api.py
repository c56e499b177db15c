"""Auto routing's HTTP surface: ``POST /v1/feedback`` (a client's verdict on an answer, for
retraining the learned router) and ``GET /v1/auto/policies`` (what ``auto/<policy>`` names exist).
Present when ``auto.enabled``; the selection itself is the pipeline's (``routing/auto``)."""

from __future__ import annotations

from unigate.context import Principal
from unigate.errors import BadRequest
from unigate.routing.auto.feedback import validate_feedback
from unigate.server.http import Request, Response, json_response
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.validation import parse_json_object


def register(routes: Routes, services: Services) -> None:
    auto = services.auto
    if auto is None:
        return
    feedback = auto.feedback

    async def post_feedback(request: Request, principal: Principal) -> Response:
        body = parse_json_object(request.body, request.header(b"content-type"))
        record = validate_feedback(body)
        record["key_id"] = principal.key_id
        try:
            await feedback.add(record)
        except OSError as exc:
            raise BadRequest(f"Feedback could not be stored: {exc.strerror}", code="feedback_not_stored") from exc
        return json_response({"object": "feedback", "request_id": record["request_id"], "recorded": True})

    async def get_policies(request: Request, principal: Principal) -> Response:
        data = [{"id": name, **policy.describe()} for name, policy in auto.policies().items()]
        return json_response({"object": "list", "data": data})

    routes.route("POST", "/v1/feedback", post_feedback)
    routes.route("POST", "/feedback", post_feedback)
    routes.route("GET", "/v1/auto/policies", get_policies)
