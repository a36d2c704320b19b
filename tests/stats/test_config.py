"""Configs of the statistics package: one home per default, overrides through replace."""

from __future__ import annotations

import numpy as np
import pytest

from adsearch.config import apply_overrides
from adsearch.errors import ConfigError
from adsearch.stats import (
    SIGNAL_REGION,
    FitConfig,
    Histogram,
    RegionsConfig,
    SpuriousSignalConfig,
    StatsConfig,
    fit_background,
    region_summary,
    select,
    spurious_signal,
    spurious_signal_tests,
    working_points,
)
from adsearch.stats.binning import BIN_WIDTH, MJJ_RANGE, log_bins
from adsearch.stats.io import SpectrumInput


def test_defaults_have_one_home():
    assert RegionsConfig().signal_region == SIGNAL_REGION == SpectrumInput("x").signal_region
    assert StatsConfig().mjj_range == MJJ_RANGE == SpectrumInput("x").mjj_range
    assert StatsConfig().bin_width == BIN_WIDTH == SpectrumInput("x").bin_width
    assert np.array_equal(StatsConfig().edges(), log_bins())


def test_overrides_replace_and_revalidate():
    cfg = apply_overrides(StatsConfig(), ["bumphunt.n_toys=50", "fit.blind=[3300, 3700]"])
    assert cfg.bumphunt.n_toys == 50 and cfg.fit.blind == (3300.0, 3700.0)
    assert StatsConfig().bumphunt.n_toys != 50  # the original is untouched
    with pytest.raises(ConfigError, match=r"--set:limits: unknown key 'mass'"):
        apply_overrides(StatsConfig(), ["limits.mass=[3000]"])
    # a value valid for its own section but not for the enclosing one
    with pytest.raises(ConfigError, match="outside mjj_range"):
        apply_overrides(StatsConfig(), ["limits.masses=[9000]"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides(StatsConfig(), ["fit"])


def test_region_summary_counts_what_select_selects():
    rng = np.random.default_rng(5)
    mjj, score = rng.uniform(2500, 6000, 5000), rng.random(5000)
    s = region_summary(mjj, score, [0.1, 0.02], (3300.0, 3700.0))
    wps = working_points(score, [0.1, 0.02], mjj=mjj, window=RegionsConfig().window)
    for row, wp in zip(s["working_points"], wps, strict=True):
        passed = select(mjj, score, wp).signal
        assert row["threshold"] == wp.threshold and row["n_selected"] == passed.size
        in_sr = int(((passed >= 3300) & (passed < 3700)).sum())
        assert row["n_selected_sr"] == in_sr
        assert row["n_selected_outside_sr"] == passed.size - in_sr
    assert s["n_test_sr"] == int(((mjj >= 3300) & (mjj < 3700)).sum())


def test_spurious_signal_tests_seed_each_mass(truth3, edges, poisson):
    m, th = truth3
    fit = fit_background(Histogram(edges, poisson(m, th, 9)), FitConfig(npar=3))
    cfg = SpuriousSignalConfig(masses=[3000.0, 3500.0], n_toys=50, seed=4)
    got = spurious_signal_tests(fit, cfg)
    want = [spurious_signal(fit, mass, n_toys=50, seed=4 + i) for i, mass in enumerate(cfg.masses)]
    assert [g.to_dict() for g in got] == [w.to_dict() for w in want]
    with pytest.raises(ConfigError, match="n_toys"):
        SpuriousSignalConfig(n_toys=1).validate()


def test_limit_masses_scan_every_step_inside_the_range():
    from adsearch.stats.limits import LimitConfig

    st = StatsConfig(mjj_range=(2800.0, 6000.0), limits=LimitConfig(scan_step=100.0))
    m = st.limit_masses()
    # every 100 GeV, the +-2 sigma signal window (5 % resolution) inside the range
    assert m[0] == 3100.0 and m[-1] == 5400.0 and np.all(np.diff(m) == 100.0)
    assert StatsConfig(mjj_range=(2800.0, 6000.0)).limit_masses() == LimitConfig().masses
    with pytest.raises(ConfigError, match="scan_step"):
        LimitConfig(scan_step=-5.0).validate()
    with pytest.raises(ConfigError, match="outside mjj_range"):  # listed masses are checked
        StatsConfig(mjj_range=(2800.0, 6000.0), limits=LimitConfig(masses=[9000.0])).validate()
