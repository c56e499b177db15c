"""One HTTP call to a provider's Batch API, with the provider key kept out of every error."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from unigate.providers.passthrough import Redactor

TIMEOUT = aiohttp.ClientTimeout(total=600, connect=10)


class RemoteError(Exception):
    """A Batch API call that failed. ``permanent``: the provider refused the request itself (a
    4xx other than 408/409/429), so sending it again cannot help; otherwise try again later."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.permanent = status is not None and 400 <= status < 500 and status not in (408, 409, 429)


async def call(
    http: aiohttp.ClientSession,
    provider: str,
    method: str,
    url: str,
    headers: dict[str, str],
    key: str | None,
    *,
    data: Any = None,
    json: Any = None,
) -> bytes:
    redactor = Redactor(key)
    body = orjson.dumps(json) if json is not None else data
    if json is not None:
        headers = {**headers, "content-type": "application/json"}
    try:
        async with http.request(
            method, url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        ) as resp:
            raw = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RemoteError(redactor.whole(f"{provider}: {type(exc).__name__}: {exc}".encode()).decode(), None) from None
    if status >= 400:
        detail = raw[:1000].decode(errors="replace")
        message = f"{provider}: {method} {url.split('?')[0]} returned HTTP {status}: {detail}"
        raise RemoteError(redactor.whole(message.encode()).decode(errors="replace"), status)
    return raw


def loads(raw: bytes, provider: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RemoteError(f"{provider}: the Batch API answered with something that is not JSON", None) from None
    if not isinstance(value, dict):
        raise RemoteError(f"{provider}: the Batch API answered with something that is not an object", None)
    return value
