"""The request log never loses a line, even while a library silences the process's stderr."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import httpx

from tests.conftest import openai_model

SILENCED_WHILE_EMITTING = textwrap.dedent(
    """
    import os, sys
    from unigate.observability.logs import LogSetup

    setup = LogSetup(fmt="json")
    # what llama-cpp-python does while it loads a model with verbose=False
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    sys.stderr = open(os.devnull, "w")
    for i in range(5):
        setup.emit({"event": "request", "request_id": f"r{i}"})
    setup.close()
    os.dup2(saved, 2)
    """
)


def test_lines_written_while_stderr_points_to_devnull_still_arrive():
    done = subprocess.run([sys.executable, "-c", SILENCED_WHILE_EMITTING], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["request_id"] for line in done.stderr.splitlines() if line.startswith("{")]
    assert ids == [f"r{i}" for i in range(5)]


def test_every_request_has_its_line_while_the_local_embedding_model_loads(start_gateway, upstream):
    gateway = start_gateway(
        {
            "discover_providers": False,
            "local_model": {"enabled": True, "warmup": False},
            "models": [openai_model("cloud", upstream.base_url)],
        },
        env={"UNIGATE_LOG_LEVEL": "INFO"},
    )

    async def traffic() -> list[str]:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=120) as client:

            async def chat(i: int) -> httpx.Response:
                await asyncio.sleep(i * 0.02)  # spread over the embedding model's load
                body = {"model": "cloud", "messages": [{"role": "user", "content": f"hi {i}"}]}
                return await client.post("/chat/completions", json=body)

            embed = client.post("/embeddings", json={"model": "local/smollm2-135m", "input": "first embedding"})
            replies = await asyncio.gather(embed, *(chat(i) for i in range(40)))
        assert [r.status_code for r in replies] == [200] * len(replies)
        return [r.headers["x-request-id"] for r in replies]

    request_ids = asyncio.run(traffic())
    gateway.stop()  # a clean stop drains the log
    logged = set()
    for line in gateway.log_path.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "request":
                logged.add(record["request_id"])
    assert set(request_ids) <= logged
