"""Training: configuration, jets and splits, and the training loop (``adsearch train``)."""

from adsearch.train.config import (
    DataConfig,
    OptimConfig,
    RuntimeConfig,
    TrainConfig,
    load_train_config,
)
from adsearch.train.data import (
    InputBuilder,
    JetSample,
    iter_jets,
    load_jets,
    split_events,
    training_jets,
)
from adsearch.train.trainer import TrainResult, load_model, train

__all__ = [
    "DataConfig",
    "InputBuilder",
    "JetSample",
    "OptimConfig",
    "RuntimeConfig",
    "TrainConfig",
    "TrainResult",
    "iter_jets",
    "load_jets",
    "load_model",
    "load_train_config",
    "split_events",
    "train",
    "training_jets",
]
