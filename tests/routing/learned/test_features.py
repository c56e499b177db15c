from __future__ import annotations

import numpy as np
import pytest

from unigate.routing.learned import features as F

ZIPF = {"the": 7.7, "which": 6.5, "following": 5.5, "is": 7.5, "of": 7.5, "cat": 4.9}
MC = "Which of the following is NOT a mammal?\nA. cat\nB. dog\nC. whale\nD. lizard\nAnswer:"


def _f(prompt: str) -> dict[str, float]:
    return dict(zip(F.DENSE_NAMES, F.dense_features(prompt, ZIPF).tolist(), strict=True))


def test_vector_shape_and_determinism() -> None:
    a = F.dense_features(MC, ZIPF)
    assert a.shape == (F.N_DENSE,)
    assert np.array_equal(a, F.dense_features(MC, ZIPF))
    assert np.all(np.isfinite(a))
    assert F.dense_features("", ZIPF).shape == (F.N_DENSE,)


def test_split_options() -> None:
    stem, opts = F.split_options(MC)
    assert stem.startswith("Which") and stem.endswith("mammal?\n")
    assert opts == ["cat", "dog", "whale", "lizard"]
    assert F.split_options("no options here") == ("no options here", [])


def test_multiple_choice_structure_and_negation() -> None:
    f = _f(MC)
    assert f["n_options"] == 4 and f["has_options"] == 1
    assert f["which_of_following"] == 1
    assert f["neg_upper"] > 0
    assert _f(MC.replace("NOT", "an example of"))["neg_upper"] == 0


def test_paired_statement_options() -> None:
    p = "Statement 1 | Every group is abelian. Statement 2 | Z is a ring.\nA. True, True\nB. False, False\nC. True, False\nD. False, True"
    f = _f(p)
    assert f["paired_statements"] > 0
    assert f["option_boolean_pair_frac"] == 1.0


def test_math_code_and_instruction_signals() -> None:
    math_p = (
        "Janet has 3 apples and buys 2.5 kg more at $4 per kg. If x = 2y + 3, how many dollars did she spend in total?"
    )
    code_p = (
        "Write a Python function:\n```python\ndef f(xs):\n    return sorted(xs)\n```\nExplain the runtime complexity."
    )
    plain = "Tell me about cats."
    fm, fc, fp = _f(math_p), _f(code_p), _f(plain)
    assert fm["log_numbers"] > fp["log_numbers"]
    assert fm["money"] > 0 and fm["quant_words"] > 0 and fm["equations"] > 0 and fm["units"] > 0
    assert fc["code"] > 0 and fc["code_words"] > 0 and fc["instruction"] > 0
    assert fp["code"] == 0 and fp["money"] == 0


def test_word_rarity_uses_the_table() -> None:
    common = _f("the cat is the cat")
    rare = _f("the stylomastoid foramen lesion")
    assert common["zipf_mean"] > rare["zipf_mean"]
    assert rare["zipf_oov_frac"] > common["zipf_oov_frac"]


def test_long_prompts_are_clipped() -> None:
    long = "word " * 100_000
    assert len(F.clip_text(long)) <= F.MAX_CHARS + 1
    assert F.dense_features(long, ZIPF).shape == (F.N_DENSE,)


@pytest.mark.parametrize("prompt", ["x", "12", "a b", "A. only\nB. two"])
def test_tokens_and_tfidf(prompt: str) -> None:
    toks = F.tokens(prompt)
    assert all(t == t.lower() for t in toks)
    vocab = {t: i for i, t in enumerate(sorted(set(toks)))}
    idx, vals = F.sparse_features(prompt, vocab, np.ones(len(vocab)))
    if len(idx):
        assert float(np.dot(vals, vals)) == pytest.approx(1.0)
    d, i2, _v2 = F.featurize(prompt, ZIPF, vocab, np.ones(len(vocab)))
    assert np.array_equal(np.sort(idx), np.sort(i2)) and d.shape == (F.N_DENSE,)
