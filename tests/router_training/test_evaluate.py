from __future__ import annotations

import numpy as np

from unigate.router_training.data import Example
from unigate.router_training.evaluate import apgr_panels, evaluate, format_results, make_splits
from unigate.router_training.sources import Row
from unigate.router_training.train import Recipe, featurize


def rows() -> list[Row]:
    out = []
    for source, task in (("a", "math"), ("b", "math"), ("c", "chat")):
        for i in range(40):
            long = i % 2 == 0
            prompt = ("Prove that the sequence converges and find its limit. " * 3 if long else "Hi! ") + str(i)
            weak, strong = (0.0, 1.0) if long else (1.0, 1.0)
            out.append(Row(Example(prompt, weak, strong, source), source, task, "", {}, source == "a" and i < 4))
    return out


def test_leave_one_out_splits_partition_and_drop_mmlu_derived_training_rows() -> None:
    data = rows()
    splits = make_splits(data, "source")
    assert [s.name for s in splits] == ["a", "b", "c"]
    tested = np.concatenate([s.test for s in splits])
    assert sorted(tested.tolist()) == list(range(len(data)))
    for s in splits:
        assert not set(s.train) & set(s.test)
    # held-out "a" contains MMLU-derived rows: no MMLU-derived row may be trained on
    a = splits[0]
    assert not any(data[i].mmlu_derived for i in a.train)
    by_task = make_splits(data, "task_type")
    assert [s.name for s in by_task] == ["chat", "math"] and len(by_task[0].test) == 40
    folds = make_splits(data, "in-distribution", folds=4)
    assert len(folds) == 4 and sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(len(data)))


def test_mixed_splits_hold_out_every_pair_of_sources_and_rank_across_their_union() -> None:
    data = rows()
    splits = make_splits(data, "mixed")
    assert [s.name for s in splits] == ["a + b", "a + c", "b + c"]
    for s in splits:
        held = set(s.name.split(" + "))
        assert {data[i].source for i in s.test} == held and len(s.test) == 80
        assert not {data[i].source for i in s.train} & held
    # the pairs with "a" hold MMLU-derived rows: none is trained on; "b + c" keeps a's clean rows
    assert not any(data[i].mmlu_derived for s in splits[:2] for i in s.train)
    assert any(data[i].mmlu_derived for i in splits[2].train)
    feats = featurize([r.prompt for r in data], 1 << 10)
    results = evaluate(data, feats, {}, "mixed")
    text = format_results(results, ["random", "length"])
    assert "two sources held out at once" in text
    assert "mean APGR" in text and "min APGR" in text
    ((title, names, values),) = apgr_panels(results, ["random", "length"])
    assert "two sources" in title and names == ["a + b (80)", "a + c (80)", "b + c (80)"]
    assert list(values) == ["length"]  # random is the dashed line of the picture, not a series
    assert values["length"] == [r.cells["length"].apgr for r in results if r.cells["length"] is not None]


def test_each_mixed_set_is_ranked_by_the_model_trained_without_exactly_that_set() -> None:
    from unigate.router_training import metrics as M
    from unigate.router_training.train import gains, train_artifact
    from unigate.routing.learned.model import Router

    # in "c" long prompts are the easy ones: a model trained on c alone ranks a + b backwards,
    # one trained on a or b ranks it right; scores borrowed from another pair's model would show
    data = [
        r
        if r.source != "c"
        else Row(Example(r.prompt, float(len(r.prompt) > 20), 1.0, "c"), "c", "chat", "", {}, False)
        for r in rows()
    ]
    feats = featurize([r.prompt for r in data], 1 << 10)
    recipe = Recipe(representation="hand", buckets=1 << 10, profiles=False)
    results = evaluate(data, feats, {"hand": recipe}, "mixed")
    assert results[0].name == "a + b" and results[0].cells["hand"] is not None
    assert results[0].cells["hand"].apgr < 0.5
    weak = np.asarray([r.example.weak_q for r in data])
    strong = np.asarray([r.example.strong_q for r in data])
    for split, res in zip(make_splits(data, "mixed"), results, strict=True):
        art = train_artifact([data[i] for i in split.train], feats.take(split.train), recipe)
        scores = gains(Router(art), feats.take(split.test))
        expected = M.apgr(scores, weak[split.test], strong[split.test])
        assert res.cells["hand"] is not None and res.cells["hand"].apgr == expected


def test_evaluate_reports_learned_and_baselines_per_held_out_set() -> None:
    data = rows()
    feats = featurize([r.prompt for r in data], 1 << 10)
    recipes = {"hand": Recipe(representation="hand", buckets=1 << 10, profiles=False)}
    results = evaluate(data, feats, recipes, "source", current=lambda dense, prompts: np.zeros(len(prompts)))
    assert [r.name for r in results] == ["a", "b", "c"]
    for r in results:
        assert r.cells["random"] is not None and abs(r.cells["random"].apgr - 0.5) < 1e-9
        # longer prompts are exactly the ones that need the strong model here
        assert r.cells["length"] is not None and r.cells["length"].apgr > 0.7
        assert r.cells["hand"] is not None and r.cells["hand"].apgr > 0.6
        assert r.cells["current"] is not None and abs(r.cells["current"].apgr - 0.5) < 1e-9
    text = format_results(results, ["hand", "random", "length", "current"])
    assert "leave-one-source-out" in text and text.count("\n") >= 5


def test_a_set_without_a_quality_gap_is_not_scored() -> None:
    data = [Row(Example(f"q{i}", 1.0, 1.0, "s"), "s", "t", "", {}, False) for i in range(30)]
    data += [Row(Example(f"long question {i} " * 5, 0.0, 1.0, "u"), "u", "t2", "", {}, False) for i in range(30)]
    feats = featurize([r.prompt for r in data], 1 << 10)
    results = evaluate(data, feats, {}, "source")
    assert results[0].name == "s" and results[0].cells["length"] is None
