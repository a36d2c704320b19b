"""Weakly supervised resonant anomaly detection: CWoLa hunting, CATHODE, reference templates.

A classifier learns to tell the signal-region data from a background template; a localised
signal is the only difference, so the classifier's score is a signal tagger learnt from the
data itself (Metodiev, Nachman, Thaler, JHEP 10 (2017) 174).

* :func:`cwola` — template = sideband data (Collins, Howe, Nachman, PRL 121, 241803);
* :func:`cathode` — template = samples of a conditional normalizing flow trained on the
  sidebands and interpolated into the signal region (Hallin et al., PRD 106, 055006);
* :func:`lacathode` — CATHODE in the latent space of its flow, where the background is
  standard normal at every mjj, so a cut does not sculpt mjj (Hallin et al., PRD 107, 114012);
* :func:`reference` — template = a background sample given by the user (the idealized
  anomaly detector when it is the true background).

Classifiers are k-fold ensembles (:mod:`adsearch.weak.classifiers`; MLP or boosted trees)
whose scores are strictly out of fold. :func:`weak_scores` runs a method on event tables
(:func:`read_table`), :func:`write_outputs` writes its products atomically;
:class:`WeakConfig` holds every option and default.
"""

from __future__ import annotations

from adsearch.weak.classifiers import Ensemble, KFoldResult, Member, kfold_classify
from adsearch.weak.config import DEFAULT_FEATURES, ClassifierConfig, FlowConfig, WeakConfig
from adsearch.weak.features import FEATURES, feature_matrix, read_table
from adsearch.weak.flow import ConditionalFlow
from adsearch.weak.methods import (
    WeakResult,
    cathode,
    cwola,
    lacathode,
    reference,
    regions,
    weak_scores,
)
from adsearch.weak.output import load_ensemble, write_outputs
from adsearch.weak.toys import WeakToy, planted_toy, toy_table

__all__ = [
    "DEFAULT_FEATURES",
    "FEATURES",
    "ClassifierConfig",
    "ConditionalFlow",
    "Ensemble",
    "FlowConfig",
    "KFoldResult",
    "Member",
    "WeakConfig",
    "WeakResult",
    "WeakToy",
    "cathode",
    "cwola",
    "feature_matrix",
    "kfold_classify",
    "lacathode",
    "load_ensemble",
    "planted_toy",
    "read_table",
    "reference",
    "regions",
    "toy_table",
    "weak_scores",
    "write_outputs",
]
