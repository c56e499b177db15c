"""``unigate compare``: run a prompt set through several models and report latency, cost and quality.

prompts (JSONL) → :mod:`.runner` (bounded concurrency, through a gateway over HTTP or in-process)
→ :mod:`.scoring` (exact / contains / regex / JSON schema / LLM judge) → :mod:`.stats` (table,
Pareto front) → :mod:`.report` (one self-contained HTML file).
"""
