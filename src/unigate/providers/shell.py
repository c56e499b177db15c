"""The one provider HTTP shell: everything an HTTP provider does that is not translation.

A provider package supplies pure translators (request → :class:`Call`, reply → canonical
response, stream events → canonical chunks, error body → the error tree) and subclasses
:class:`HttpProvider`, which does the rest, once, for all of them:

- one pooled upstream client (:class:`~unigate.providers.upstream.Upstream`, pyreqwest), timeouts
  per deployment and phase (connect, first token / stall, total);
- POST a JSON body and parse the reply; open a stream and hold it until it is finished;
- decode the stream: server-sent events or the AWS event-stream binary framing;
- malformed replies and events become a 502 ``ProviderError`` (never a crash), transport
  failures map into the tree (:func:`transport_error`), non-2xx replies go through the
  provider's error translator;
- **redaction**: the credentials a call carried (its auth headers, the deployment's key, AWS
  secrets) are replaced by ``[REDACTED]`` in every upstream body and error message before
  anything leaves the shell — the client's error, the request log and the raw body kept for
  logs all come from here, so no provider can forget it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from unigate.errors import (
    BadRequest,
    GatewayError,
    ProviderError,
    UpstreamConnectionError,
    UpstreamServerError,
    UpstreamTimeout,
)
from unigate.providers.base import Capabilities, ProviderContext
from unigate.providers.upstream import Streamed, Upstream, failure
from unigate.types import ChatChunk, ChatRequest, ChatResponse, Deployment, Timeouts

ErrorParser = Callable[[int, bytes, Any], ProviderError]
Framing = Literal["sse", "aws-eventstream"]

REDACTED = "[REDACTED]"
# Headers whose values are credentials. Shorter values are not redacted (they would match
# ordinary words); no real key is that short.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "x-amz-security-token"}
)
_MIN_SECRET = 8
_RAW_LIMIT = 2000  # how much of an upstream body an error keeps for the logs


@dataclass(frozen=True, slots=True)
class Call:
    """One upstream HTTP call, as a provider's request translator builds it. ``secrets``: any
    credential used to build the call that is not in its headers (an AWS secret key that only
    signed it), so the shell can redact it too."""

    url: str | URL
    body: Any  # bytes, or an aiohttp.FormData for multipart uploads (sent as the bytes it writes)
    headers: dict[str, str]
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """A 2xx upstream answer, credentials already redacted from its body."""

    body: bytes
    headers: Any

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "application/octet-stream"))


# ---------------------------------------------------------------------------------------------
# URLs


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def segment(value: str) -> str:
    """A client- or config-chosen value as exactly one URL path segment: ``/``, ``?``, ``#`` and
    ``%`` are percent-encoded, so ``azure/x/../../admin?`` names a deployment called that instead
    of reaching another path. ``.`` and ``..`` alone are refused (400): URL parsers resolve them
    even percent-encoded (``%2E%2E``, by the WHATWG rules the upstream client follows), and no
    upstream names anything that."""
    if value in (".", ".."):
        raise BadRequest(f"{value!r} is not a valid model or deployment name")
    return quote(value, safe="")


def encoded_url(url: str | URL) -> URL:
    """A URL kept exactly as written: translators build them from quoted segments, and
    re-normalising would undo that (``%3A`` → ``:`` breaks a SigV4 signature). The shell sends
    ``str(url)``, which the upstream client does not re-encode."""
    return url if isinstance(url, URL) else URL(url, encoded=True)


# ---------------------------------------------------------------------------------------------
# Redaction


def call_secrets(call: Call, deployment: Deployment) -> tuple[str, ...]:
    """Every credential this call carries, longest first (so a key that contains another is
    replaced whole)."""
    found: set[str] = set(call.secrets)
    for name, value in call.headers.items():
        if name.lower() in _SECRET_HEADERS:
            found.add(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "basic", "token"):
                found.add(token)
    for _name, value in deployment.headers:  # configured extra headers often carry credentials
        found.add(value)
    if deployment.api_key:
        found.add(deployment.api_key)
    for option in ("aws_secret_access_key", "aws_session_token", "aws_access_key_id"):
        value = deployment.option(option)
        if isinstance(value, str):
            found.add(value)
    return tuple(sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True))


def redact_bytes(data: bytes, secrets: Iterable[str]) -> bytes:
    for secret in secrets:
        encoded = secret.encode()
        if encoded in data:
            data = data.replace(encoded, REDACTED.encode())
    return data


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_error(error: GatewayError, secrets: tuple[str, ...]) -> GatewayError:
    """The same error with every secret removed from its message and raw body (in place)."""
    if not secrets:
        return error
    message = redact_text(error.message, secrets)
    if message != error.message:
        error.message = message
        error.args = (message, *error.args[1:])
    raw = error.raw
    if isinstance(raw, bytes):
        error.raw = redact_bytes(raw, secrets)
    elif isinstance(raw, str):
        error.raw = redact_text(raw, secrets)
    return error


# ---------------------------------------------------------------------------------------------
# Transport


@lru_cache(maxsize=256)
def client_timeout(timeouts: Timeouts, stream: bool = False) -> aiohttp.ClientTimeout:
    """Streams: ``first_token`` bounds every read, so it is also the stall detector between chunks.
    Whole replies: most providers send nothing until the answer is complete, so only ``total``
    bounds them (a long generation must not be mistaken for a stall)."""
    return aiohttp.ClientTimeout(
        total=timeouts.total, connect=timeouts.connect, sock_read=timeouts.first_token if stream else None
    )


def new_session() -> aiohttp.ClientSession:
    """The aiohttp session of the provider passthrough routes (``/openai/...`` relayed as they are).
    No cookie jar: cookies one upstream sets must never ride along on another caller's request.
    ``trust_env``: the same proxy variables as the provider client."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
    return aiohttp.ClientSession(
        connector=connector,
        json_serialize=lambda obj: orjson.dumps(obj).decode(),
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=True,
    )


