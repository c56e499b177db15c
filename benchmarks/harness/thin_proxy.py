"""The thinnest Python proxies (uvicorn + httptools + uvloop + orjson, no auth/routing/accounting):
the ceilings a Python gateway is measured against. One file, two knobs:

  THIN_CLIENT  aiohttp        the upstream client as the original ceiling used it (a pooled session)
               aiohttp-tuned  the same with per-request work removed (no cookie jar, no decompression)
               reqwest        pyreqwest, a Rust (reqwest/hyper) client
  THIN_MODE    rewrite  JSON: parse the reply, set "model", re-encode. SSE: the same for every event,
                        each sent as soon as it is complete (what a gateway must at least do)
               pipe     pass the upstream's bytes through as they arrive, JSON or SSE (the streaming
                        ceiling: no parsing at all)

A request with "stream": true goes to the mock's SSE route. Run (run_overhead.sh does):
  THIN_CLIENT=reqwest uvicorn thin_proxy:app --port 14101 --loop uvloop --http httptools --no-access-log"""

import os

import orjson

UPSTREAM = os.environ.get("THIN_UPSTREAM", "http://127.0.0.1:18080")
CLIENT = os.environ.get("THIN_CLIENT", "aiohttp")
PIPE = os.environ.get("THIN_MODE", "rewrite") == "pipe"
HEADERS = {"content-type": "application/json", "authorization": "Bearer upstream"}
_client = None


def _open():
    if CLIENT == "reqwest":
        from pyreqwest.client import ClientBuilder

        return ClientBuilder().build()
    import aiohttp

    if CLIENT == "aiohttp":
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent",),
    )


class _Upstream:
    """POST and hold the response: ``status``, ``content_type``, ``read()`` the whole body or
    ``chunks()`` as they arrive."""

    def __init__(self, url, body):
        self.url, self.body = url, body

    async def __aenter__(self):
        if CLIENT == "reqwest":
            # read-ahead 1 byte: chunks as they arrive (the default waits for 64 KiB or the end)
            request = _client.post(self.url).headers(HEADERS).body_bytes(self.body)
            self._cm = request.streamed_read_buffer_limit(1).build_streamed()
            self._resp = await self._cm.__aenter__()
            self.content_type = self._resp.get_header("content-type") or "application/json"
        else:
            self._cm = _client.post(self.url, data=self.body, headers=HEADERS)
            self._resp = await self._cm.__aenter__()
            self.content_type = self._resp.headers.get("content-type", "application/json")
        self.status = self._resp.status
        return self

    async def __aexit__(self, *exc):
        await self._cm.__aexit__(*exc)

    async def read(self):
        if CLIENT == "reqwest":
            return bytes(await self._resp.bytes())
        return await self._resp.read()

    async def chunks(self):
        if CLIENT == "reqwest":
            reader = self._resp.body_reader
            while (chunk := await reader.read_chunk()) is not None:
                yield bytes(chunk)
        else:
            async for chunk in self._resp.content.iter_any():
                yield chunk


def _rewrite_events(buffer, model):
    """Complete SSE events of ``buffer`` with "model" replaced, and the incomplete rest."""
    *events, rest = buffer.split(b"\n\n")
    out = []
    for event in events:
        if event.startswith(b"data: {"):
            chunk = orjson.loads(event[6:])
            chunk["model"] = model
            event = b"data: " + orjson.dumps(chunk)
        out.append(event + b"\n\n")
    return b"".join(out), rest


async def _lifespan(receive, send):
    global _client
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _client = _open()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _client.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    stream = b'"stream":true' in body
    url = UPSTREAM + ("/stream/v1/chat/completions" if stream else "/v1/chat/completions")
    model = None if PIPE else orjson.loads(body)["model"]
    async with _Upstream(url, body if PIPE else orjson.dumps(orjson.loads(body))) as up:
        start = {
            "type": "http.response.start",
            "status": up.status,
            "headers": [(b"content-type", up.content_type.encode())],
        }
        if not stream and not PIPE:  # whole JSON reply, rewritten
            reply = orjson.loads(await up.read())
            reply["model"] = model
            await send(start)
            await send({"type": "http.response.body", "body": orjson.dumps(reply)})
            return
        await send(start)
        pending = b""
        async for chunk in up.chunks():
            if not PIPE:
                chunk, pending = _rewrite_events(pending + chunk, model)
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
