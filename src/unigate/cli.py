"""``unigate`` command line: serve, models, and the commands other packages contribute."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

# Packages that add their own subcommands with ``add_commands(subparsers)``.
COMMAND_MODULES = (
    "unigate.router_training.commands",
    "unigate.accounts.commands",
    "unigate.compare.commands",
)


def _serve(args: argparse.Namespace) -> int:
    from unigate.config import ConfigError, check_bind_safety, load_config

    try:
        config = load_config(args.config)
        overrides = {
            key: value
            for key, value in {"host": args.host, "port": args.port, "workers": args.workers}.items()
            if value is not None
        }
        if overrides:
            config = config.model_copy(update={"server": config.server.model_copy(update=overrides)})
        if args.no_local:
            config = config.model_copy(update={"local_model": config.local_model.model_copy(update={"enabled": False})})
        check_bind_safety(config)
    except ConfigError as exc:
        print(f"unigate: configuration error\n{exc}", file=sys.stderr)
        return 2

    from unigate.server import OVERRIDES_ENV
    from unigate.server.listen import AnnouncingServer, bind_listening_socket, served_models, startup_line

    try:
        sock = bind_listening_socket(config.server.host, config.server.port)
    except OSError as exc:
        print(f"unigate: {exc}", file=sys.stderr)
        return 1

    import uvicorn

    # everything the gateway writes (database, journals, prompts, uploads) is owner-only
    os.umask(0o077)
    logging.basicConfig(level=os.environ.get("UNIGATE_LOG_LEVEL", "INFO"), format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations on start: quiet unless they fail
    common: dict[str, Any] = {
        "loop": "uvloop" if _has("uvloop") else "asyncio",
        # httptools with a header deadline and a connection cap (server/protocol.py)
        "http": _http_protocol(),
        "access_log": False,
        "log_level": "warning",
        "timeout_keep_alive": 75,
        "backlog": 4096,
    }
    port = sock.getsockname()[1]
    if port != config.server.port:  # --port 0: the app's own links (sign-up mails, SSO) name the real port
        config = config.model_copy(update={"server": config.server.model_copy(update={"port": port})})
    if config.server.workers > 1:
        from uvicorn.supervisors import Multiprocess

        if args.config:
            os.environ["UNIGATE_CONFIG"] = os.path.abspath(args.config)
        # the workers load the file again: hand them what the command line changed
        os.environ[OVERRIDES_ENV] = json.dumps(
            {
                "server": {"host": config.server.host, "port": port},
                "local_model": {"enabled": config.local_model.enabled},
            }
        )
        uv_config = uvicorn.Config("unigate.server:app_factory", factory=True, workers=config.server.workers, **common)
        host = _state_host(config)
        try:
            print(startup_line(config, port, served_models(config)), file=sys.stderr, flush=True)
            Multiprocess(uv_config, sockets=[sock]).run()
        finally:
            if host is not None:
                host.stop()  # after the workers: they flush the ledger through it on shutdown
        return 0
    from unigate.server import create_app

    app = create_app(config)
    line = startup_line(config, port, sorted(app.gateway.groups))
    server = AnnouncingServer(uvicorn.Config(app, **common), announce=line)
    server.run(sockets=[sock])
    return 0 if server.started else 1


def _state_host(config: Any) -> Any:
    """Without Redis, this process keeps the workers' shared state (budgets, rate limits,
    cooldowns, the ledger journal) and serves it to them on a Unix socket (unigate/state/host.py).
    With ``redis_url`` the workers share Redis, as replicas on other machines do."""
    if config.redis_url:
        return None
    from pathlib import Path

    from unigate.state.host import HostThread
    from unigate.state.wire import SOCKET_ENV

    host = HostThread.for_journal(Path(config.data_dir) / "journal")
    host.start()
    os.environ[SOCKET_ENV] = str(host.host.path)  # the workers inherit it
    return host


def _arg_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535 (0: any free port), not {port}")
    return port


def _arg_workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if workers < 1:
        raise argparse.ArgumentTypeError(f"at least 1 worker, not {workers}")
    return workers


def _http_protocol() -> Any:
    if not _has("httptools"):
        return "h11"  # no header deadline or connection cap: only server.body_timeout applies
    from unigate.server.protocol import GuardedHttpToolsProtocol

    return GuardedHttpToolsProtocol


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _models(args: argparse.Namespace) -> int:
    import orjson

    from unigate.config import ConfigError, load_config
    from unigate.gateway import Gateway

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"unigate: configuration error\n{exc}", file=sys.stderr)
        return 2
    gateway = Gateway(config)
    rows = gateway.list_models()
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"{'model':44} {'provider':12} {'context':>9} {'in $/M':>8} {'out $/M':>8}  capabilities")
    for row in rows:
        price = row.get("pricing") or {}
        caps = ",".join(k for k, v in (row.get("capabilities") or {}).items() if v)
        print(
            f"{row['id']:44} {row['owned_by']:12} {row.get('context_window') or '-':>9} "
            f"{price.get('input_per_mtok', '-'):>8} {price.get('output_per_mtok', '-'):>8}  {caps}"
        )
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from unigate.config import ConfigError, load_config

    try:
        load_config(args.config, require_env=not args.no_env)
    except ConfigError as exc:
        print(f"unigate: configuration error\n{exc}", file=sys.stderr)
        return 2
    print(f"{args.config}: ok" + (" (structure; env: references not resolved)" if args.no_env else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from unigate import __version__

    parser = argparse.ArgumentParser(prog="unigate", description="One OpenAI-compatible endpoint for every model.")
    parser.add_argument("--version", action="version", version=f"unigate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", "-c", help="YAML config file (default: zero-config: local model + env keys)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=_arg_port, help="TCP port (default 4000; 0: any free port)")
    serve.add_argument(
        "--workers", type=_arg_workers, help="worker processes sharing one port and one state (default 1)"
    )
    serve.add_argument("--no-local", action="store_true", help="do not serve the embedded local model")
    serve.set_defaults(func=_serve)

    models = sub.add_parser("models", help="list the models the gateway would serve")
    models.add_argument("--config", "-c")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=_models)

    check = sub.add_parser("check-config", help="validate a config file and report every problem")
    check.add_argument("config")
    check.add_argument(
        "--no-env",
        action="store_true",
        help="check the structure only: unset env:NAME references (secrets) are not an error",
    )
    check.set_defaults(func=_check_config)

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue
            raise
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
