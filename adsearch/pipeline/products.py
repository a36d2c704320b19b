"""The products of a pipeline run: paths relative to the run directory, each named once.

>>> Products.FEATURES
'features.parquet'
"""

from __future__ import annotations

from typing import Final

__all__ = ["Products"]


class Products:
    """Paths of the products, relative to the run directory (each named here only)."""

    BACKGROUND: Final = "events/background.h5"
    SIGNAL: Final = "events/signal.h5"
    EVENTS: Final = "events/events.h5"
    KEY: Final = "events/key.txt"
    REFERENCE: Final = "events/reference.h5"
    REFERENCE_FEATURES: Final = "reference_features.parquet"
    MANIFEST: Final = "events.json"
    FEATURES: Final = "features.parquet"
    FEATURES_LATENT: Final = "features_latent.parquet"
    REFERENCE_LATENT: Final = "reference_latent.parquet"
    TRAIN_DIR: Final = "train"
    MODEL: Final = "train/model.pt"
    CHECKPOINT: Final = "train/checkpoint.pt"
    TRAIN_TAG: Final = "train/pipeline_key.txt"
    TRAIN_METRICS: Final = "train/metrics.json"
    SCORES: Final = "scores.parquet"
    WEAK_DIR: Final = "weak"
    WEAK_INFO: Final = "weak/weak.json"
    FLOW_CACHE: Final = "cache/flows"  # CATHODE's trained flows, by content (outside weak/)
    REGIONS: Final = "regions.json"
    FIT: Final = "fit.json"
    BUMPHUNT: Final = "bumphunt.json"
    LIMITS: Final = "limits.json"
    WORKSPACES: Final = "workspaces"
    REPORT: Final = "report.md"
    RESULTS: Final = "results.json"
    PLOTS: Final = "plots"
