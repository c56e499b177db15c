"""Turn run_overhead.sh's result lines into one Markdown table per (mode, connections), with each
target's ratios against the direct mock and the thin proxies measured in the same run.

Input lines: ``MODE C NAME rps=… p50_ms=… p90_ms=… p99_ms=… errors=… non2xx=… total=…``.
Thin proxies are the targets named ``ceiling*`` or ``stream-proxy*``; "best thin" is the one with the
most requests/s in that table. Usage: python3 report.py results.txt"""

import sys
from collections import defaultdict


def parse(lines):
    tables = defaultdict(dict)
    for line in lines:
        mode, conns, name, *fields = line.split()
        tables[(mode, int(conns))][name] = {k: float(v) for k, v in (f.split("=") for f in fields)}
    return tables


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


def main():
    with open(sys.argv[1]) as fh:
        tables = parse(line for line in fh if line.strip())
    print("\n\n".join(table(mode, conns, rows) for (mode, conns), rows in tables.items()))


if __name__ == "__main__":
    main()
