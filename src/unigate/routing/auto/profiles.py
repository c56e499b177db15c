"""Which model profile of the learned router each candidate is scored as (N-model choice).

In order: the policy's ``profiles: {public name: profile}``; the profile whose name matches
the candidate's upstream model or public name (``routing/learned/profiles.py`` aliases); else
the *nearest* profile by catalog quality — the profile whose catalog models' mean quality is
closest to the candidate's. Only profiles the loaded router predicts are used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from unigate.routing.auto.candidates import Candidate
from unigate.routing.learned.profiles import profile_for


def catalog_profile_quality(known: Iterable[tuple[str, float | None]]) -> dict[str, float]:
    """Mean catalog quality per profile, from (upstream model, quality) pairs of the catalog."""
    sums: dict[str, list[float]] = {}
    for model, quality in known:
        profile = profile_for(model)
        if profile is not None and quality is not None:
            sums.setdefault(profile, []).append(float(quality))
    return {p: sum(v) / len(v) for p, v in sums.items()}


def resolve_profiles(
    candidates: Sequence[Candidate],
    configured: dict[str, str],
    available: Sequence[str],
    profile_quality: dict[str, float],
) -> dict[str, str]:
    out: dict[str, str] = {}
    usable = set(available)
    rated = {p: q for p, q in profile_quality.items() if p in usable}
    for c in candidates:
        chosen = configured.get(c.name)
        if chosen is None:
            chosen = profile_for(c.model) or profile_for(c.name)
        if chosen is None and rated:
            chosen = min(rated, key=lambda p: (abs(rated[p] - c.quality), p))
        if chosen is not None and chosen in usable:
            out[c.name] = chosen
    return out
