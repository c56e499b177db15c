"""A policy's threshold: set directly, or calibrated from a target.

The learned router's scores are quantiles of its reference prompts (see
``routing/learned/model.py``): on traffic like those prompts, ``score ≥ t`` sends about
``1 - t`` of the calls to the strong tier. So with no sample of your own traffic:

- ``threshold: t``                → t
- ``target_strong_share: x``      → 1 - x
- ``target_pgr: p``               → the artifact's shipped calibration curve (``meta.calibration``
                                     share/pgr points) if present, else `unigate router calibrate`
                                     must be run and its threshold configured
- nothing                         → the shipped default (``meta.default_threshold``), else 0.7
                                     (30% strong)

To calibrate on a sample of your own traffic use ``unigate router calibrate`` (the learned
router's ``calibrate.py``) and set the threshold it prints.
"""

from __future__ import annotations

import logging
from typing import Any

from unigate.config import AutoPolicyConfig

log = logging.getLogger("unigate.auto")

DEFAULT_STRONG_SHARE = 0.3


def _artifact_meta(router: Any) -> dict[str, Any]:
    artifact = getattr(router, "artifact", None)
    meta = getattr(artifact, "meta", None)
    return meta if isinstance(meta, dict) else {}


def _share_for_pgr(meta: dict[str, Any], target: float) -> float | None:
    curve = meta.get("calibration")
    points = curve.get("points") if isinstance(curve, dict) else curve
    if not isinstance(points, list):
        return None
    for point in sorted((p for p in points if isinstance(p, dict)), key=lambda p: p.get("share", 1.0)):
        if float(point.get("pgr", 0.0)) >= target:
            return float(point["share"])
    return None


def resolve_threshold(config: AutoPolicyConfig, router: Any) -> tuple[float, str]:
    """(threshold, where it came from)."""
    if config.threshold is not None:
        return config.threshold, "config"
    if config.target_strong_share is not None:
        return round(1.0 - config.target_strong_share, 6), f"target_strong_share={config.target_strong_share:g}"
    meta = _artifact_meta(router)
    if config.target_pgr is not None:
        share = _share_for_pgr(meta, config.target_pgr)
        if share is not None:
            return round(1.0 - share, 6), f"target_pgr={config.target_pgr:g} (shipped curve: share {share:.3f})"
        log.warning(
            "auto policy %r: target_pgr needs a calibration curve the router %r does not ship; "
            "run `unigate router calibrate --target-pgr %g` and set threshold: instead (using %.0f%% strong)",
            config.name,
            config.router,
            config.target_pgr,
            DEFAULT_STRONG_SHARE * 100,
        )
        return 1.0 - DEFAULT_STRONG_SHARE, "default (target_pgr not calibrated)"
    default = meta.get("default_threshold")
    if isinstance(default, int | float) and 0 <= default <= 1:
        return float(default), "shipped default"
    return 1.0 - DEFAULT_STRONG_SHARE, "default"
