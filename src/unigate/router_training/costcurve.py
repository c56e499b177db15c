"""Cost-quality of the N-model choice on held-out sources, with real list prices from the catalog.

For a held-out source the router (trained without it) predicts each candidate profile's success
per prompt; the gateway's rule picks **the cheapest candidate whose predicted success is at
least ``target`` × the best predicted success** (``routing/auto/tiers.py: choose_by_success``).
Sweeping ``target`` from 0 (always the cheapest) to 1 (the best predicted) traces quality (the
source's real outcomes of the chosen models) against cost. Cost per call is the candidate's
blended list price (0.75·input + 0.25·output USD per 1M tokens, as auto routing uses), i.e.
calls are assumed to be of equal size, so the curve compares models at equal token counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# A list-priced catalog model for every profile of the data: (provider, upstream model).
PRICE_REFERENCES: dict[str, tuple[str, str]] = {
    "gpt-4o": ("openai", "gpt-4o"),
    "gpt-4o-mini": ("openai", "gpt-4o-mini"),
    "gpt-4-turbo": ("openai", "gpt-4-turbo"),
    "gpt-3.5-turbo": ("openai", "gpt-3.5-turbo"),
    "claude-3.5-sonnet": ("anthropic", "claude-3-5-sonnet-20240620"),
    "claude-3-haiku": ("anthropic", "claude-3-haiku-20240307"),
    "gemini-1.5-pro": ("gemini", "gemini-1.5-pro"),
    "gemini-1.5-flash": ("gemini", "gemini-1.5-flash"),
    "llama-3.1-70b": ("together", "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"),
    "llama-3.1-8b": ("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"),
    "mixtral-8x7b": ("mistral", "open-mixtral-8x7b"),
    "mistral-7b": ("mistral", "open-mistral-7b"),
    "gemma-2-9b": ("groq", "gemma2-9b-it"),
}


def list_prices() -> dict[str, float]:
    """Blended USD per 1M tokens per profile, from the gateway's catalog (genai-prices)."""
    from unigate.catalog.catalog import Catalog
    from unigate.routing.auto.candidates import blended

    catalog = Catalog()
    out: dict[str, float] = {}
    for profile, (provider, model) in PRICE_REFERENCES.items():
        price = catalog.price(provider, model)
        if price is not None:
            out[profile] = blended(price.input, price.output)
    return out


def choose(pred: FloatArray, prices: FloatArray, target: float) -> NDArray[np.int64]:
    """Per row, the cheapest column whose prediction is ≥ ``target`` × the row's best prediction."""
    order = np.argsort(prices, kind="stable")
    ok = pred[:, order] >= target * pred.max(axis=1, keepdims=True) - 1e-12
    return np.asarray(order[np.argmax(ok, axis=1)], dtype=np.int64)


@dataclass
class Curve:
    source: str
    models: list[str]
    prices: FloatArray
    single_quality: FloatArray  # real mean outcome of each model alone
    targets: FloatArray
    cost: FloatArray  # mean price per call of the routed choice, per target
    quality: FloatArray
    n: int

    def best_single(self) -> int:
        return int(np.argmax(self.single_quality))

    def cost_to_match(self, quality: float) -> float | None:
        """Cheapest routed cost reaching ``quality`` (None when no target does)."""
        ok = self.quality >= quality - 1e-12
        return float(self.cost[ok].min()) if ok.any() else None

    def summary(self) -> dict[str, object]:
        b = self.best_single()
        best_q, best_c = float(self.single_quality[b]), float(self.prices[b])
        match = self.cost_to_match(best_q)
        near = self.cost_to_match(best_q - 0.01)
        return {
            "source": self.source,
            "n": self.n,
            "best_single": self.models[b],
            "best_single_quality": round(best_q, 4),
            "best_single_price": round(best_c, 4),
            "router_max_quality": round(float(self.quality.max()), 4),
            "cost_share_to_match_best": None if match is None else round(match / best_c, 4),
            "cost_share_within_1pt_of_best": None if near is None else round(near / best_c, 4),
        }


def curve(
    source: str,
    models: Sequence[str],
    pred: FloatArray,
    actual: FloatArray,
    prices: FloatArray,
    steps: int = 101,
) -> Curve:
    targets = np.linspace(0.0, 1.0, steps)
    cost = np.empty(steps)
    quality = np.empty(steps)
    rows = np.arange(len(actual))
    for i, t in enumerate(targets):
        pick = choose(pred, prices, float(t))
        cost[i] = prices[pick].mean()
        quality[i] = actual[rows, pick].mean()
    return Curve(source, list(models), prices, actual.mean(axis=0), targets, cost, quality, len(actual))


def plot(curves: Sequence[Curve], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(curves)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    for ax, c in zip(axes.ravel(), curves, strict=False):
        ax.plot(c.cost, c.quality, "-", color="C0", label="router (sweep of the quality target)")
        ax.scatter(c.prices, c.single_quality, color="C3", zorder=3, label="single models")
        for name, x, y in zip(c.models, c.prices, c.single_quality, strict=True):
            ax.annotate(name, (x, y), fontsize=7, xytext=(3, -8), textcoords="offset points")
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_title(f"held out: {c.source} (n={c.n})", fontsize=10)
        ax.set_xlabel("list price per call (blended USD / 1M tokens)")
        ax.set_ylabel("quality (share answered well)")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
