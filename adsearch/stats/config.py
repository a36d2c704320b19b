"""Options of the statistical analysis, composed from the statistics modules' own configs.

:class:`RegionsConfig` (working points, signal region) and :class:`StatsConfig` (binning of
the mjj spectra plus :class:`~adsearch.stats.FitConfig`,
:class:`~adsearch.stats.BumpHunterConfig` and :class:`~adsearch.stats.LimitConfig`; the
spurious-signal test has its own :class:`~adsearch.stats.fit.SpuriousSignalConfig`). Every
default is written once: the signal region is :data:`adsearch.stats.regions.SIGNAL_REGION`,
the mjj range and bin width are :data:`adsearch.stats.binning.MJJ_RANGE` and
:data:`~adsearch.stats.binning.BIN_WIDTH`.

Examples
--------
>>> StatsConfig().mjj_range, RegionsConfig().signal_region
((2500.0, 6000.0), (3300.0, 3700.0))
>>> RegionsConfig(working_points=[1.5]).validate()
Traceback (most recent call last):
...
adsearch.errors.ConfigError: regions:working_points: 1.5 is not in (0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adsearch.config import check_sections
from adsearch.errors import ConfigError
from adsearch.stats.binning import BIN_WIDTH, MJJ_RANGE, log_bins
from adsearch.stats.bumphunter import BumpHunterConfig
from adsearch.stats.fit import FitConfig
from adsearch.stats.limits import LimitConfig, scan_masses
from adsearch.stats.nullcheck import NullCheckConfig
from adsearch.stats.regions import SIGNAL_REGION, MjjWindow

__all__ = ["RegionsConfig", "StatsConfig"]


@dataclass
class RegionsConfig:
    """Working points (background efficiencies of the score cut) and the mjj signal region.

    Thresholds are the ``1 - eff`` quantiles of the scores of test events *outside* the
    ``signal_region`` (:func:`adsearch.stats.regions.region_summary`): fixed without looking
    at the SR.

    ``flatten: true`` makes the cuts mjj-flat: the score is replaced by its quantile among
    the events of the same mjj (:class:`adsearch.stats.flatten.MjjQuantileMap`, polynomials
    of degree ``flatten_degree`` in log mjj through ``flatten_bins`` equal-count bins outside
    the SR), so each cut keeps the same background fraction at every mjj and does not
    sculpt the spectrum.

    ``signal_region_shift`` and ``signal_region_uncertainty`` (one value per working point,
    in their order; ``None``: none) correct the background passing each cut inside the
    signal region by a relative shift and give that correction an uncertainty: the score's
    own sculpting there, which a weakly supervised classifier trained in the SR causes when
    it learns its template's imperfections like a signal. Measure both on background-only
    simulation put through the same analysis (the SR data over the fitted background, mean
    and error over several trainings); BumpHunter scans with them
    (:attr:`adsearch.stats.BumpHunterConfig.shift`, ``uncertainty``) and the limits use
    them (the ``scale`` and ``uncertainty`` of :func:`adsearch.stats.limits.fit_spec`).
    """

    working_points: list[float] = field(default_factory=lambda: [0.1, 0.01])
    signal_region: tuple[float, float] = SIGNAL_REGION
    flatten: bool = False
    flatten_degree: int = 2
    flatten_bins: int = 10
    signal_region_shift: list[float] | None = None
    signal_region_uncertainty: list[float] | None = None

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if self.flatten_degree < 0 or self.flatten_bins < self.flatten_degree + 1:
            raise ConfigError(
                "regions:flatten_bins: need more bins than flatten_degree "
                f"(got {self.flatten_bins} bins, degree {self.flatten_degree})"
            )
        if not self.working_points:
            raise ConfigError("regions:working_points: give at least one background efficiency")
        for eff in self.working_points:
            if not 0.0 < eff < 1.0:
                raise ConfigError(f"regions:working_points: {eff} is not in (0, 1)")
        if len(set(self.working_points)) != len(self.working_points):
            raise ConfigError("regions:working_points: duplicate values")
        lo, hi = self.signal_region
        if not 0 < lo < hi:
            raise ConfigError(f"regions:signal_region: need 0 < lo < hi, got {lo}, {hi}")
        for name, low in (("signal_region_shift", -1.0), ("signal_region_uncertainty", 0.0)):
            u = getattr(self, name)
            if u is None:
                continue
            if len(u) != len(self.working_points):
                raise ConfigError(
                    f"regions:{name}: {len(u)} values for {len(self.working_points)} working points"
                )
            if not all(np.isfinite(x) and (x > low if low < 0 else x >= low) for x in u):
                raise ConfigError(f"regions:{name}: need values > -1 (shift) / >= 0, got {u}")

    def systematic_of(self, eff: float | None) -> tuple[float, float]:
        """``(shift, uncertainty)`` in the signal region at working point ``eff`` (zeros for
        ``None``: no cut, or where not given).

        >>> RegionsConfig([0.1, 0.01], signal_region_shift=[0.02, 0.05],
        ...               signal_region_uncertainty=[0.01, 0.02]).systematic_of(0.01)
        (0.05, 0.02)
        """
        if eff is None:
            return 0.0, 0.0
        i = self.working_points.index(eff)
        s, u = self.signal_region_shift, self.signal_region_uncertainty
        return (0.0 if s is None else float(s[i])), (0.0 if u is None else float(u[i]))

    @property
    def window(self) -> MjjWindow:
        """The signal region as an :class:`~adsearch.stats.regions.MjjWindow`."""
        return MjjWindow(*self.signal_region)


@dataclass
class StatsConfig:
    """Binning of the mjj spectra and the fit / BumpHunter / limit options.

    ``fit.blind`` may be set to the signal region by the pipeline (``blind: true``).
    """

    mjj_range: tuple[float, float] = MJJ_RANGE
    bin_width: float = BIN_WIDTH
    fit: FitConfig = field(default_factory=FitConfig)
    bumphunt: BumpHunterConfig = field(default_factory=BumpHunterConfig)
    limits: LimitConfig = field(default_factory=LimitConfig)
    null_check: NullCheckConfig = field(default_factory=NullCheckConfig)

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        check_sections(self, "stats")
        lo, hi = self.mjj_range
        if not 0 < lo < hi:
            raise ConfigError(f"stats:mjj_range: need 0 < lo < hi, got {lo}, {hi}")
        if not 0 < self.bin_width < 1:
            raise ConfigError(f"stats:bin_width: must be in (0, 1), got {self.bin_width}")
        for m in [] if self.limits.scan_step else self.limits.masses:
            if not lo < m < hi:
                raise ConfigError(f"stats:limits:masses: {m:g} GeV outside mjj_range {lo:g}-{hi:g}")

    def limit_masses(self) -> list[float]:
        """The limit test masses: ``limits.masses``, or with ``limits.scan_step`` a scan every
        ``scan_step`` GeV inside ``mjj_range`` (:func:`adsearch.stats.limits.scan_masses`)."""
        if self.limits.scan_step:
            lo, hi = self.mjj_range
            return scan_masses(lo, hi, self.limits.resolution, self.limits.scan_step)
        return list(self.limits.masses)

    def edges(self) -> np.ndarray:
        """The log-spaced bin edges of the mjj spectra."""
        return log_bins(self.mjj_range[0], self.mjj_range[1], self.bin_width)
