"""Learned strong/weak router for ``model: "auto"``: score a prompt in [0, 1] (strong iff score ≥ threshold).

Public API: ``unigate.routing.learned.model.load_router(name_or_path).score(prompt)``.
Nothing is imported here, so ``import unigate`` pays nothing for this package.
"""
