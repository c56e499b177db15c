"""CLI subcommands for the learned router; ``add_commands(subparsers)`` plugs them into any argparse CLI.

    route-score [--router NAME|PATH]                       stdin {"id","prompt"} lines → {"id","score"}
    router train [--data DIR|JSONL] [--out PATH]
    router eval [--data ...] [--router ...] [--folds K] [--subjects-limit N] [--limit N] [--png PATH]
    router calibrate (--target-strong-share X | --target-pgr X) [--prompts JSONL] [--router ...]

Heavy modules are imported inside the handlers, so building the parser costs nothing.
Also runnable on its own: ``python -m unigate.routing.learned ...``.
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
    from unigate.routing.learned.data import DATA_ENV_VAR, DataError, find_default_data_dir

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


def _excluded_groups(data: Path, keep_all: bool) -> tuple[str, ...]:
    from unigate.routing.learned.data import MMLU_LABEL_ARTIFACTS

    return () if keep_all or not data.is_dir() else MMLU_LABEL_ARTIFACTS


def _cmd_train(args: argparse.Namespace) -> int:
    from unigate.routing.learned.data import DataError, load_dataset
    from unigate.routing.learned.evaluate import calibration_points, cross_validate
    from unigate.routing.learned.model import BUILTIN
    from unigate.routing.learned.train import TrainConfig, feature_matrix, train

    try:
        data = _resolve_data(args.data)
        examples = load_dataset(data)
    except DataError as e:
        return _err(str(e))
    out = Path(args.out) if args.out else BUILTIN["mmlu"]
    name = args.name or (out.stem if args.out else "mmlu")
    exclude = _excluded_groups(data, args.keep_all_subjects)
    x = feature_matrix([e.prompt for e in examples])
    meta: dict[str, object] = {"name": name, "data": data.name, "default_threshold": 0.7}
    n_groups = len({e.group for e in examples})
    if args.calibration_folds and n_groups >= 2:
        res = cross_validate(examples, args.calibration_folds, TrainConfig(l2=args.l2), x=x, exclude_groups=exclude)
        rep = res.report
        meta["calibration"] = {
            "source": f"leave-groups-out cross-validation, {len(res.fold_apgr)} folds (held-out PGR)",
            "apgr": round(rep.apgr, 4),
            "cpt50": round(rep.cpt50, 4),
            "cpt80": round(rep.cpt80, 4),
            "points": calibration_points(res),
        }
    art = train(examples, TrainConfig(l2=args.l2), meta=meta, x=x, exclude_groups=exclude)
    art.save(out)
    print(_dumps({"artifact": str(out), "name": name, "n_train": art.meta["n_train"], "groups": art.meta["groups"]}))
    return 0


# ---------------------------------------------------------------- router eval


def _select(examples: list[Any], subjects_limit: int | None, limit: int | None, seed: int) -> list[Any]:
    import numpy as np

    if subjects_limit:
        keep = sorted({e.group for e in examples})[:subjects_limit]
        examples = [e for e in examples if e.group in set(keep)]
    if limit and limit < len(examples):
        idx = np.random.default_rng(seed).permutation(len(examples))[:limit]
        examples = [examples[i] for i in sorted(idx)]
    return examples


def _cmd_eval(args: argparse.Namespace) -> int:
    import numpy as np

    from unigate.routing.learned import metrics as M
    from unigate.routing.learned.data import DataError, load_dataset
    from unigate.routing.learned.evaluate import cross_validate, format_table
    from unigate.routing.learned.model import ArtifactError, load_router
    from unigate.routing.learned.train import TrainConfig

    try:
        data = _resolve_data(args.data)
        examples = _select(load_dataset(data), args.subjects_limit, args.limit, args.seed)
    except DataError as e:
        return _err(str(e))
    if len(examples) < 20:
        return _err(f"only {len(examples)} examples selected; need at least 20")
    weak = np.asarray([e.weak_q for e in examples])
    strong = np.asarray([e.strong_q for e in examples])
    if strong.mean() <= weak.mean():
        return _err("the strong model is not better than the weak one on this data: PGR is undefined")
    n_groups = len({e.group for e in examples})

    if args.router:
        try:
            router = load_router(args.router)
        except ArtifactError as e:
            return _err(str(e))
        scores = router.score_many([e.prompt for e in examples])
        label = f"{args.router} (as given, NOT held-out)"
        fold_line = ""
    else:
        if n_groups < 2:
            return _err("leave-groups-out evaluation needs at least 2 groups (subjects)")
        exclude = _excluded_groups(data, args.keep_all_subjects)
        res = cross_validate(examples, args.folds, TrainConfig(l2=args.l2), exclude_groups=exclude)
        scores = res.scores
        k = len(res.fold_apgr)
        label = f"learned (leave-subjects-out, {k} folds)"
        fold_line = f"per-fold APGR (each fold's own curve): mean {np.nanmean(res.fold_apgr):.4f}  " + " ".join(
            f"{a:.3f}" for a in res.fold_apgr
        )
    rows = [
        (label, M.report(scores, weak, strong)),
        ("random (expected)", M.report(M.random_scores(len(weak)), weak, strong)),
        ("oracle (true gain)", M.report(M.oracle_scores(weak, strong), weak, strong)),
    ]
    print(f"data: {data}  groups: {n_groups}")
    print(format_table(rows, float(weak.mean()), float(strong.mean()), len(examples)))
    if fold_line:
        print(fold_line)
    if args.png:
        from unigate.routing.learned.plot import plot_curves

        curves = []
        for name, s in (
            (label, scores),
            ("random", M.random_scores(len(weak))),
            ("oracle", M.oracle_scores(weak, strong)),
        ):
            x, q = M.quality_curve(s, weak, strong)
            curves.append((name, x, q))
        path = plot_curves(curves, float(weak.mean()), float(strong.mean()), args.png)
        print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------- router calibrate


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import numpy as np

    from unigate.routing.learned.calibrate import for_pgr, for_strong_share
    from unigate.routing.learned.data import DataError, Example, load_dataset, parse_record
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
    rs.add_argument("--router", default="mmlu", help="built-in router name or artifact path (default: mmlu)")
    rs.set_defaults(func=_cmd_route_score)

    rt = subparsers.add_parser("router", help="train / evaluate / calibrate the learned strong-weak router")
    sub = rt.add_subparsers(dest="router_command", required=True)
    data_help = "MMLU routing data dir or a JSONL file (default: $UNIGATE_ROUTING_DATA or datasets/routing-data)"

    keep_help = (
        "also train on MMLU subjects with broken strong-model labels (high_school_mathematics: GPT-4 at 3%%); "
        "they are always evaluated"
    )

    tr = sub.add_parser("train", help="train a router artifact")
    tr.add_argument("--data", help=data_help)
    tr.add_argument("--out", help="artifact path (default: the packaged mmlu artifact)")
    tr.add_argument("--name", help="name stored in the artifact")
    tr.add_argument("--l2", type=float, default=0.01, help=argparse.SUPPRESS)
    tr.add_argument("--keep-all-subjects", action="store_true", help=keep_help)
    tr.add_argument(
        "--calibration-folds",
        type=int,
        default=5,
        help="store the held-out PGR-vs-share curve from K-fold leave-groups-out CV in the artifact (0 = skip)",
    )
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("eval", help="leave-subjects-out evaluation: APGR, CPT(50%%), CPT(80%%), baselines")
    ev.add_argument("--data", help=data_help)
    ev.add_argument("--router", help="evaluate this artifact as-is instead of cross-validating the recipe")
    ev.add_argument("--folds", type=int, default=5, help="number of subject folds (0 = leave-one-subject-out)")
    ev.add_argument("--subjects-limit", type=int, help="use only the first N subjects (alphabetical)")
    ev.add_argument("--limit", type=int, help="use a random sample of N prompts")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--png", help="write the quality vs strong-share plot here")
    ev.add_argument("--l2", type=float, default=0.01, help=argparse.SUPPRESS)
    ev.add_argument("--keep-all-subjects", action="store_true", help=keep_help)
    ev.set_defaults(func=_cmd_eval)

    ca = sub.add_parser("calibrate", help="choose a score threshold for a routing target")
    tgt = ca.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--target-strong-share", type=_share_arg, help="max share of calls to the strong model")
    tgt.add_argument("--target-pgr", type=_share_arg, help="share of the quality gap to recover")
    ca.add_argument("--prompts", help="JSONL of {'prompt': ...} (labels needed for --target-pgr)")
    ca.add_argument("--data", help=data_help + "; used when --prompts is not given")
    ca.add_argument("--router", default="mmlu", help="built-in router name or artifact path")
    ca.set_defaults(func=_cmd_calibrate)

    # training data from the gateway's own traffic: feedback scores joined with recorded prompts
    from unigate.routing.auto.commands import add_export_feedback

    add_export_feedback(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m unigate.routing.learned")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
