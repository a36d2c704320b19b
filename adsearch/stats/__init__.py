"""Statistics of the search: signal regions, background fit, BumpHunter, pyhf limits.

>>> from adsearch.stats import FitConfig, BumpHunterConfig
>>> FitConfig().family, BumpHunterConfig().widths
('dijet', [1, 2, 3, 4, 5])
"""

from adsearch.stats.binning import Histogram, histogram, log_bins
from adsearch.stats.bumphunter import BumpHunterConfig, BumpHuntResult, bumphunt, bumphunt_hist
from adsearch.stats.config import RegionsConfig, StatsConfig
from adsearch.stats.fit import (
    BinnedModel,
    FitConfig,
    FitResult,
    SpuriousSignalConfig,
    fit_background,
    fit_spectrum,
    refit_batch,
    spurious_signal,
    spurious_signal_tests,
)
from adsearch.stats.limits import LimitConfig, LimitResult, limits_for_fit
from adsearch.stats.regions import (
    SIGNAL_REGION,
    MjjWindow,
    WorkingPoint,
    region_summary,
    select,
    selection_name,
    working_points,
)

__all__ = [
    "SIGNAL_REGION",
    "BinnedModel",
    "BumpHuntResult",
    "BumpHunterConfig",
    "FitConfig",
    "FitResult",
    "Histogram",
    "LimitConfig",
    "LimitResult",
    "MjjWindow",
    "RegionsConfig",
    "SpuriousSignalConfig",
    "StatsConfig",
    "WorkingPoint",
    "bumphunt",
    "bumphunt_hist",
    "fit_background",
    "fit_spectrum",
    "histogram",
    "limits_for_fit",
    "log_bins",
    "refit_batch",
    "region_summary",
    "select",
    "selection_name",
    "spurious_signal",
    "spurious_signal_tests",
    "working_points",
]
