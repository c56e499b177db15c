"""``unigate keys …``, ``unigate teams …``, ``unigate usage``, ``unigate db upgrade`` and ``unigate db quarantine``.

These talk to the database directly (the one in ``--config``: ``database_url``, or the SQLite
file in ``data_dir``), so they work without a running gateway and without the master key.
Running gateways pick changes up within ``accounts.key_cache_ttl`` seconds (a second when they
share Redis). Live balances (including in-flight reservations) are in ``GET /admin/keys/{id}``;
the figures here are the durable ones (the ledger as written so far).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

Runner = Callable[[Any, argparse.Namespace], Awaitable[Any]]


def _limit_arguments(parser: argparse.ArgumentParser, *, key: bool) -> None:
    parser.add_argument("--name")
    parser.add_argument("--credit", type=float, help="prepaid credit in USD")
    parser.add_argument("--budget", type=float, help="spend limit in USD per --period")
    parser.add_argument("--period", choices=("day", "week", "month"))
    parser.add_argument("--rpm", type=int, help="requests per minute")
    parser.add_argument("--tpm", type=int, help="tokens per minute")
    parser.add_argument("--max-concurrency", type=int)
    if key:
        parser.add_argument("--team", help="team id")
        parser.add_argument("--owner")
        parser.add_argument("--tags", help="comma-separated")
        parser.add_argument("--models", help="comma-separated allowlist of public model names")
        parser.add_argument("--expires", help="ISO 8601 date/time or unix time")
    parser.add_argument("--disable", action="store_true")
    parser.add_argument("--enable", action="store_true")


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for arg, name in (
        ("name", "name"),
        ("credit", "credit"),
        ("budget", "budget"),
        ("period", "budget_period"),
        ("rpm", "rpm"),
        ("tpm", "tpm"),
        ("max_concurrency", "max_concurrency"),
        ("team", "team_id"),
        ("owner", "owner"),
    ):
        value = getattr(args, arg, None)
        if value is not None:
            fields[name] = value
    for arg in ("tags", "models"):
        value = getattr(args, arg, None)
        if value is not None:
            fields[arg] = [item.strip() for item in value.split(",") if item.strip()]
    expires = getattr(args, "expires", None)
    if expires is not None:
        fields["expires_at"] = float(expires) if expires.replace(".", "", 1).isdigit() else expires
    if args.disable:
        fields["enabled"] = False
    if args.enable:
        fields["enabled"] = True
    return fields


def _print(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


async def _with_store(args: argparse.Namespace, run: Runner) -> int:
    from unigate.accounts.db import create_engine, upgrade
    from unigate.accounts.store import Store
    from unigate.config import ConfigError, load_config, unresolved_env

    # These commands write to the database only: provider keys and the master key may live in
    # variables of the serving environment that this shell does not have.
    config = load_config(args.config, require_env=False)
    for field in ("database_url", "data_dir"):
        name = unresolved_env(getattr(config, field))
        if name is not None:
            raise ConfigError([f"{args.config}: {field}: environment variable {name} is not set"])
    store = Store(create_engine(config))
    try:
        await upgrade(store.engine)
        result = await run(store, args)
    finally:
        await store.aclose()
    return int(result or 0)


def _command(run: Runner) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        from unigate.config import ConfigError
        from unigate.errors import GatewayError

        try:
            return asyncio.run(_with_store(args, run))
        except ConfigError as exc:
            print(f"unigate: configuration error\n{exc}", file=sys.stderr)
            return 2
        except GatewayError as exc:
            print(f"unigate: {exc.message}", file=sys.stderr)
            return 1

    return handler


# -- keys ------------------------------------------------------------------------------------


async def _keys_create(store: Any, args: argparse.Namespace) -> int:
    from unigate.accounts.models import hash_secret, new_id, new_secret
    from unigate.accounts.views import key_view, parse_account_fields

    fields = _fields(args)
    if not fields.get("name"):
        print("unigate: --name is required", file=sys.stderr)
        return 2
    values = parse_account_fields(fields, set(fields))
    if values.get("team_id") is not None and await store.team(values["team_id"]) is None:
        print(f"unigate: no team with id {values['team_id']}", file=sys.stderr)
        return 1
    secret = new_secret()
    key_id = new_id("key")
    await store.insert_key({"id": key_id, "secret_hash": hash_secret(secret), "prefix": secret[:10], **values})
    _print({**key_view(await store.key(key_id)), "key": secret})
    print("unigate: the secret above is shown once; it is stored only as a hash.", file=sys.stderr)
    return 0


async def _keys_list(store: Any, args: argparse.Namespace) -> int:
    from unigate.accounts.views import key_view

    rows = await store.list_keys(args.team, args.all)
    if args.json:
        _print([key_view(row) for row in rows])
        return 0
    print(f"{'id':22} {'name':20} {'team':22} {'credit $':>10} {'spent $':>10} {'rpm':>6}  state")
    for row in rows:
        view = key_view(row)
        state = "revoked" if view["revoked"] else ("enabled" if view["enabled"] else "disabled")
        credit = "-" if view["credit"] is None else f"{view['credit']:.4f}"
        print(
            f"{view['id']:22} {view['name'][:20]:20} {view['team_id'] or '-':22} {credit:>10} "
            f"{view['spent']:>10.4f} {view['rpm'] or '-':>6}  {state}"
        )
    return 0


async def _keys_update(store: Any, args: argparse.Namespace) -> int:
    from unigate.accounts.views import KEY_FIELDS as _KEY_FIELDS
    from unigate.accounts.views import key_view, parse_account_fields

    values = parse_account_fields(_fields(args), _KEY_FIELDS)
    if not await store.update_key(args.id, values):
        print(f"unigate: no key with id {args.id}", file=sys.stderr)
        return 1
    _print(key_view(await store.key(args.id)))
    return 0


async def _keys_revoke(store: Any, args: argparse.Namespace) -> int:
    if not await store.update_key(args.id, {"revoked_at": time.time(), "enabled": False}):
        print(f"unigate: no key with id {args.id}", file=sys.stderr)
        return 1
    print(f"revoked {args.id}")
    return 0


async def _topup(store: Any, args: argparse.Namespace) -> int:
    from unigate.accounts.models import to_nano

    kind = "key" if args.id.startswith("key_") else "team"
    done = await (store.topup_key if kind == "key" else store.topup_team)(args.id, to_nano(args.amount))
    if not done:
        print(f"unigate: no {kind} with id {args.id}", file=sys.stderr)
        return 1
    print(f"added ${args.amount} to {args.id}")
    return 0


# -- teams -----------------------------------------------------------------------------------


async def _teams_create(store: Any, args: argparse.Namespace) -> int:
    from unigate.accounts.models import new_id
    from unigate.accounts.views import parse_account_fields, team_view

    fields = _fields(args)
    if not fields.get("name"):
        print("unigate: --name is required", file=sys.stderr)
        return 2
    team_id = new_id("team")
    await store.insert_team({"id": team_id, **parse_account_fields(fields, set(fields))})
    _print(team_view(await store.team(team_id)))
    return 0


async def _teams_list(store: Any, args: argparse.Namespace) -> int:
    from unigate.accounts.views import team_view

    _print([team_view(row) for row in await store.list_teams()])
    return 0


# -- usage and db ----------------------------------------------------------------------------


async def _usage(store: Any, args: argparse.Namespace) -> int:
    from unigate.accounts.models import to_usd
    from unigate.accounts.views import parse_timestamp as _timestamp

    filters = {"key_id": args.key, "team_id": args.team, "model": args.model, "provider": args.provider}
    filters |= {"since": _timestamp(args.since, "since"), "until": _timestamp(args.until, "until")}
    data, totals = await store.usage(filters, args.group_by, args.limit)
    for item in (*data, totals):
        item["cost"] = to_usd(int(item.pop("cost_nusd") or 0))
    if args.json:
        _print({"group_by": args.group_by, "data": data, "total": totals})
        return 0
    if args.group_by:
        print(f"{args.group_by:30} {'requests':>9} {'in tok':>10} {'out tok':>10} {'cost $':>12} {'errors':>7}")
        for item in data:
            print(
                f"{item['group'] or '-':30} {item['requests']:>9} {item['input_tokens']:>10} "
                f"{item['output_tokens']:>10} {item['cost']:>12.6f} {item['errors']:>7}"
            )
    else:
        for item in data:
            print(
                f"{item['request_id']:38} {item['model'][:24]:24} {item['status']:9} "
                f"{item['input_tokens']:>7} {item['output_tokens']:>7} {item['cost']:>11.6f}"
            )
    print(f"total: {totals['requests']} requests, ${totals['cost']:.6f}")
    return 0


async def _db_quarantine(store: Any, args: argparse.Namespace) -> int:
    """The ledger records the database refused (kept whole, with the reason; their cost still
    counts as spent): what an operator looks at after the gateway logged 'quarantined'."""
    from unigate.accounts.models import iso, to_usd

    rows = await store.quarantined(args.limit)
    for row in rows:
        row["ts"] = iso(row["ts"])
        row["cost"] = to_usd(int(row.pop("cost_nusd") or 0))
    if args.json:
        _print(rows)
        return 0
    for row in rows:
        print(
            f"{row['ts']}  {row['request_id'] or '-':38} {row['key_id'] or '-':24} ${row['cost']:.6f}  {row['error']}"
        )
    print(
        f"{len(rows)} quarantined ledger record(s)"
        + (" (newest first; --limit shows more)" if len(rows) == args.limit else "")
    )
    return 0


async def _db_upgrade(store: Any, args: argparse.Namespace) -> int:
    print(f"database is at the latest accounts schema ({store.engine.url.render_as_string(hide_password=True)})")
    return 0


def add_commands(sub: Any) -> None:
    def config_arg(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--config", "-c", help="YAML config file (its database_url / data_dir)")
        return parser

    keys = sub.add_parser("keys", help="virtual keys: create, list, update, revoke, topup")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = config_arg(keys_sub.add_parser("create", help="create a key (prints the secret once)"))
    _limit_arguments(create, key=True)
    create.set_defaults(func=_command(_keys_create))
    listing = config_arg(keys_sub.add_parser("list", help="list keys"))
    listing.add_argument("--team")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_command(_keys_list))
    update = config_arg(keys_sub.add_parser("update", help="change a key's settings"))
    update.add_argument("id")
    _limit_arguments(update, key=True)
    update.set_defaults(func=_command(_keys_update))
    revoke = config_arg(keys_sub.add_parser("revoke", help="revoke a key"))
    revoke.add_argument("id")
    revoke.set_defaults(func=_command(_keys_revoke))
    topup = config_arg(keys_sub.add_parser("topup", help="add USD credit to a key or team"))
    topup.add_argument("id")
    topup.add_argument("amount", type=float)
    topup.set_defaults(func=_command(_topup))

    teams = sub.add_parser("teams", help="teams: create, list, topup")
    teams_sub = teams.add_subparsers(dest="teams_command", required=True)
    team_create = config_arg(teams_sub.add_parser("create"))
    _limit_arguments(team_create, key=False)
    team_create.set_defaults(func=_command(_teams_create))
    config_arg(teams_sub.add_parser("list")).set_defaults(func=_command(_teams_list))
    team_topup = config_arg(teams_sub.add_parser("topup"))
    team_topup.add_argument("id")
    team_topup.add_argument("amount", type=float)
    team_topup.set_defaults(func=_command(_topup))

    usage = config_arg(sub.add_parser("usage", help="the usage ledger: rows or totals per group"))
    usage.add_argument("--group-by", choices=("key", "team", "model", "provider", "deployment", "day", "status"))
    for name in ("key", "team", "model", "provider", "since", "until"):
        usage.add_argument(f"--{name}")
    usage.add_argument("--limit", type=int, default=100)
    usage.add_argument("--json", action="store_true")
    usage.set_defaults(func=_command(_usage))

    db = sub.add_parser("db", help="the accounts database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    config_arg(db_sub.add_parser("upgrade", help="apply migrations")).set_defaults(func=_command(_db_upgrade))
    quarantine = config_arg(db_sub.add_parser("quarantine", help="ledger records the database refused, newest first"))
    quarantine.add_argument("--limit", type=int, default=100)
    quarantine.add_argument("--json", action="store_true")
    quarantine.set_defaults(func=_command(_db_quarantine))
