"""Statistics of the search: signal regions, background fit, BumpHunter, pyhf limits.

Background models (``FitConfig.method``): the dijet function over the whole range, SWiFt
(:mod:`adsearch.stats.swift`), function + Gaussian process (:mod:`adsearch.stats.gp`) or,
after a score cut, the failing events times a transfer factor (:mod:`adsearch.stats.control`); the
number of function parameters is chosen by the spurious-signal gate
(:mod:`adsearch.stats.spurious`); :mod:`adsearch.stats.nullcheck` calibrates the global
p-value on background-only pseudo-data.

>>> from adsearch.stats import FitConfig, BumpHunterConfig
>>> FitConfig().family, FitConfig().method, FitConfig().selection, BumpHunterConfig().widths
('dijet', 'auto', 'spurious', [1, 2, 3, 4, 5])
"""

from adsearch.stats.binning import Histogram, histogram, log_bins
from adsearch.stats.bumphunter import BumpHunterConfig, BumpHuntResult, bumphunt, bumphunt_hist
from adsearch.stats.config import RegionsConfig, StatsConfig
from adsearch.stats.fit import (
    BinnedModel,
    ControlConfig,
    FitConfig,
    FitResult,
    GPConfig,
    SpuriousSignalConfig,
    SwiftConfig,
    fit_background,
    spurious_signal,
    spurious_signal_tests,
)
from adsearch.stats.flatten import MjjQuantileMap
from adsearch.stats.limits import LimitConfig, LimitResult, limits_for_fit, scan_masses
from adsearch.stats.nullcheck import NullCheckConfig, NullCheckResult, null_check
from adsearch.stats.regions import (
    SIGNAL_REGION,
    MjjWindow,
    WorkingPoint,
    region_summary,
    select,
    selection_name,
    working_points,
)
from adsearch.stats.spectrum import fit_spectrum, refit_batch
from adsearch.stats.spurious import choose_npar, control_template

__all__ = [
    "SIGNAL_REGION",
    "BinnedModel",
    "BumpHuntResult",
    "BumpHunterConfig",
    "ControlConfig",
    "FitConfig",
    "FitResult",
    "GPConfig",
    "Histogram",
    "LimitConfig",
    "LimitResult",
    "MjjQuantileMap",
    "MjjWindow",
    "NullCheckConfig",
    "NullCheckResult",
    "RegionsConfig",
    "SpuriousSignalConfig",
    "StatsConfig",
    "SwiftConfig",
    "WorkingPoint",
    "bumphunt",
    "bumphunt_hist",
    "choose_npar",
    "control_template",
    "fit_background",
    "fit_spectrum",
    "histogram",
    "limits_for_fit",
    "log_bins",
    "null_check",
    "refit_batch",
    "region_summary",
    "scan_masses",
    "select",
    "selection_name",
    "spurious_signal",
    "spurious_signal_tests",
    "working_points",
]
