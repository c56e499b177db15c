"""``model: "auto"``: pick, per request, the cheapest model that still meets the request's needs.

Two stages (see docs/auto-routing.md):

1. **Constraints** (``constraints.py``): a candidate that cannot serve the request is rejected
   with the reason that eliminated it — key not allowed, privacy, tools, vision, json_schema,
   context window, price ceiling, minimum quality, unhealthy, latency / TTFT objective.
2. **Quality vs cost** (``tiers.py``): the learned router scores the prompt; the policy's
   threshold turns the score into one of the remaining candidates ordered by price.

``install.py`` wires it into the server; nothing here is imported by ``import unigate``.
"""
