"""Quality vs cost: the router's score and the policy's threshold → one candidate.

The eligible candidates are reduced to their **price/quality frontier**: ordered by price,
a candidate is kept only if it is strictly better than every cheaper one (a model that costs
more and is not better is never the right choice; it is reported as ``dominated``).

On the frontier ``f0 … fk`` (cheapest/weakest → most expensive/strongest), with qualities
``q0 < … < qk``, score ``s`` in [0, 1] and threshold ``t``:

- ``s ≥ t`` → the **strong tier**: ``fk``, or with ``strong_quality`` set, the cheapest
  frontier model whose quality reaches it. The calibrated threshold therefore controls
  exactly the share of calls that go to the strong tier.
- ``s < t`` → the **required quality** rises linearly from ``q0`` (s = 0) to ``q_strong``
  (s = t): ``q = q0 + (s / t) · (q_strong − q0)``; the choice is the strongest frontier model
  whose quality does not exceed ``q`` — a middle tier takes over once the prompt's need
  reaches its quality level. With two candidates this is the classic strong/weak split.

**N-model choice** (a policy with ``quality_target``, and a router that predicts success per
model profile): the router predicts, for this prompt, each frontier candidate's chance of
answering well; the choice is the **cheapest candidate whose prediction reaches
``quality_target`` × the best prediction** (``choose_by_success``). Candidates the router has
no prediction for are skipped; if fewer than two have one, the tier rule above applies.
"""

from __future__ import annotations

from collections.abc import Sequence

from unigate.routing.auto.candidates import Candidate


def frontier(eligible: Sequence[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """(frontier sorted by price, dominated candidates)."""
    kept: list[Candidate] = []
    dominated: list[Candidate] = []
    for candidate in sorted(eligible, key=lambda c: c.sort_key):
        if kept and candidate.quality <= kept[-1].quality:
            dominated.append(candidate)
        else:
            kept.append(candidate)
    return kept, dominated


def strong_tier(front: Sequence[Candidate], strong_quality: float | None) -> int:
    if strong_quality is not None:
        for index, candidate in enumerate(front):
            if candidate.quality >= strong_quality:
                return index
    return len(front) - 1


def choose(front: Sequence[Candidate], score: float | None, threshold: float, strong_quality: float | None) -> int:
    """Index into ``front`` (non-empty). ``score`` None (no router) → the strong tier."""
    top = strong_tier(front, strong_quality)
    if score is None or score >= threshold or top == 0:
        return top
    low = front[0].quality
    required = low + (score / threshold) * (front[top].quality - low)
    chosen = 0
    for index in range(1, top):
        if front[index].quality <= required + 1e-12:
            chosen = index
        else:
            break
    return chosen


def choose_by_success(front: Sequence[Candidate], success: dict[str, float], target: float) -> int | None:
    """Index of the cheapest frontier candidate predicted to reach ``target`` × the best
    prediction; None when fewer than two candidates have a prediction."""
    known = [(i, success[c.name]) for i, c in enumerate(front) if c.name in success]
    if len(known) < 2:
        return None
    best = max(p for _, p in known)
    for index, predicted in known:  # the front is sorted cheapest first
        if predicted >= target * best - 1e-12:
            return index
    return known[-1][0]
