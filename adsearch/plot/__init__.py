"""Plots (matplotlib Agg canvases with the mplhep style; nothing touches pyplot state)."""

from adsearch.plot.embedding import plot_embedding
from adsearch.plot.report import plot_message, plot_mjj_selections, plot_roc_sic, plot_scores
from adsearch.plot.stats import plot_brazil, plot_bumphunt, plot_fit, plot_tstat
from adsearch.plot.train import plot_learning_curve

__all__ = [
    "plot_brazil",
    "plot_bumphunt",
    "plot_embedding",
    "plot_fit",
    "plot_learning_curve",
    "plot_message",
    "plot_mjj_selections",
    "plot_roc_sic",
    "plot_scores",
    "plot_tstat",
]
