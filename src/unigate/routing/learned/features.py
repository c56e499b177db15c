"""Prompt → features, pure functions with no I/O (regexes compiled once at import).

Two parts:

- ``dense_features(prompt, zipf)``: ~50 hand-crafted, benchmark-agnostic signals (length,
  answer-option structure, negations, paired judgments, numbers and math, code, multi-step
  instructions, word rarity against a general-English frequency table ``zipf``). Names in
  ``DENSE_NAMES``.
- ``tokens(prompt)`` → lower-cased word unigrams and bigrams, for a sparse bag of n-grams
  looked up in the artifact's vocabulary (``sparse_features``).

Everything here is deterministic and cheap (tens of µs for a typical prompt).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

MAX_CHARS = 2500  # longer prompts are featurized on head + tail (length features still see the full size)

_DIGIT = re.compile(r"\d")
_CAPITAL = re.compile(r"(?<=\s)[A-Z]")
_NEG_UPPER_RE = re.compile(r"\b(?:NOT|EXCEPT|LEAST|FALSE|INCORRECT|NEVER|NO)\b")
_NEG_UPPER_WORDS = ("NOT", "EXCEPT", "LEAST", "FALSE", "INCORRECT", "NEVER", "NO")
_OPTION_LINE = re.compile(r"^[ \t]*\(?([A-Ja-j])[\.\)][ \t]+(.*)$", re.M)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_DECIMAL = re.compile(r"\d\.\d")
_MATH_OP = re.compile(r"[=+*/^<>≤≥×÷√∑∫π]")
_LATEX = re.compile(r"\$[^$\n]+\$|\\\(|\\\[|\\[a-z]+\{")
_EQUATION = re.compile(r"[a-zA-Z0-9)\]] ?[=<>] ?[-a-zA-Z0-9(]")
_UNIT = re.compile(
    r"\d\s?(?:k?m|cm|mm|nm|kg|g|mg|s|ms|min|h|hr|hours?|days?|years?|m/s|km/h|mph|"
    r"N|J|kJ|W|kW|V|A|Hz|Pa|atm|mol|M|K|°C|°F|L|mL|dollars?|cents?|percent|%)\b"
)
_MONEY = re.compile(r"\$ ?\d")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b")
_PAIRED = re.compile(r"(?:Statement|Scenario|Premise|Claim|Assertion|Reason) ?\d")
_ROMAN_ITEM = re.compile(r"(?:^|\s)(?:I|II|III|IV|V|VI)\.\s", re.M)
_ROMAN_OPTION = re.compile(r"\b(?:I|II|III|IV)(?:,| and| only| or)")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_BOOLEAN_OPT = re.compile(
    r"^(?:true|false|wrong|not wrong|yes|no|valid|invalid|correct|incorrect)(?:\s*,\s*"
    r"(?:true|false|wrong|not wrong|yes|no|valid|invalid|correct|incorrect))+\.?$",
    re.I,
)
_NUMERIC_OPT = re.compile(r"^[-+$]?\s*[\d.,/\s^*()√π%e-]+\s*[a-zA-Z/°%²³]{0,6}\.?$")
_ALL_NONE_OPT = re.compile(r"\b(?:all of the above|none of the above|both|neither)\b", re.I)
_CODE_LINE_END = re.compile(r"[;{}]\s*$", re.M)

_CODE_MARKERS = (
    "```",
    "def ",
    "return ",
    "#include",
    "public static",
    "function(",
    "function ",
    "=>",
    "console.log",
    "print(",
    "import ",
    "SELECT ",
    "</",
    "();",
    "==",
    "!=",
    "++",
    "->",
)
_PASSAGE_MARKERS = (
    "this question refers to",
    "the following passage",
    "the following excerpt",
    "the following information",
)
_PAIRED_WORDS = ("Statement", "Scenario", "Premise", "Claim", "Assertion", "Reason")
_NOT_VARIABLES = frozenset({"a", "i"})

# lower-case word → feature slot; phrases are checked as "a b" bigrams
_WORD_CLASSES: dict[str, tuple[str, ...]] = {
    "neg_lower": (
        "not",
        "except",
        "least",
        "false",
        "incorrect",
        "never",
        "cannot",
        "isn't",
        "doesn't",
        "unlikely",
        "untrue",
    ),
    "superlative": (
        "best",
        "most",
        "primary",
        "main",
        "strongest",
        "weakest",
        "first",
        "greatest",
        "correct",
        "likely",
    ),
    "conditional": ("if", "suppose", "assume", "assuming", "unless", "when", "given that", "provided that"),
    "causal": ("because", "therefore", "thus", "hence", "implies", "consequently", "since", "so that"),
    "step_words": (
        "step",
        "steps",
        "then",
        "first",
        "second",
        "third",
        "finally",
        "after",
        "before",
        "next",
        "each",
        "every",
        "remaining",
        "twice",
        "half",
        "times",
        "per",
        "left",
        "more than",
        "less than",
    ),
    "instruction": (
        "write",
        "explain",
        "describe",
        "compare",
        "list",
        "summarize",
        "design",
        "create",
        "generate",
        "draft",
        "prove",
        "derive",
        "analyze",
        "analyse",
        "justify",
        "rewrite",
        "translate",
        "outline",
        "argue",
        "discuss",
        "implement",
        "provide",
        "suggest",
    ),
    "reason_words": (
        "prove",
        "derive",
        "why",
        "justify",
        "reason",
        "logic",
        "logical",
        "infer",
        "deduce",
        "valid",
        "invalid",
        "argument",
        "contradiction",
        "implication",
        "necessarily",
        "sufficient",
        "necessary",
        "consistent",
    ),
    "creative": (
        "story",
        "poem",
        "essay",
        "blog",
        "email",
        "letter",
        "song",
        "haiku",
        "tweet",
        "slogan",
        "creative",
        "imagine",
        "pretend",
        "roleplay",
        "role-play",
        "character",
        "persuasive",
        "catchy",
    ),
    "quant_words": (
        "calculate",
        "compute",
        "solve",
        "evaluate",
        "estimate",
        "probability",
        "average",
        "ratio",
        "rate",
        "total",
        "percent",
        "remainder",
        "integer",
        "equation",
        "derivative",
        "integral",
        "sum",
        "product",
        "value",
        "area",
        "volume",
        "maximum",
        "minimum",
        "how many",
        "how much",
        "expected value",
    ),
    "pronoun_i": ("i", "my", "me"),
    "code_words": (
        "code",
        "program",
        "function",
        "algorithm",
        "python",
        "java",
        "javascript",
        "sql",
        "regex",
        "compiler",
        "compile",
        "debug",
        "implement",
        "recursion",
        "array",
        "pointer",
        "runtime",
        "complexity",
        "class",
        "method",
        "variable",
        "loop",
        "string",
        "integer",
        "bug",
        "script",
    ),
}
_UNIGRAM_SLOTS: dict[str, tuple[str, ...]] = {}
_BIGRAM_SLOTS: dict[str, tuple[str, ...]] = {}
for _slot, _members in _WORD_CLASSES.items():
    for _w in _members:
        _table = _BIGRAM_SLOTS if " " in _w else _UNIGRAM_SLOTS
        _table[_w] = (*_table.get(_w, ()), _slot)
_BIGRAM_FIRST = frozenset(k.split(" ")[0] for k in _BIGRAM_SLOTS)

DENSE_NAMES: tuple[str, ...] = (
    "bias",
    "log_chars",
    "log_words",
    "log_stem_chars",
    "log_lines",
    "n_options",
    "has_options",
    "log_mean_option_chars",
    "option_len_cv",
    "option_numeric_frac",
    "option_boolean_pair_frac",
    "option_all_none",
    "option_overlap",
    "paired_statements",
    "roman_items",
    "roman_options",
    "neg_upper",
    "neg_lower",
    "which_of_following",
    "superlative",
    "conditional",
    "causal",
    "step_words",
    "instruction",
    "reason_words",
    "creative",
    "log_numbers",
    "number_density",
    "decimals",
    "math_ops",
    "latex",
    "equations",
    "variables",
    "units",
    "money",
    "quant_words",
    "code",
    "code_words",
    "years",
    "passage",
    "quotes",
    "pronoun_i",
    "log_sentences",
    "question_marks",
    "mean_word_len",
    "long_word_frac",
    "capital_frac",
    "zipf_mean",
    "zipf_rare_frac",
    "zipf_very_rare_frac",
    "zipf_oov_frac",
    "zipf_min_stem",
    "zipf_p10",
)
N_DENSE = len(DENSE_NAMES)
# answer-option features are NaN when the prompt has no options (open-ended prompts)
OPTION_FEATURES: tuple[str, ...] = (
    "log_mean_option_chars",
    "option_len_cv",
    "option_numeric_frac",
    "option_boolean_pair_frac",
    "option_all_none",
    "option_overlap",
    "roman_options",
)
_NAN = float("nan")


def clip_text(prompt: str) -> str:
    if len(prompt) <= MAX_CHARS:
        return prompt
    head = MAX_CHARS * 3 // 4
    return prompt[:head] + "\n" + prompt[-(MAX_CHARS - head) :]


def split_options(prompt: str) -> tuple[str, list[str]]:
    """(question stem, option texts) for a multiple-choice prompt; no options → (prompt, [])."""
    matches = list(_OPTION_LINE.finditer(prompt))
    # keep a run of consecutive letters starting at A
    opts: list[str] = []
    first = -1
    expect = "a"
    for m in matches:
        letter = m.group(1).lower()
        if letter == "a":
            opts = [m.group(2).strip()]
            first = m.start()
            expect = "b"
        elif opts and letter == expect:
            opts.append(m.group(2).strip())
            expect = chr(ord(expect) + 1)
    if len(opts) < 2:
        return prompt, []
    stem = prompt[:first]
    return stem, opts


_SPLIT_TABLE = str.maketrans({c: " " for c in '!"#$%&()*+,./:;<=>?@[\\]^_`{|}~“”‘’«»…–—'})


def _words(text_lower: str) -> list[str]:
    """Whitespace/punctuation split (keeps ' and - inside words); numbers become ``<num>``."""
    return ["<num>" if w[0].isdigit() else w for w in text_lower.translate(_SPLIT_TABLE).split()]


def tokens(prompt: str) -> list[str]:
    """Lower-cased word unigrams plus ``a_b`` bigrams (numbers collapse to ``<num>``)."""
    words = _words(clip_text(prompt).lower())
    return _with_bigrams(words)


def _with_bigrams(words: list[str]) -> list[str]:
    return words + [a + "_" + b for a, b in itertools.pairwise(words)]


def _class_counts(words: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    uni = _UNIGRAM_SLOTS
    for w in words:
        slots = uni.get(w)
        if slots:
            for s in slots:
                counts[s] = counts.get(s, 0) + 1
    first = _BIGRAM_FIRST
    for i in range(len(words) - 1):
        if words[i] in first:
            slots = _BIGRAM_SLOTS.get(words[i] + " " + words[i + 1])
            if slots:
                for s in slots:
                    counts[s] = counts.get(s, 0) + 1
    return counts


def _log1p(x: float) -> float:
    return math.log1p(x)


def _count(pattern: re.Pattern[str], text: str) -> int:
    return len(pattern.findall(text))


def _analyze(prompt: str, zipf: Mapping[str, float]) -> tuple[list[float], list[str]]:
    """(dense feature list, lower-case word tokens) — one pass over the text shared by both parts."""
    text = clip_text(prompt)
    stem, opts = split_options(text)
    rest = text[len(stem) :]
    stem_lower = stem.lower()
    stem_words = _words(stem_lower)
    rest_words = _words(rest.lower()) if rest else []
    all_words = stem_words + rest_words
    stem_c = _class_counts(stem_words)
    all_c = _class_counts(all_words) if rest_words else stem_c

    alpha = [w for w in all_words if w[0] != "<"]
    n_words = len(alpha)
    per_word = 1.0 / max(n_words, 1)
    stem_alpha = [w for w in stem_words if w[0] != "<"] if rest_words else alpha

    # answer options
    if opts:
        lens = [len(o) for o in opts]
        mean_len = sum(lens) / len(lens)
        var = sum((x - mean_len) ** 2 for x in lens) / len(lens)
        cv = math.sqrt(var) / max(mean_len, 1.0)
        numeric = sum(1 for o in opts if _NUMERIC_OPT.match(o)) / len(opts)
        boolean = sum(1 for o in opts if _BOOLEAN_OPT.match(o)) / len(opts)
        all_none = float(any(_ALL_NONE_OPT.search(o) for o in opts))
        sets = [set(o.lower().split()) for o in opts]
        pairs = [len(a & b) / max(len(a | b), 1) for i, a in enumerate(sets) for b in sets[i + 1 :]]
        overlap = sum(pairs) / max(len(pairs), 1)
        roman_opts = sum(1 for o in opts if _ROMAN_OPTION.search(o + " ")) / len(opts)
    else:  # not applicable: NaN, imputed with the training mean (contributes nothing)
        mean_len = cv = numeric = boolean = all_none = overlap = roman_opts = _NAN

    # rarity against general English (Zipf scale: 7 = "the", 3 = rare, 0 = not in the table)
    get = zipf.get
    zs = [get(w, 0.0) for w in set(alpha) if len(w) > 2]
    if zs:
        zs.sort()  # deterministic summation order (set iteration order is not)
        n_z = len(zs)
        zipf_mean = sum(zs) / n_z
        rare = sum(1 for z in zs if z < 3.0) / n_z
        very_rare = sum(1 for z in zs if z < 2.0) / n_z
        oov = zs.count(0.0) / n_z
        p10 = zs[n_z // 10]
    else:
        zipf_mean, rare, very_rare, oov, p10 = 5.0, 0.0, 0.0, 0.0, 5.0
    zipf_min_stem = min((get(w, 0.0) for w in stem_alpha if len(w) > 2), default=5.0)

    if _DIGIT.search(text):
        n_numbers = _count(_NUMBER, text)
        n_decimals = _count(_DECIMAL, text)
        n_units = _count(_UNIT, text)
        n_years = _count(_YEAR, text)
        n_money = _count(_MONEY, text) if "$" in text else 0
    else:
        n_numbers = n_decimals = n_units = n_years = n_money = 0
    n_latex = _count(_LATEX, text) if ("$" in text or "\\" in text) else 0
    n_equations = _count(_EQUATION, text) if ("=" in text or "<" in text or ">" in text) else 0
    n_paired = _count(_PAIRED, text) if any(m in text for m in _PAIRED_WORDS) else 0
    n_roman = _count(_ROMAN_ITEM, stem) if "I." in stem else 0
    n_variables = sum(1 for w in stem_alpha if len(w) == 1 and w not in _NOT_VARIABLES)
    long_words = sum(1 for w in alpha if len(w) >= 10)
    code_hits = sum(text.count(m) for m in _CODE_MARKERS)
    if code_hits:
        code_hits += _count(_CODE_LINE_END, text)
    head = stem_lower[:400]

    f = [
        1.0,
        _log1p(len(prompt)),
        _log1p(n_words),
        _log1p(len(stem)),
        _log1p(text.count("\n")),
        float(len(opts)),
        float(bool(opts)),
        _log1p(mean_len) if opts else _NAN,
        cv,
        numeric,
        boolean,
        all_none,
        overlap,
        _log1p(n_paired),
        _log1p(n_roman),
        roman_opts,
        _log1p(_count(_NEG_UPPER_RE, stem) if any(m in stem for m in _NEG_UPPER_WORDS) else 0),
        _log1p(stem_c.get("neg_lower", 0)),
        float("which of the following" in stem_lower),
        _log1p(stem_c.get("superlative", 0)),
        _log1p(all_c.get("conditional", 0)),
        _log1p(all_c.get("causal", 0)),
        _log1p(all_c.get("step_words", 0)),
        _log1p(stem_c.get("instruction", 0)),
        _log1p(all_c.get("reason_words", 0)),
        _log1p(stem_c.get("creative", 0)),
        _log1p(n_numbers),
        min(n_numbers * per_word, 2.0),
        _log1p(n_decimals),
        _log1p(_count(_MATH_OP, text)),
        _log1p(n_latex),
        _log1p(n_equations),
        min(n_variables * per_word * 4.0, 2.0),
        _log1p(n_units),
        _log1p(n_money),
        _log1p(all_c.get("quant_words", 0)),
        _log1p(code_hits),
        _log1p(all_c.get("code_words", 0)),
        _log1p(n_years),
        float(any(m in head for m in _PASSAGE_MARKERS)),
        _log1p(text.count('"') + text.count("“") + text.count("”")),
        _log1p(all_c.get("pronoun_i", 0)),
        _log1p(_count(_SENTENCE_END, stem)),
        _log1p(text.count("?")),
        sum(len(w) for w in alpha) * per_word / 10.0,
        long_words * per_word,
        _count(_CAPITAL, text) * per_word,
        zipf_mean / 7.0,
        rare,
        very_rare,
        oov,
        zipf_min_stem / 7.0,
        p10 / 7.0,
    ]
    return f, all_words


def dense_list(prompt: str, zipf: Mapping[str, float]) -> list[float]:
    """The hand-crafted features as a plain list (order = ``DENSE_NAMES``)."""
    return _analyze(prompt, zipf)[0]


def dense_features(prompt: str, zipf: Mapping[str, float]) -> NDArray[np.float64]:
    """The hand-crafted feature vector (order = ``DENSE_NAMES``)."""
    return np.asarray(_analyze(prompt, zipf)[0], dtype=np.float64)


def _tfidf(
    grams: list[str], vocab: Mapping[str, int], idf: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    counts: dict[int, int] = {}
    for t in grams:
        j = vocab.get(t)
        if j is not None:
            counts[j] = counts.get(j, 0) + 1
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    vals = (1.0 + np.log(tf)) * idf[idx]
    norm = float(np.sqrt(np.dot(vals, vals)))
    if norm > 0:
        vals /= norm
    return idx, vals


def sparse_features(
    prompt: str, vocab: Mapping[str, int], idf: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """TF-IDF (sublinear tf, L2-normalized) over the artifact vocabulary: (indices, values)."""
    return _tfidf(tokens(prompt), vocab, idf)


def featurize(
    prompt: str,
    zipf: Mapping[str, float],
    vocab: Mapping[str, int] | None = None,
    idf: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Dense features and (if a vocabulary is given) sparse TF-IDF features in one pass."""
    dense, words = _analyze(prompt, zipf)
    d = np.asarray(dense, dtype=np.float64)
    if vocab is None or idf is None:
        return d, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    idx, vals = _tfidf(_with_bigrams(words), vocab, idf)
    return d, idx, vals
