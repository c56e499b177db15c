"""``unigate router export-feedback``: feedback + recorded prompts → router training JSONL.

The ``router`` command group belongs to the learned router (``router_training/commands.py``);
it adds this subcommand with ``add_export_feedback(router_subparsers)``. Also runnable alone:
``python -m unigate.routing.auto.commands export-feedback -c unigate.yaml``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def _export(args: argparse.Namespace) -> int:
    from unigate.config import ConfigError, load_config
    from unigate.routing.auto.feedback import write_training

    data_dir = args.data_dir
    if data_dir is None:
        try:
            data_dir = load_config(args.config).data_dir
        except ConfigError as exc:
            print(f"unigate: configuration error\n{exc}", file=sys.stderr)
            return 2
    if args.out in (None, "-"):
        count = write_training(data_dir, sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8") as fh:
            count = write_training(data_dir, fh)
    print(f"exported {count} training records from {data_dir}", file=sys.stderr)
    return 0


def add_export_feedback(router_sub: Any) -> None:
    parser = router_sub.add_parser(
        "export-feedback",
        help="join /v1/feedback scores with recorded auto-routed prompts into `router train --from-feedback` JSONL",
    )
    parser.add_argument("--config", "-c", help="gateway config (for data_dir)")
    parser.add_argument("--data-dir", help="read feedback.jsonl and auto-prompts.jsonl from here")
    parser.add_argument("--out", "-o", help="output file (default: stdout)")
    parser.set_defaults(func=_export)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unigate router")
    add_export_feedback(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
