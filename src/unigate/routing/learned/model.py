"""The learned router at request time: numpy only, loaded lazily, thread-safe.

    from unigate.routing.learned.model import load_router
    r = load_router("default")            # the shipped artifact, or a path to one from `router train`
    r.score(prompt)                       # float in [0, 1]; strong iff score >= threshold
    r.success(prompt, ["gpt-4o", "llama-3.1-8b"])   # predicted P(answer is good) per model profile

**Representation.** A prompt becomes ~50 hand-crafted signals (``features.py``: length,
options, math, code, negations, word rarity …) plus a hashed bag of word/symbol unigrams and
bigrams (``hashing.py``). Every *head* is a logistic model over both; a head is one dot product
with the hand features plus one gather-and-sum over the prompt's hash slots.

**Heads.** ``strong`` / ``weak``: the chance that a strong / a weak model answers well (trained
on every source's evaluation pair); one head per model *profile* (``profiles.py``) with
enough data. ``raw = P(strong) - P(weak)`` is the expected quality gain of the strong model;
``score`` maps it through its quantiles on the training prompts, so on similar traffic
``score >= t`` sends about ``1 - t`` of the calls to the strong model.

**Artifact.** One ``.npz`` file: the weight arrays plus a JSON ``meta`` (recipe, sources and
their attribution/licences, held-out figures, calibration curve). Built by
``unigate router train`` (package ``unigate.router_training``, not imported here).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from unigate.routing.learned import features as F
from unigate.routing.learned.hashing import slots
from unigate.routing.learned.lexicon import ARTIFACT_DIR, load_zipf

ARTIFACT_FORMAT = "unigate.learned-router/2"
DEFAULT_PATH = ARTIFACT_DIR / "router-v2.npz"
# "mmlu" was the name of the first (MMLU-only) router; configs that name it get its successor
BUILTIN = {"default": DEFAULT_PATH, "mmlu": DEFAULT_PATH}
_TAIL = 0.01  # score mass kept for each tail beyond the reference quantiles
FloatArray = NDArray[np.float64]


class ArtifactError(ValueError):
    """An artifact file is missing, malformed or built for other features."""


@dataclass(frozen=True)
class Artifact:
    """Weights of a trained router. ``w_dense`` (d, H) applies to standardized hand features,
    ``w_hash`` (buckets, H) to the L2-normalized hash slots; ``bias`` (H,)."""

    heads: tuple[str, ...]
    dense_names: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    w_dense: FloatArray
    w_hash: NDArray[Any]
    bias: FloatArray
    ref_quantiles: FloatArray
    meta: dict[str, Any]

    @property
    def buckets(self) -> int:
        return int(self.w_hash.shape[0])

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(h for h in self.heads if h not in ("strong", "weak"))

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp.npz")
        meta = {"format": ARTIFACT_FORMAT, "heads": list(self.heads), "dense_names": list(self.dense_names)}
        meta.update(self.meta)
        np.savez_compressed(
            tmp,
            meta=np.asarray(json.dumps(meta, ensure_ascii=False)),
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            w_dense=self.w_dense.astype(np.float32),
            w_hash=self.w_hash.astype(np.float16),
            bias=self.bias.astype(np.float32),
            ref_quantiles=self.ref_quantiles.astype(np.float64),
        )
        tmp.replace(p)

    @classmethod
    def load(cls, path: str | Path) -> Artifact:
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise ArtifactError(f"{p}: no such router artifact") from None
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{p}: not a router artifact ({e})") from None
        try:
            meta = json.loads(str(arrays["meta"]))
            if meta.get("format") != ARTIFACT_FORMAT:
                raise ArtifactError(f"{p}: not a {ARTIFACT_FORMAT} artifact (format={meta.get('format')!r})")
            heads = tuple(meta.pop("heads"))
            names = tuple(meta.pop("dense_names"))
            art = cls(
                heads=heads,
                dense_names=names,
                mean=arrays["mean"].astype(np.float64),
                scale=arrays["scale"].astype(np.float64),
                w_dense=arrays["w_dense"].astype(np.float64),
                w_hash=arrays["w_hash"].astype(np.float32),
                bias=arrays["bias"].astype(np.float64),
                ref_quantiles=arrays["ref_quantiles"].astype(np.float64),
                meta=meta,
            )
        except KeyError as e:
            raise ArtifactError(f"{p}: artifact lacks {e}") from None
        art.check(str(p))
        return art

    def check(self, where: str) -> None:
        if self.dense_names != F.DENSE_NAMES:
            raise ArtifactError(f"{where}: trained for different features; retrain with `unigate router train`")
        h, d = len(self.heads), len(self.dense_names)
        if "strong" not in self.heads or "weak" not in self.heads:
            raise ArtifactError(f"{where}: needs 'strong' and 'weak' heads")
        if self.w_dense.shape != (d, h) or self.bias.shape != (h,) or self.w_hash.shape[1:] != (h,):
            raise ArtifactError(f"{where}: weight shapes do not match {h} heads and {d} features")
        b = self.w_hash.shape[0]
        if b < 2 or b & (b - 1):
            raise ArtifactError(f"{where}: the hash table size must be a power of two, got {b}")
        q = self.ref_quantiles
        if q.ndim != 1 or len(q) < 2 or bool(np.any(np.diff(q) < 0)):
            raise ArtifactError(f"{where}: 'ref_quantiles' must be a non-decreasing list")


def _sigmoid(z: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


class Router:
    """Scores prompts with one artifact. Immutable after construction, so thread-safe."""

    def __init__(self, artifact: Artifact, zipf: dict[str, float] | None = None) -> None:
        self.artifact = artifact
        self._zipf = zipf if zipf is not None else load_zipf()
        # fold standardization into the weights: logits = x @ w + b (NaN features → the mean)
        self._mean = artifact.mean
        self._w = artifact.w_dense / artifact.scale[:, None]
        self._b = artifact.bias - artifact.mean @ self._w
        self._w_hash = artifact.w_hash
        self._buckets = artifact.buckets
        self._index = {name: i for i, name in enumerate(artifact.heads)}
        self._strong, self._weak = self._index["strong"], self._index["weak"]
        self._weak_only = artifact.meta.get("score") == "weak_failure"
        self._q = artifact.ref_quantiles
        self._grid = np.linspace(_TAIL, 1.0 - _TAIL, len(self._q))
        self._tail_scale = max(float(self._q[-1] - self._q[0]) / 4.0, 1e-6)

    @property
    def name(self) -> str:
        return str(self.artifact.meta.get("name", "custom"))

    @property
    def profiles(self) -> tuple[str, ...]:
        return self.artifact.profiles

    def logits(self, prompt: str) -> FloatArray:
        """Per-head logits (order: ``artifact.heads``)."""
        x = F.dense_features(prompt, self._zipf)
        x = np.where(np.isnan(x), self._mean, x)
        out = x @ self._w + self._b
        idx = slots(prompt, self._buckets)
        if len(idx):
            out = out + self._w_hash[idx].sum(axis=0, dtype=np.float64) / np.sqrt(len(idx))
        return np.asarray(out, dtype=np.float64)

    def to_score(self, raw: FloatArray) -> FloatArray:
        """Strictly increasing map of the gain raw → [0, 1] via the reference quantiles."""
        raw = np.asarray(raw, dtype=np.float64)
        q = self._q
        lo, hi = q[0], q[-1]
        mid = np.interp(raw, q, self._grid)
        below = _TAIL * np.exp(np.minimum(raw - lo, 0.0) / self._tail_scale)
        above = 1.0 - _TAIL * np.exp(-np.maximum(raw - hi, 0.0) / self._tail_scale)
        return np.asarray(np.where(raw < lo, below, np.where(raw > hi, above, mid)), dtype=np.float64)

    def gain(self, probs: FloatArray) -> FloatArray:
        """What the score ranks: the expected gain P(strong) - P(weak), or for artifacts trained
        with ``score: weak_failure`` the weak model's chance of failing."""
        if self._weak_only:
            return np.asarray(1.0 - probs[..., self._weak], dtype=np.float64)
        return np.asarray(probs[..., self._strong] - probs[..., self._weak], dtype=np.float64)

    def explain(self, prompt: str, profiles: Sequence[str] = ()) -> tuple[float, dict[str, float]]:
        """(score, predicted success per requested profile the artifact knows), one featurization."""
        p = _sigmoid(self.logits(prompt))
        score = float(self.to_score(self.gain(p)))
        return score, {name: float(p[self._index[name]]) for name in profiles if name in self._index}

    def score(self, prompt: str) -> float:
        """Score in [0, 1]; higher = the weak model is more likely to fall short. Strong iff ≥ threshold."""
        return self.explain(prompt)[0]

    def success(self, prompt: str, profiles: Sequence[str]) -> dict[str, float]:
        return self.explain(prompt, profiles)[1]

    def score_many(self, prompts: Iterable[str]) -> FloatArray:
        return np.asarray([self.score(p) for p in prompts], dtype=np.float64)


_lock = threading.Lock()
_routers: dict[str, Router] = {}


def resolve_artifact_path(name_or_path: str | Path) -> Path:
    key = str(name_or_path)
    if key in BUILTIN:
        return BUILTIN[key]
    p = Path(key)
    if p.exists():
        return p
    known = ", ".join(sorted(BUILTIN))
    raise ArtifactError(f"unknown router {key!r}: not a built-in ({known}) nor an existing artifact file")


def load_router(name_or_path: str | Path = "default") -> Router:
    """The router for a built-in name or an artifact path; cached per resolved path."""
    path = resolve_artifact_path(name_or_path)
    key = str(path.resolve())
    r = _routers.get(key)
    if r is not None:
        return r
    with _lock:
        r = _routers.get(key)
        if r is None:
            r = Router(Artifact.load(path))
            _routers[key] = r
    return r


def score(prompt: str, router: str | Path = "default") -> float:
    """Shorthand for ``load_router(router).score(prompt)``."""
    return load_router(router).score(prompt)
