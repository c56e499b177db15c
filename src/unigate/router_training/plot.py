"""PNG of quality vs strong-call share (router curves, random, oracle, weak/strong levels).

Uses matplotlib when installed (the ``train`` extra); otherwise falls back to a tiny numpy
rasterizer + zlib PNG writer (lines only, no text), so ``router eval --png`` always works.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Curve = tuple[str, NDArray[np.float64], NDArray[np.float64]]  # (label, share 0..1, quality)

_COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (127, 127, 127)]


def write_png(path: Path, rgb: NDArray[np.uint8]) -> None:
    """Minimal PNG writer (8-bit RGB, no filtering)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def _raster(curves: Sequence[Curve], levels: Sequence[float], path: Path, w: int = 640, h: int = 420) -> None:
    img = np.full((h, w, 3), 255, dtype=np.uint8)
    pad = 30
    ys = np.concatenate([c[2] for c in curves] + [np.asarray(levels, dtype=np.float64)])
    lo, hi = float(ys.min()), float(ys.max())
    hi = hi if hi > lo else lo + 1.0

    def to_px(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        px = (pad + x * (w - 2 * pad)).round().astype(np.int64)
        py = (h - pad - (y - lo) / (hi - lo) * (h - 2 * pad)).round().astype(np.int64)
        return np.clip(px, 0, w - 1), np.clip(py, 0, h - 1)

    img[h - pad, pad : w - pad] = 0
    img[pad : h - pad, pad] = 0
    for lv in levels:
        _, py = to_px(np.zeros(1), np.asarray([lv]))
        img[py[0], pad : w - pad : 4] = (120, 120, 120)
    for i, (_, x, y) in enumerate(curves):
        color = _COLORS[i % len(_COLORS)]
        dense_x = np.linspace(0, 1, 4 * w)
        px, py = to_px(dense_x, np.interp(dense_x, x, y))
        for dy in (0, 1):
            img[np.clip(py + dy, 0, h - 1), px] = color
    write_png(path, img)


def plot_curves(
    curves: Sequence[Curve], weak_level: float, strong_level: float, path: str | Path, title: str = ""
) -> Path:
    """Draw quality vs strong-call share; returns the written path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _raster(curves, [weak_level, strong_level], out)
        return out
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for label, x, y in curves:
        ax.plot(x * 100, y, label=label, linewidth=1.6)
    ax.axhline(weak_level, color="grey", linestyle="--", label=f"weak only ({weak_level:.3f})")
    ax.axhline(strong_level, color="red", linestyle="--", label=f"strong only ({strong_level:.3f})")
    ax.set_xlabel("strong model calls (%)")
    ax.set_ylabel("quality (accuracy)")
    ax.set_title(title or "learned router: quality vs strong-call share (held-out)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_apgr(
    panels: Sequence[tuple[str, Sequence[str], Mapping[str, Sequence[float | None]]]], path: str | Path
) -> Path:
    """Held-out APGR per set, one panel per split kind: ``(title, set names, {router: APGR per set})``.
    Dots per router, with the random level (0.5) and the target (0.65) marked. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    heights = [max(2.0, 0.32 * len(names) + 1.0) for _, names, _ in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.5, sum(heights)), squeeze=False, height_ratios=heights)
    markers = "os^Dvx*P"
    for ax, (title, names, by_router) in zip(axes[:, 0], panels, strict=True):
        y = np.arange(len(names))
        for i, (router, values) in enumerate(by_router.items()):
            xs = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
            ax.scatter(xs, y + (i - len(by_router) / 2) * 0.08, marker=markers[i % len(markers)], s=22, label=router)
        ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.axvline(0.65, color="red", linestyle=":", linewidth=1)
        ax.set_yticks(y, list(names), fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0.35, 0.75)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="lower right", ncol=2)
    axes[-1, 0].set_xlabel("held-out APGR (0.5 = random; red: the 0.65 target)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
