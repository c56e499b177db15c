"""Models, capabilities and prices.

Capabilities, context windows and the zero-config model lists come from ``models.yaml`` in
this package; prices come from the ``genai-prices`` package (loaded lazily, ~80 ms), and any
public model can override both in config. The local model costs nothing.
"""

from __future__ import annotations

from unigate.catalog.catalog import Catalog, ModelInfo
from unigate.catalog.pricing import Price

__all__ = ["Catalog", "ModelInfo", "Price"]
