"""openai_compat: the table of OpenAI-compatible upstreams."""

from __future__ import annotations

from unigate.providers.openai_compat import COMPAT_PROVIDERS


def test_every_row_is_complete():
    assert len(COMPAT_PROVIDERS) >= 15
    for name, row in COMPAT_PROVIDERS.items():
        assert row.azure or row.base_url.startswith("http"), name
        assert row.local or row.key_env, f"{name} needs a key variable"
