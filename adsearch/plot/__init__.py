"""Plots (matplotlib Agg canvases with the mplhep style; nothing touches pyplot state)."""

from adsearch.plot.stats import plot_brazil, plot_bumphunt, plot_fit, plot_tstat

__all__ = ["plot_brazil", "plot_bumphunt", "plot_fit", "plot_tstat"]
