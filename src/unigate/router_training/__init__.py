"""Training and evaluation of the learned router (``unigate router ...``): data sources, held-out
evaluation, training, cost-quality curves, retraining on the gateway's own traffic.

Imported only by the CLI: the gateway's request path uses ``unigate.routing.learned`` (inference
and artifact loading, numpy only). Training needs the ``train`` extra (scikit-learn, matplotlib).
"""
