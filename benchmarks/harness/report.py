"""Turn run_overhead.sh's result lines into one Markdown table per (mode, connections), with each
target's ratios against the direct mock and the thin proxies measured in the same run.

Input lines: ``MODE C NAME rps=… p50_ms=… p90_ms=… p99_ms=… errors=… non2xx=… total=…``; a target
measured in several rounds is reported with each figure's median (errors: their sum).
Thin proxies are the targets named ``ceiling*`` or ``stream-proxy*``; "best thin" is the one with the
most requests/s in that table. Usage: python3 report.py results.txt"""

import sys
from collections import defaultdict
from statistics import median


def parse(lines):
    """{(mode, connections): {name: {field: over the rounds}}}, in the order first seen."""
    runs = defaultdict(lambda: defaultdict(list))
    for line in lines:
        mode, conns, name, *fields = line.split()
        runs[(mode, int(conns))][name].append({k: float(v) for k, v in (f.split("=") for f in fields)})
    return {
        case: {name: {k: _merge(k, [r[k] for r in rounds]) for k in rounds[0]} for name, rounds in names.items()}
        for case, names in runs.items()
    }


def _merge(field, values):
    return sum(values) if field in ("errors", "non2xx", "total") else median(values)


def is_thin(name):
    return name.startswith(("ceiling", "stream-proxy"))


def table(mode, conns, rows):
    direct = rows.get("direct")
    thin = {n: r for n, r in rows.items() if is_thin(n)}
    best = max(thin.values(), key=lambda r: r["rps"]) if thin else None
    ceiling, stream = rows.get("ceiling"), rows.get("stream-proxy")
    out = [
        f"### {mode.upper()}, {conns} connection{'s' if conns > 1 else ''}",
        "",
        "| target | rps | p50 ms | p99 ms | +p50 vs direct | rps / ceiling | rps / stream-proxy | rps / best thin "
        "| p99 / best thin | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def ratio(r, base, key="rps"):
        return f"{r[key] / base[key]:.2f}x" if base and base[key] else "-"

    for name, r in rows.items():
        added = f"{r['p50_ms'] - direct['p50_ms']:+.3f}" if direct and name != "direct" else "-"
        errors = int(r["errors"] + r["non2xx"])
        out.append(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {added} | {ratio(r, ceiling)} "
            f"| {ratio(r, stream)} | {ratio(r, best)} | {ratio(r, best, 'p99_ms')} | {errors} |"
        )
    return "\n".join(out)


def summary(tables):
    """The issue's three figures per target, JSON and SSE side by side: rps at 32 connections,
    p50 at 1, p99 at 32."""
    columns = [(m, c, k) for m in ("json", "sse") for c, k in ((32, "rps"), (1, "p50_ms"), (32, "p99_ms"))]
    names = list(dict.fromkeys(n for (m, c, k) in columns for n in tables.get((m, c), {})))
    out = [
        "### Summary",
        "",
        "| target | JSON rps@32 | JSON p50@1 ms | JSON p99@32 ms | SSE rps@32 | SSE p50@1 ms | SSE p99@32 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        cells = []
        for mode, conns, key in columns:
            r = tables.get((mode, conns), {}).get(name)
            cells.append("-" if r is None else f"{r[key]:,.0f}" if key == "rps" else f"{r[key]:.3f}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    with open(sys.argv[1]) as fh:
        tables = parse(line for line in fh if line.strip())
    print("\n\n".join([summary(tables), *(table(mode, conns, rows) for (mode, conns), rows in tables.items())]))


if __name__ == "__main__":
    main()
