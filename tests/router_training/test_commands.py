from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from unigate.router_training.commands import add_commands, route_score_stream
from unigate.routing.learned.model import load_router

PROMPTS = [
    {"id": 1, "prompt": "What is 2 + 2?"},
    {"id": "b", "prompt": "Statement 1 | A. Statement 2 | B.\nA. True, True\nB. False, False\nAnswer:"},
    {"id": None, "prompt": "Write a haiku about autumn."},
]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unigate")
    add_commands(p.add_subparsers(dest="command", required=True))
    return p


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    args = _parser().parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_route_score_subprocess_round_trip() -> None:
    stdin = "\n".join(json.dumps(p) for p in PROMPTS) + "\n"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "unigate.router_training", "route-score"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["id"] for line in lines] == [p["id"] for p in PROMPTS]
    router = load_router("default")
    for line, p in zip(lines, PROMPTS, strict=True):
        assert 0.0 <= line["score"] <= 1.0
        assert line["score"] == pytest.approx(router.score(p["prompt"]), abs=1e-6)


def test_route_score_reports_bad_lines_in_order() -> None:
    out = io.StringIO()
    code = route_score_stream("default", io.StringIO('{"id": 1, "prompt": "hi"}\nnot json\n{"id": 3}\n'), out)
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert code == 1
    assert "score" in rows[0] and "error" in rows[1] and rows[2]["id"] == 3 and "error" in rows[2]


def test_parser_wiring() -> None:
    p = _parser()
    assert p.parse_args(["route-score"]).router == "default"
    a = p.parse_args(["router", "calibrate", "--target-strong-share", "0.3"])
    assert a.target_strong_share == 0.3 and callable(a.func)
    with pytest.raises(SystemExit):
        p.parse_args(["router", "calibrate", "--target-strong-share", "0.3", "--target-pgr", "0.9"])
    with pytest.raises(SystemExit):
        p.parse_args(["router", "calibrate"])


def test_eval_small_sample_reports_each_held_out_source_with_baselines(
    mmlu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = tmp_path / "eval.json"
    code, out, _ = _run(
        [
            "router", "eval", "--data", str(mmlu_dir), "--sources", "zeroeval_crux,zeroeval_math_l5,arena_bench_v1",
            "--limit-per-source", "70", "--split", "source", "--representation", "hand", "--json", str(out_json),
            "--quiet",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert "leave-one-source-out" in out and "APGR@10" in out and "CPT(80%)" in out
    results = json.loads(out_json.read_text())
    assert {r["held_out"] for r in results} == {"zeroeval_crux", "zeroeval_math_l5", "arena_bench_v1"}
    for r in results:
        assert r["n"] == 70 and r["kind"] == "source"
        assert set(r["routers"]) == {"hand", "random", "length", "current"}
        assert r["routers"]["random"]["apgr"] == pytest.approx(0.5, abs=1e-9)
        assert r["routers"]["random"]["cpt50"] == pytest.approx(0.5, abs=1e-9)
        assert 0.0 <= r["routers"]["hand"]["cpt80"] <= 1.0


def test_eval_png_draws_the_held_out_apgr_or_names_what_it_needs(
    mmlu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "heldout.png"
    argv = ["router", "eval", "--data", str(mmlu_dir), "--sources", "zeroeval_crux,arena_bench_v1"]
    argv += ["--limit-per-source", "60", "--split", "source", "--representation", "hand", "--no-current", "--quiet"]
    code, _, err = _run([*argv, "--png", str(png)], capsys)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert code == 2 and "needs matplotlib" in err and not png.exists()
    else:
        assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_on_traffic_then_score_and_calibrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "feedback.jsonl"
    rows = []
    for i in range(80):
        if i % 2:
            rows.append(
                {"prompt": f"Compute {i} * 37 + 12 dollars step by step", "weak_correct": False, "strong_correct": True}
            )
        else:
            rows.append({"prompt": f"hello there friend {i}", "winner": "tie"})
    data.write_text("\n".join(json.dumps(r) for r in rows))
    out_path = tmp_path / "mine.npz"
    code, out, _ = _run(
        ["router", "train", "--traffic-only", "--from-feedback", str(data), "--out", str(out_path), "--quiet"], capsys
    )
    assert code == 0, out
    summary = json.loads(out)
    assert summary["rows"] == 80 and summary["traffic_rows"] == 80 and out_path.exists()
    r = load_router(out_path)
    assert r.score("Compute 5 * 37 + 12 dollars step by step") > r.score("hello there friend 3")
    assert "80 prompts" in r.artifact.meta["quantiles_from"]

    code, out, _ = _run(
        ["router", "calibrate", "--router", str(out_path), "--prompts", str(data), "--target-pgr", "0.9"], capsys
    )
    cal = json.loads(out)
    assert code == 0 and cal["pgr"] >= 0.9 and 0 < cal["strong_share"] <= 1
    code, out, _ = _run(
        ["router", "calibrate", "--router", str(out_path), "--prompts", str(data), "--target-strong-share", "0.25"],
        capsys,
    )
    cal = json.loads(out)
    assert code == 0 and cal["strong_share"] <= 0.25 and "threshold" in cal


def test_from_compare_needs_its_companions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "r.json"
    results.write_text("{}")
    code, _, err = _run(["router", "train", "--traffic-only", "--from-compare", str(results)], capsys)
    assert code == 2 and "--compare-prompts" in err


def test_missing_data_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _run(["router", "train", "--data", str(tmp_path / "nope")], capsys)
    assert code == 2 and "nope" in err
    monkeypatch.setenv("UNIGATE_ROUTING_DATA", str(tmp_path / "nowhere"))
    code, _, err = _run(["router", "eval"], capsys)
    assert code == 2 and "nowhere" in err
    code, _, err = _run(["router", "eval", "--split", "sideways"], capsys)
    assert code == 2 and "sideways" in err
