"""``unigate compare``: the command line around :mod:`unigate.compare`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import orjson

EPILOG = """examples:
  unigate compare --models local/smollm2-135m,gpt-4o-mini --prompts examples/prompts/classification.jsonl
  unigate compare --gateway http://127.0.0.1:4000 --key $UNIGATE_KEY --models a,b \\
      --prompts examples/prompts/reasoning.jsonl --judge gpt-4o --judge-mode pairwise --out report.html
"""


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="run a prompt set through several models: latency, cost and quality side by side",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", "-m", required=True, help="comma-separated public model names")
    parser.add_argument("--prompts", "-p", required=True, help="prompt set (JSON Lines, see docs/compare.md)")
    parser.add_argument("--judge", help="model that grades answers without a deterministic check")
    parser.add_argument(
        "--judge-mode",
        choices=("single", "pairwise"),
        default="single",
        help="single: grade each answer 1-10; pairwise: each model against the first one",
    )
    parser.add_argument("--gateway", help="URL of a running gateway (default: run one in-process from --config)")
    parser.add_argument("--key", help="API key for --gateway (default: $UNIGATE_API_KEY)")
    parser.add_argument("--config", "-c", help="gateway config for the in-process gateway")
    parser.add_argument("--concurrency", "-j", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--max-tokens", type=int, help="max_tokens for prompts that do not set it")
    parser.add_argument("--out", "-o", help="write the HTML report here")
    parser.add_argument("--json", help="write the raw results as JSON here")
    parser.add_argument("--title", default="unigate compare")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from unigate.compare.prompts import PromptSetError, load_prompts

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models:
        print("unigate compare: --models is empty", file=sys.stderr)
        return 2
    try:
        cases = load_prompts(args.prompts)
    except (OSError, PromptSetError) as exc:
        print(f"unigate compare: {exc}", file=sys.stderr)
        return 2
    if args.max_tokens:
        for case in cases:
            case.params.setdefault("max_tokens", args.max_tokens)
    try:
        return asyncio.run(_run(args, models, cases))
    except _Usage as exc:
        print(f"unigate compare: {exc}", file=sys.stderr)
        return 2


class _Usage(Exception):
    pass


async def _transport(args: argparse.Namespace) -> Any:
    from unigate.compare.client import HttpTransport, InProcessTransport

    if args.gateway:
        return HttpTransport(args.gateway, args.key or os.environ.get("UNIGATE_API_KEY"))
    from unigate.config import ConfigError, load_config
    from unigate.gateway import Gateway

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise _Usage(f"configuration error\n{exc}") from exc
    gateway = Gateway(config)
    await gateway.start()
    return InProcessTransport(gateway)


async def _run(args: argparse.Namespace, models: list[str], cases: list[Any]) -> int:
    from unigate.compare.report import render
    from unigate.compare.runner import run
    from unigate.compare.stats import summarize, table

    transport = await _transport(args)
    try:
        result = await run(
            transport,
            models,
            cases,
            concurrency=args.concurrency,
            judge=args.judge,
            judge_mode=args.judge_mode,
            quiet=args.quiet,
        )
    finally:
        await transport.aclose()
    rows = summarize(result)
    print(table(rows, result))
    if args.out:
        Path(args.out).write_text(render(result, rows, title=args.title, source=str(args.prompts)), encoding="utf-8")
        print(f"report: {args.out}", file=sys.stderr)
    if args.json:
        payload = {
            "summary": [r.as_dict() for r in rows],
            "calls": [
                {
                    k: getattr(c, k)
                    for k in (
                        "model",
                        "case_id",
                        "text",
                        "ttft_ms",
                        "latency_ms",
                        "input_tokens",
                        "output_tokens",
                        "cost",
                        "request_id",
                        "deployment",
                        "score",
                        "note",
                        "error",
                    )
                }
                for m in models
                for c in result.calls[m].values()
            ],
            "judge": {"model": result.judge, "mode": result.judge_mode, "cost": result.judge_cost},
        }
        Path(args.json).write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    failed = all(c.error for m in models for c in result.calls[m].values())
    return 1 if failed else 0
