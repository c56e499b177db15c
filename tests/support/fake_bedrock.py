"""A fake Bedrock runtime on loopback (a real aiohttp server) that checks each request's SigV4
signature with the credentials it was given: Converse (JSON) and ConverseStream (the AWS
event-stream binary framing), with fixed usage."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.loopback import LoopbackServer

USAGE = {"inputTokens": 11, "outputTokens": 4, "totalTokens": 15}


def aws_event(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message (prelude, string headers, payload, CRCs)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
    body = orjson.dumps(payload)
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


@dataclass
class FakeBedrock(LoopbackServer):
    access_key: str = "AKIDUPSTREAM"
    secret_key: str = "upstream-secret-key-0123456789"
    region: str = "us-west-2"
    seen: list[dict[str, Any]] = field(default_factory=list)  # path, headers, body, signature_ok

    async def start(self) -> FakeBedrock:
        app = web.Application()
        app.router.add_post("/model/{model}/converse", self._converse)
        app.router.add_post("/model/{model}/converse-stream", self._converse_stream)
        await self.serve(app)
        return self

    def _check(self, request: web.Request, body: bytes) -> bool:
        """Recompute the signature from what arrived, with the secret the gateway was given."""
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return False
        parts = dict(p.strip().split("=", 1) for p in authorization[len("AWS4-HMAC-SHA256 ") :].split(","))
        signed = parts["SignedHeaders"].split(";")
        headers = {name: request.headers[name] for name in signed if name != "host"}
        aws = AWSRequest(
            method=request.method, url=f"http://127.0.0.1:{self.port}{request.raw_path}", data=body, headers=headers
        )
        aws.context["timestamp"] = request.headers["x-amz-date"]
        auth = SigV4Auth(Credentials(self.access_key, self.secret_key), "bedrock", self.region)
        string_to_sign = auth.string_to_sign(aws, auth.canonical_request(aws))
        return parts["Signature"] == auth.signature(string_to_sign, aws) and self.region in parts["Credential"]

    async def _record(self, request: web.Request) -> tuple[dict[str, Any], bool]:
        raw = await request.read()
        ok = self._check(request, raw)
        self.seen.append(
            {"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}, "ok": ok}
        )
        return orjson.loads(raw), ok

    async def _converse(self, request: web.Request) -> web.Response:
        body, ok = await self._record(request)
        if not ok:
            return web.json_response({"message": "The request signature we calculated does not match"}, status=403)
        text = body["messages"][-1]["content"][0]["text"]
        return web.json_response(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "bedrock: " + text}]}},
                "stopReason": "end_turn",
                "usage": USAGE,
                "metrics": {"latencyMs": 5},
            }
        )

    async def _converse_stream(self, request: web.Request) -> web.StreamResponse:
        _body, ok = await self._record(request)
        if not ok:
            return web.json_response({"message": "bad signature"}, status=403)
        reply = web.StreamResponse(headers={"content-type": "application/vnd.amazon.eventstream"})
        await reply.prepare(request)
        for event_type, payload in (
            ("messageStart", {"role": "assistant"}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "streamed"}}),
            ("messageStop", {"stopReason": "end_turn"}),
            ("metadata", {"usage": USAGE, "metrics": {"latencyMs": 5}}),
        ):
            await reply.write(aws_event(event_type, payload))
        await reply.write_eof()
        return reply
