"""Small configurations shared by the weak-supervision tests."""

from __future__ import annotations

from adsearch.weak import ClassifierConfig, FlowConfig, WeakConfig

#: a fast flow: a few small blocks, few epochs
TINY_FLOW = FlowConfig(transforms=2, hidden=[32, 32], max_epochs=20, patience=4)


def small_config(method: str = "cathode", kind: str = "hgb", **kw) -> WeakConfig:
    """Three folds, one member per fold, short trainings."""
    clf = ClassifierConfig(kind=kind, n_members=1, max_epochs=15, patience=4, hgb_max_iter=100)
    kw.setdefault("sideband_width", 300.0 if method == "cwola" else None)
    kw.setdefault("flow", TINY_FLOW)
    return WeakConfig(method=method, n_folds=3, threads=1, classifier=clf, **kw)