def transport_error(provider: str, exc: BaseException) -> GatewayError:
    """Map a transport-level failure (no HTTP status) into the tree."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"{provider}: upstream timed out", provider=provider)
    failed = failure(exc)
    if failed is not None:
        kind, text = failed
        if kind == "closed":
            return UpstreamConnectionError(f"{provider}: upstream closed the connection: {text}", provider=provider)
        if kind == "unreachable":
            return UpstreamConnectionError(f"{provider}: upstream unreachable: {text}", provider=provider)
        return UpstreamConnectionError(f"{provider}: {text}", provider=provider)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return UpstreamConnectionError(f"{provider}: upstream closed the connection: {exc}", provider=provider)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return UpstreamConnectionError(f"{provider}: upstream unreachable: {exc}", provider=provider)
    return UpstreamConnectionError(f"{provider}: {type(exc).__name__}: {exc}", provider=provider)


def malformed(provider: str, what: str, raw: bytes) -> ProviderError:
    """A reply or event the translators cannot read: the upstream's fault, a 502 (before the
    first content chunk the router may still fall back; after it, the stream ends with it)."""
    return UpstreamServerError(
        f"{provider}: malformed {what} from upstream", provider=provider, status=502, raw=raw[:_RAW_LIMIT]
    )


# Translator failures on unexpected upstream shapes: a 502 naming the upstream, not a crash.
_SHAPE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


@asynccontextmanager
async def open_stream(
    upstream: Upstream,
    url: str | URL,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
    provider: str,
    parse_error: ErrorParser,
) -> AsyncIterator[Streamed]:
    """POST and hold the response open for streaming; non-2xx → ``parse_error`` before any yield.
    However the block is left, the response is closed (an unfinished body is not pooled)."""
    try:
        resp = await upstream.start(str(url), body, headers, timeouts)
    except Exception as exc:
        raise transport_error(provider, exc) from exc
    try:
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except Exception as exc:
                raise transport_error(provider, exc) from exc
            raise parse_error(resp.status, raw, resp.headers)
        yield resp
    finally:
        await resp.aclose()


# ---------------------------------------------------------------------------------------------
# Stream framings


async def iter_sse(body: AsyncIterator[bytes], provider: str) -> AsyncIterator[tuple[str | None, bytes]]:
    """Yield ``(event, data)`` for each server-sent event of a body read as it arrives. Multi-line
    ``data:`` fields are joined with newlines as the SSE spec says; comments and blank keep-alives
    are skipped."""
    buffer = b""
    try:
        async for piece in body:
            buffer += piece
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            while True:
                end = buffer.find(b"\n\n")
                if end < 0:
                    break
                block, buffer = buffer[:end], buffer[end + 2 :]
                event = _parse_sse_block(block)
                if event is not None:
                    yield event
    except GatewayError:
        raise
    except Exception as exc:
        raise transport_error(provider, exc) from exc
    if buffer.strip():
        event = _parse_sse_block(buffer)
        if event is not None:
            yield event


def _parse_sse_block(block: bytes) -> tuple[str | None, bytes] | None:
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case, one data line
        return None, block[6:]
    event: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode()
    if not data and event is None:
        return None
    return event, b"\n".join(data)


@dataclass(frozen=True, slots=True)
class AwsException:
    """An ``exception`` / ``error`` message of an AWS event stream."""

    kind: str
    message: str
    raw: bytes


async def iter_aws_events(body: AsyncIterator[bytes], provider: str) -> AsyncIterator[tuple[str, bytes]]:
    """Yield ``(event type, payload)`` for each message of an AWS event stream; an ``exception``
    or ``error`` message is yielded as ``(":exception", payload)`` after the shell has turned
    it into an :class:`AwsException` (see :meth:`HttpProvider.stream_exception`)."""
    from botocore.eventstream import EventStreamBuffer  # only Bedrock deployments load botocore

    buffer = EventStreamBuffer()
    try:
        async for piece in body:
            buffer.add_data(piece)
            for message in buffer:
                headers = message.headers
                message_type = headers.get(":message-type", "event")
                if message_type == "exception":
                    kind = str(headers.get(":exception-type", "exception"))
                    raise _AwsExceptionSignal(
                        AwsException(kind, _exception_text(message.payload, kind), message.payload)
                    )
                if message_type == "error":
                    kind = str(headers.get(":error-code", "error"))
                    text = str(headers.get(":error-message", kind))
                    raise _AwsExceptionSignal(AwsException(kind, text, message.payload))
                yield str(headers.get(":event-type", "")), message.payload
    except (GatewayError, _AwsExceptionSignal):
        raise
    except Exception as exc:
        raise transport_error(provider, exc) from exc


class _AwsExceptionSignal(Exception):
    def __init__(self, exception: AwsException) -> None:
        super().__init__(exception.kind)
        self.exception = exception


def _exception_text(payload: bytes, kind: str) -> str:
    try:
        message = orjson.loads(payload).get("message", "")
    except (orjson.JSONDecodeError, AttributeError):
        message = payload[:500].decode(errors="replace")
    return str(message or kind)


async def _wire_body(call: Call) -> tuple[bytes, dict[str, str]]:
    """The call's body as bytes; a multipart form is written out, its boundary in the headers."""
    if isinstance(call.body, bytes):
        return call.body, call.headers
    payload = call.body()  # aiohttp.FormData → its payload writer
    return await payload.as_bytes(), {**call.headers, "content-type": payload.content_type}


