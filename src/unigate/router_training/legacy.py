"""The first learned router (v1: hand features, two heads, trained on MMLU only), kept as the
"current router" baseline of ``unigate router eval``. Not used by the gateway any more.

Original description:

    from unigate.routing.learned.model import load_router
    r = load_router("mmlu")          # the shipped artifact (or a path to a user-trained one)
    s = r.score(prompt)              # float in [0, 1]
    strong = s >= threshold          # threshold from `unigate router calibrate`

**What a score means.** The model has two logistic heads over the prompt's features,
``P(strong answers well)`` and ``P(weak answers well)``; their difference is the expected
quality gain of calling the strong model (``raw``, in [-1, 1]). ``score`` maps ``raw`` through
the empirical distribution of ``raw`` on the artifact's training prompts: a score of 0.7 means
the prompt needs the strong model more than ~70% of those prompts did. So on traffic like the
training set, **score ≥ t sends about (1 - t) of the calls to the strong model**; for other
traffic calibrate ``t`` on a sample of it (``calibrate.py``). The map is strictly increasing
(smooth tails beyond the observed range), so ranking is never lost to clipping.

An artifact is a small JSON file (weights + reference quantiles + metadata); the word
frequency table it needs is shared (``lexicon.py``).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from unigate.routing.learned import features as F
from unigate.routing.learned.lexicon import load_zipf

ARTIFACT_FORMAT = "unigate.learned-router/1"
BUILTIN = {"mmlu-v1": Path(__file__).resolve().parent / "legacy-mmlu-v1.json"}
_TAIL = 0.01  # score mass kept for each tail beyond the reference quantiles


class ArtifactError(ValueError):
    """An artifact file is missing, malformed or built for other features."""


@dataclass(frozen=True)
class Artifact:
    """Everything a trained router is: plain lists, JSON-serializable."""

    feature_names: tuple[str, ...]
    mean: list[float]
    scale: list[float]
    w_strong: list[float]
    b_strong: float
    w_weak: list[float]
    b_weak: float
    ref_quantiles: list[float]
    open_prior: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "feature_names": list(self.feature_names),
            "mean": self.mean,
            "scale": self.scale,
            "w_strong": self.w_strong,
            "b_strong": self.b_strong,
            "w_weak": self.w_weak,
            "b_weak": self.b_weak,
            "ref_quantiles": self.ref_quantiles,
            "open_prior": self.open_prior,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str = "artifact") -> Artifact:
        if obj.get("format") != ARTIFACT_FORMAT:
            raise ArtifactError(f"{where}: not a {ARTIFACT_FORMAT} artifact (format={obj.get('format')!r})")
        names = tuple(obj["feature_names"])
        if names != F.DENSE_NAMES:
            raise ArtifactError(f"{where}: trained for different features; retrain with `unigate router train`")
        d = len(names)
        for key in ("mean", "scale", "w_strong", "w_weak"):
            if len(obj[key]) != d:
                raise ArtifactError(f"{where}: '{key}' has {len(obj[key])} values, expected {d}")
        q = [float(x) for x in obj["ref_quantiles"]]
        if len(q) < 2 or any(b < a for a, b in itertools.pairwise(q)):
            raise ArtifactError(f"{where}: 'ref_quantiles' must be a non-decreasing list")
        prior = {str(k): float(v) for k, v in dict(obj.get("open_prior", {})).items()}
        unknown = sorted(set(prior) - set(names))
        if unknown:
            raise ArtifactError(f"{where}: 'open_prior' names unknown features: {', '.join(unknown)}")
        return cls(
            feature_names=names,
            mean=[float(x) for x in obj["mean"]],
            scale=[float(x) for x in obj["scale"]],
            w_strong=[float(x) for x in obj["w_strong"]],
            b_strong=float(obj["b_strong"]),
            w_weak=[float(x) for x in obj["w_weak"]],
            b_weak=float(obj["b_weak"]),
            ref_quantiles=q,
            open_prior=prior,
            meta=dict(obj.get("meta", {})),
        )

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(p)

    @classmethod
    def load(cls, path: str | Path) -> Artifact:
        p = Path(path)
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtifactError(f"{p}: no such router artifact") from None
        except json.JSONDecodeError as e:
            raise ArtifactError(f"{p}: invalid JSON ({e.msg})") from None
        return cls.from_json(obj, str(p))


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class Router:
    """Scores prompts with one artifact. Immutable after construction, so thread-safe."""

    def __init__(self, artifact: Artifact, zipf: Mapping[str, float] | None = None) -> None:
        self.artifact = artifact
        self._zipf = zipf if zipf is not None else load_zipf()
        mean = np.asarray(artifact.mean)
        scale = np.asarray(artifact.scale)
        w = np.stack([np.asarray(artifact.w_strong), np.asarray(artifact.w_weak)]) / scale
        b = np.asarray([artifact.b_strong, artifact.b_weak]) - w @ mean
        # fold standardization into the weights: logits = W @ x + b
        self._w = np.ascontiguousarray(w.T)  # (d, 2)
        self._b = b
        self._mean = mean
        prior = np.zeros(len(mean))
        for k, v in artifact.open_prior.items():
            prior[F.DENSE_NAMES.index(k)] = v
        self._prior = prior
        self._has_opts = F.DENSE_NAMES.index("has_options")
        self._q = np.asarray(artifact.ref_quantiles, dtype=np.float64)
        self._grid = np.linspace(_TAIL, 1.0 - _TAIL, len(self._q))
        span = float(self._q[-1] - self._q[0])
        self._tail_scale = max(span / 4.0, 1e-6)

    @property
    def name(self) -> str:
        return str(self.artifact.meta.get("name", "custom"))

    def features(self, prompts: Iterable[str]) -> NDArray[np.float64]:
        return np.asarray([F.dense_list(p, self._zipf) for p in prompts], dtype=np.float64)

    def raw_from_features(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Expected quality gain P(strong ok) - P(weak ok) (+ the open-ended prior when the
        prompt has no answer options). NaN features (not applicable) count as the mean."""
        x = np.where(np.isnan(x), self._mean, x)
        p = _sigmoid(x @ self._w + self._b)
        raw = p[..., 0] - p[..., 1]
        if self._prior.any():
            raw = raw + np.where(x[..., self._has_opts] == 0.0, x @ self._prior, 0.0)
        return np.asarray(raw, dtype=np.float64)

    def to_score(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        """Strictly increasing map raw → [0, 1] via the reference quantiles (see module doc)."""
        raw = np.asarray(raw, dtype=np.float64)
        q = self._q
        lo, hi = q[0], q[-1]
        mid = np.interp(raw, q, self._grid)
        below = _TAIL * np.exp(np.minimum(raw - lo, 0.0) / self._tail_scale)
        above = 1.0 - _TAIL * np.exp(-np.maximum(raw - hi, 0.0) / self._tail_scale)
        out = np.where(raw < lo, below, np.where(raw > hi, above, mid))
        return np.asarray(out, dtype=np.float64)

    def score_many(self, prompts: Iterable[str]) -> NDArray[np.float64]:
        x = self.features(prompts)
        if x.size == 0:
            return np.zeros(0, dtype=np.float64)
        return self.to_score(self.raw_from_features(x))

    def score(self, prompt: str) -> float:
        """Score in [0, 1]; higher = the weak model is more likely to fall short. Strong iff ≥ threshold."""
        x = F.dense_features(prompt, self._zipf)
        raw = self.raw_from_features(x)
        return float(self.to_score(np.asarray(raw)))


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


def load_router(name_or_path: str | Path = "mmlu-v1") -> Router:
    """The router for a built-in name (``"mmlu"``) or an artifact path; cached per resolved path."""
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


def score(prompt: str, router: str | Path = "mmlu-v1") -> float:
    """Shorthand for ``load_router(router).score(prompt)``."""
    return load_router(router).score(prompt)
