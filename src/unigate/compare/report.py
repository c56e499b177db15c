"""The self-contained HTML report: inline CSS and SVG, no scripts or fonts from anywhere else.

Charts: quality against cost per request with the Pareto front, latency and TTFT distributions
(box plots with every request as a dot), and every prompt's answers side by side. The raw
numbers are embedded as JSON (``<script type="application/json" id="compare-data">``).
"""

from __future__ import annotations

import html
import math
import time
from typing import Any

import orjson

from unigate.compare.runner import RunResult
from unigate.compare.stats import ModelSummary, quantile

LABEL_CHAR_PX = 7.0  # an upper bound of one character's width at the charts' 11px font
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;margin-bottom:16px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #ddd;padding:5px 8px;text-align:right;vertical-align:top}
th{background:#f1f5f9}td.l,th.l{text-align:left}
.answers td{text-align:left;max-width:380px}
.answer{white-space:pre-wrap;font-family:ui-monospace,Menlo,monospace;font-size:12px;max-height:220px;overflow:auto}
.ok{color:#15803d}.bad{color:#b91c1c}.mid{color:#a16207}.small{font-size:12px;color:#555}
.charts{display:flex;flex-wrap:wrap;gap:16px}.card{background:#fff;border:1px solid #ddd;padding:8px}
svg text{font:11px system-ui,sans-serif;fill:#333}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt_usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _nice_max(value: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``value`` (an axis end)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude


def scatter_svg(rows: list[ModelSummary], colors: dict[str, str]) -> str:
    """Quality (y) against cost per request (x); the Pareto front as a step line."""
    left, bottom, top, plot_w, plot_h = 70, 40, 16, 340, 284
    # the legend gets the room its longest name needs, and the chart grows with the model count
    legend_names = [r.model + (" ★" if r.pareto else "") for r in rows]
    right = 40 + round(LABEL_CHAR_PX * max([len(n) for n in legend_names] + [8]))
    width = left + plot_w + right
    height = max(top + plot_h + bottom, top + 18 * len(rows) + 12)
    points = [r for r in rows if r.quality is not None]
    max_cost = _nice_max(max([r.cost_per_request or 0.0 for r in points] + [0.0]) * 1.1)

    def x(cost: float) -> float:
        return left + plot_w * cost / max_cost

    def y(quality: float) -> float:
        return top + plot_h * (1 - quality)

    parts = [f'<svg id="quality-cost" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#ccc"/>')
    for i in range(6):
        q = i / 5
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(q):.1f}" y2="{y(q):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y(q) + 4:.1f}" text-anchor="end">{q:.1f}</text>')
        c = max_cost * i / 5
        parts.append(f'<text x="{x(c):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_fmt_usd(c)}</text>')
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">cost per request (USD)</text>'
        f'<text transform="translate(14,{top + plot_h / 2}) rotate(-90)" text-anchor="middle">quality</text>'
    )
    front = sorted((r for r in points if r.pareto), key=lambda r: r.cost_per_request or 0.0)
    if len(front) > 1:
        path: list[str] = []
        prev_y = 0.0
        for i, r in enumerate(front):
            px, py = x(r.cost_per_request or 0.0), y(r.quality or 0.0)
            if i:
                path.append(f"L{px:.1f},{prev_y:.1f}")  # a step: cheaper and worse, then dearer and better
            path.append(f"{'L' if i else 'M'}{px:.1f},{py:.1f}")
            prev_y = py
        parts.append(f'<path class="pareto" d="{" ".join(path)}" fill="none" stroke="#111" stroke-dasharray="4 3"/>')
    for r in points:
        px, py = x(r.cost_per_request or 0.0), y(r.quality or 0.0)
        ring = ' stroke="#111" stroke-width="2"' if r.pareto else ""
        parts.append(
            f'<circle class="point" data-model="{_e(r.model)}" cx="{px:.1f}" cy="{py:.1f}" r="6" '
            f'fill="{colors[r.model]}"{ring}><title>{_e(r.model)}: quality {r.quality:.2f}, '
            f"{_fmt_usd(r.cost_per_request)}/request</title></circle>"
        )
    for i, (r, name) in enumerate(zip(rows, legend_names, strict=True)):
        parts.append(
            f'<rect x="{width - right + 12}" y="{top + 4 + i * 18}" width="10" height="10" fill="{colors[r.model]}"/>'
            f'<text class="legend" x="{width - right + 28}" y="{top + 13 + i * 18}">{_e(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def latency_svg(result: RunResult, colors: dict[str, str], metric: str, title: str) -> str:
    """Horizontal box plots (p5–p95 whiskers, quartile box, median) with each request as a dot."""
    models = result.models
    row_h, left, right, top = 34, 170, 20, 24
    width = 560
    height = top + row_h * len(models) + 34
    values = {
        m: [v for c in result.calls[m].values() if c.error is None and (v := getattr(c, metric)) is not None]
        for m in models
    }
    max_v = _nice_max(max([v for vs in values.values() for v in vs] + [1.0]) * 1.05)
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + plot_w * v / max_v

    parts = [f'<svg class="dist" id="dist-{metric}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    parts.append(f'<text x="{left}" y="14">{_e(title)}</text>')
    for i in range(6):
        v = max_v * i / 5
        parts.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top}" y2="{height - 28}" stroke="#eee"/>'
            f'<text x="{x(v):.1f}" y="{height - 14}" text-anchor="middle">{v:,.0f}</text>'
        )
    for row, model in enumerate(models):
        cy = top + row * row_h + row_h / 2
        parts.append(f'<text x="{left - 8}" y="{cy + 4:.1f}" text-anchor="end">{_e(model[:24])}</text>')
        vs = values[model]
        if not vs:
            continue
        p5, q1, med, q3, p95 = (quantile(vs, q) or 0.0 for q in (0.05, 0.25, 0.5, 0.75, 0.95))
        color = colors[model]
        parts.append(
            f'<line x1="{x(p5):.1f}" x2="{x(p95):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" stroke="{color}"/>'
            f'<rect x="{x(q1):.1f}" y="{cy - 9:.1f}" width="{max(1.0, x(q3) - x(q1)):.1f}" height="18" '
            f'fill="{color}" fill-opacity="0.18" stroke="{color}"/>'
            f'<line x1="{x(med):.1f}" x2="{x(med):.1f}" y1="{cy - 9:.1f}" y2="{cy + 9:.1f}" stroke="{color}" '
            f'stroke-width="2"><title>median {med:,.0f} ms</title></line>'
        )
        for j, v in enumerate(vs):
            jitter = ((j * 7) % 11 - 5) * 1.2
            parts.append(f'<circle cx="{x(v):.1f}" cy="{cy + jitter:.1f}" r="2" fill="{color}" fill-opacity="0.6"/>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 2}" text-anchor="middle">milliseconds</text></svg>')
    return "".join(parts)


def _score_cell(score: float | None) -> str:
    if score is None:
        return ""
    cls = "ok" if score >= 0.99 else "bad" if score <= 0.01 else "mid"
    return f'<span class="{cls}">{score:.2f}</span>'


def render(result: RunResult, rows: list[ModelSummary], *, title: str = "unigate compare", source: str = "") -> str:
    colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(result.models)}
    data = {
        "models": result.models,
        "summary": [r.as_dict() for r in rows],
        "judge": {
            "model": result.judge,
            "mode": result.judge_mode,
            "calls": len(result.judge_calls),
            "cost": result.judge_cost,
        },
        "calls": [
            {
                "model": c.model,
                "case": c.case_id,
                "ttft_ms": c.ttft_ms,
                "latency_ms": c.latency_ms,
                "input_tokens": c.input_tokens,
                "output_tokens": c.output_tokens,
                "cost": c.cost,
                "request_id": c.request_id,
                "deployment": c.deployment,
                "score": c.score,
                "error": c.error,
            }
            for m in result.models
            for c in result.calls[m].values()
        ],
        "judge_calls": [{"request_id": c.request_id, "cost": c.cost, "error": c.error} for c in result.judge_calls],
    }
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<div class='meta'>{len(result.cases)} prompts{(' from ' + _e(source)) if source else ''} × "
        f"{len(result.models)} models · {time.strftime('%Y-%m-%d %H:%M')} · wall time {result.wall_seconds:.1f}s"
        + (
            f" · judge {_e(result.judge)} ({_e(result.judge_mode)}, {_fmt_usd(result.judge_cost)})"
            if result.judge
            else ""
        )
        + "</div>",
        "<h2>Summary</h2><table id='summary'><tr><th class='l'>model</th><th>ok / n</th><th>TTFT p50</th>"
        "<th>TTFT p95</th><th>latency p50</th><th>latency p95</th><th>output tok/s</th><th>cost / request</th>"
        "<th>cost for the set</th><th>quality</th></tr>",
    ]
    for r in rows:
        quality = "-" if r.quality is None else f"{r.quality:.2f}" + (" ★" if r.pareto else "")
        speed = "-" if r.tokens_per_second is None else f"{r.tokens_per_second:.1f}"
        out.append(
            f"<tr data-model='{_e(r.model)}'><td class='l'><span class='swatch' style='background:{colors[r.model]}'>"
            f"</span>{_e(r.model)}</td><td>{r.requests - r.errors}/{r.requests}</td><td>{_fmt_ms(r.ttft_p50)}</td>"
            f"<td>{_fmt_ms(r.ttft_p95)}</td><td>{_fmt_ms(r.latency_p50)}</td><td>{_fmt_ms(r.latency_p95)}</td>"
            f"<td>{speed}</td><td>{_fmt_usd(r.cost_per_request)}</td><td>{_fmt_usd(r.cost_total)}</td>"
            f"<td>{quality}</td></tr>"
        )
    out.append(
        "</table><p class='small'>Times in milliseconds, measured by the client. ★ = on the Pareto front "
        "(no other model is both cheaper and better). Cost is the gateway's usage.cost.</p>"
    )
    out.append("<h2>Quality against cost</h2><div class='charts'>")
    out.append(f"<div class='card'>{scatter_svg(rows, colors)}</div></div>")
    out.append("<h2>Latency distributions</h2><div class='charts'>")
    out.append(f"<div class='card'>{latency_svg(result, colors, 'latency_ms', 'Total latency (ms)')}</div>")
    out.append(f"<div class='card'>{latency_svg(result, colors, 'ttft_ms', 'Time to first token (ms)')}</div></div>")
    out.append("<h2>Answers side by side</h2><table class='answers'><tr><th class='l'>prompt</th>")
    out.extend(f"<th class='l'>{_e(m)}</th>" for m in result.models)
    out.append("</tr>")
    for case in result.cases:
        expected = f"<div class='small'>expected ({_e(case.match)}): {_e(case.expected)}</div>" if case.expected else ""
        out.append(
            f"<tr data-case='{_e(case.id)}'><td class='l'><b>{_e(case.id)}</b><div class='answer'>"
            f"{_e(case.question)}</div>{expected}</td>"
        )
        for model in result.models:
            call = result.calls[model].get(case.id)
            if call is None:
                out.append("<td></td>")
                continue
            if call.error:
                out.append(f"<td><span class='bad'>error</span><div class='small'>{_e(call.error)}</div></td>")
                continue
            note = f" <span class='small'>{_e(call.note)}</span>" if call.note else ""
            out.append(
                f"<td><div>{_score_cell(call.score)}{note}</div><div class='answer'>{_e(call.text)}</div>"
                f"<div class='small'>{_fmt_ms(call.latency_ms)} ms · TTFT {_fmt_ms(call.ttft_ms)} ms · "
                f"{call.output_tokens if call.output_tokens is not None else '-'} tok · {_fmt_usd(call.cost)}</div></td>"
            )
        out.append("</tr>")
    out.append("</table>")
    blob = orjson.dumps(data).decode().replace("</", "<\\/")
    out.append(f"<script type='application/json' id='compare-data'>{blob}</script></body></html>")
    return "".join(out)
