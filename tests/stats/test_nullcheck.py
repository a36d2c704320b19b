"""The null check draws its background-only pseudo-data from the background BumpHunter
scans against, including a known bias it corrects (``BumpHunterConfig.shift``)."""

from __future__ import annotations

import numpy as np

from adsearch.stats.bumphunter import BumpHunterConfig, bumphunt_hist
from adsearch.stats.fit import FitConfig
from adsearch.stats.nullcheck import NullCheckConfig, null_pvalues


def test_pseudo_data_carry_the_bumphunter_shift():
    edges = np.arange(21.0)
    mu = np.full(20, 1000.0)
    bcfg = BumpHunterConfig(n_toys=200, shift=0.1, systematic_window=(8.0, 10.0))
    seen = []

    def analyse(h, seed):
        seen.append(h.counts.copy())
        return bumphunt_hist(h.counts, mu, BumpHunterConfig(n_toys=50, seed=seed)), 0

    cfg = NullCheckConfig(n_pseudo=40, n_toys=50, seed=3)
    null_pvalues(mu, edges, FitConfig(), bcfg, cfg, analyse=analyse)
    mean = np.mean(seen, axis=0)
    np.testing.assert_allclose(mean[8:10], 1100.0, rtol=0.01)  # 1000 × (1 + shift)
    np.testing.assert_allclose(mean[np.r_[0:8, 10:20]].mean(), 1000.0, rtol=0.005)