# ---------------------------------------------------------------------------------------------
# The provider base


class StreamTranslator(Protocol):
    """Native stream events → canonical chunks, one event at a time. ``feed`` returns the chunks
    an event produces (often none); ``done`` turns true at the upstream's end-of-message event;
    ``close`` gives what is owed when the upstream ends (or raises if it ended too early)."""

    done: bool

    def feed(self, event: str | None, data: bytes) -> list[ChatChunk]: ...

    def close(self) -> list[ChatChunk]: ...


class HttpProvider:
    """A provider over HTTP: subclasses supply the translators, this class does the I/O.

    Subclasses set ``name`` and ``capabilities`` and implement :meth:`call` (async, so
    signing may resolve credentials), :meth:`response`, :meth:`stream_translator` and
    :meth:`parse_error`; ``framing`` is ``"sse"`` or ``"aws-eventstream"``.
    """

    name: str
    framing: ClassVar[Framing] = "sse"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, context: ProviderContext) -> None:
        self.upstream = context.upstream

    # --- translators (pure; supplied by the provider package) ---------------------------------

    async def call(self, request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
        raise NotImplementedError

    def response(self, reply: Any, deployment: Deployment) -> ChatResponse:
        raise NotImplementedError

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        raise NotImplementedError

    def parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        raise NotImplementedError

    def stream_exception(self, exception: AwsException) -> ProviderError:
        """An AWS event-stream ``exception`` message → the tree (event-stream providers only)."""
        return UpstreamServerError(f"{self.name}: {exception.message}", provider=self.name, raw=exception.raw)

    # --- the shell ----------------------------------------------------------------------------

    def _failed(self, exc: GatewayError, secrets: tuple[str, ...]) -> GatewayError:
        if isinstance(exc, ProviderError):
            exc.provider = self.name
        return redact_error(exc, secrets)

    async def post(self, call: Call, deployment: Deployment) -> Any:
        """POST the call and return its parsed JSON reply, credentials redacted throughout."""
        reply = await self.send(call, deployment)
        try:
            return orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise malformed(self.name, "reply", reply.body) from exc

    async def send(self, call: Call, deployment: Deployment) -> Reply:
        """POST the call and return the raw answer (any content type), credentials redacted."""
        secrets = call_secrets(call, deployment)
        try:
            return await self._exchange(call, deployment, secrets)
        except GatewayError as exc:
            raise self._failed(exc, secrets) from exc.__cause__

    async def _exchange(self, call: Call, deployment: Deployment, secrets: tuple[str, ...]) -> Reply:
        try:
            body, headers = await _wire_body(call)
            status, resp_headers, raw = await self.upstream.fetch(str(call.url), body, headers, deployment.timeouts)
        except Exception as exc:
            raise transport_error(self.name, exc) from exc
        raw = redact_bytes(raw, secrets)
        if status >= 400:
            raise self.parse_error(status, raw, resp_headers)
        return Reply(raw, resp_headers)

    async def open_response(self, call: Call, deployment: Deployment) -> Streamed:
        """POST and return the open response once its status is 2xx (the caller reads the body and
        ``aclose()`` s it); a failure is mapped and redacted like every other."""
        secrets = call_secrets(call, deployment)
        try:
            body, headers = await _wire_body(call)
            resp = await self.upstream.start(str(call.url), body, headers, deployment.timeouts)
        except Exception as exc:
            raise self._failed(transport_error(self.name, exc), secrets) from exc
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except Exception as exc:
                raise self._failed(transport_error(self.name, exc), secrets) from exc
            finally:
                await resp.aclose()
            raise self._failed(self.parse_error(resp.status, redact_bytes(raw, secrets), resp.headers), secrets)
        return resp

    async def events(self, call: Call, deployment: Deployment) -> AsyncGenerator[tuple[str | None, bytes]]:
        """Open the stream and yield its decoded events, credentials redacted; the connection is
        released when the events are exhausted, closed when the consumer stops early."""
        secrets = call_secrets(call, deployment)
        try:
            async with open_stream(
                self.upstream,
                call.url,
                call.body,
                call.headers,
                deployment.timeouts,
                self.name,
                lambda status, raw, headers: self.parse_error(status, redact_bytes(raw, secrets), headers),
            ) as resp:
                if self.framing == "aws-eventstream":
                    try:
                        async for kind, payload in iter_aws_events(resp.chunks(), self.name):
                            yield kind, redact_bytes(payload, secrets)
                    except _AwsExceptionSignal as signal:
                        raise self.stream_exception(signal.exception) from None
                else:
                    async for event, data in iter_sse(resp.chunks(), self.name):
                        yield event, redact_bytes(data, secrets)
        except GatewayError as exc:
            raise self._failed(exc, secrets) from exc.__cause__

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        reply = await self.post(await self.call(request, deployment, stream=False), deployment)
        try:
            return self.response(reply, deployment)
        except GatewayError as exc:
            if isinstance(exc, ProviderError):
                exc.provider = self.name
            raise
        except _SHAPE_ERRORS as exc:
            raise malformed(self.name, "reply", orjson.dumps(reply)) from exc

    async def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        call = await self.call(request, deployment, stream=True)
        async for chunk in self.stream(call, self.stream_translator(request, deployment), deployment):
            yield chunk

    async def stream(
        self, call: Call, translator: StreamTranslator, deployment: Deployment
    ) -> AsyncIterator[ChatChunk]:
        """Open the call's stream and translate its events into canonical chunks."""
        events = self.events(call, deployment)
        try:
            async for event, data in events:
                try:
                    chunks = translator.feed(event, data)
                except GatewayError as exc:
                    if isinstance(exc, ProviderError):
                        exc.provider = self.name
                    raise
                except _SHAPE_ERRORS as exc:
                    raise malformed(self.name, "stream event", data) from exc
                for chunk in chunks:
                    yield chunk
                if translator.done:
                    return
        finally:
            await events.aclose()
        for chunk in translator.close():
            yield chunk
