"""Spurious-signal gate, SWiFt, GP background, null check (issue 17)."""

import contextlib
import warnings

import numpy as np
import pytest

from adsearch.stats.binning import Histogram, log_bins
from adsearch.stats.bumphunter import BumpHunterConfig, bumphunt
from adsearch.stats.fit import (
    BinnedModel,
    FitConfig,
    GPConfig,
    SwiftConfig,
    fit_background,
    gaussian_template,
)
from adsearch.stats.gp import signal_fit
from adsearch.stats.nullcheck import NullCheckConfig, null_check, null_pvalues
from adsearch.stats.spectrum import fit_spectrum, refit_batch
from adsearch.stats.spurious import asimov_spurious, choose_npar, control_template, scan_masses
from adsearch.stats.swift import fit_swift, window_bounds

EDGES = log_bins(2800.0, 6000.0, 0.05)


@pytest.fixture(scope="module")
def truth():
    m = BinnedModel(EDGES, "dijet", 4)
    return m.expected(m.theta_from_params([2e4, 9.0, -5.0, 0.2]))


def _hist(mu, seed):
    return Histogram(EDGES, np.random.default_rng(seed).poisson(mu).astype(float))


def _wiggle(mu, amp=0.03, periods=1.5):
    u = np.log(np.sqrt(EDGES[1:] * EDGES[:-1]))
    x = (u - u[0]) / (u[-1] - u[0])
    return mu * (1 + amp * np.sin(2 * np.pi * periods * x))


# ---------------------------------------------------------------- spurious-signal gate
def test_gate_picks_more_parameters_for_a_distorted_template(truth):
    data = _hist(truth, 1)
    m3 = BinnedModel(EDGES, "dijet", 3)
    pure = m3.expected(m3.theta_from_params([2e4, 9.0, -5.0]))
    assert choose_npar(data, FitConfig(), template=Histogram(EDGES, pure)).npar == 3
    # a 2 % sine over the range: 3 parameters fail the gate (|s/σ| ~ 1.5), 4 pass (~0.4)
    distorted = Histogram(EDGES, _wiggle(truth, 0.02, 1.0))
    res = choose_npar(data, FitConfig(), template=distorted)
    assert res.npar == 4
    assert [r["passed"] for r in res.selection] == [False, True]
    assert res.selection[0]["max_ratio"] > 1.0 > 0.5 > res.selection[1]["max_ratio"]
    # the template's shape decides, not its normalisation
    res10 = choose_npar(data, FitConfig(), template=Histogram(EDGES, 10 * distorted.counts))
    assert res10.npar == 4
    assert res10.selection[0]["max_ratio"] == pytest.approx(res.selection[0]["max_ratio"])
    # a stricter threshold asks for the 5th parameter
    assert choose_npar(data, FitConfig(spurious_fraction=0.35), template=distorted).npar == 5


def test_asimov_spurious_is_bias_over_data_error(truth):
    """A 3-parameter function on a 4-parameter truth: spurious signal grows with the data."""
    masses = [3300.0, 4000.0, 5000.0]
    small = asimov_spurious(truth, EDGES, 3, masses)
    big = asimov_spurious(100 * truth, EDGES, 3, masses)
    for a, b in zip(small, big, strict=True):
        assert b["ratio"] == pytest.approx(10 * a["ratio"], rel=0.02)  # bias / sqrt(N)
    assert max(abs(r["ratio"]) for r in asimov_spurious(truth, EDGES, 4, masses)) < 1e-4


def test_default_selection_is_the_gate_not_wilks(truth):
    assert FitConfig().selection == "spurious"
    res = fit_spectrum(_hist(truth, 2))
    assert "spurious_gate" in res.details and "max_ratio" in res.selection[0]


def test_control_template_recovers_the_efficiency_slope():
    m = BinnedModel(EDGES, "dijet", 3)
    shape = m.expected(m.theta_from_params([1e6, 9.0, -5.0]))
    c = np.sqrt(EDGES[1:] * EDGES[:-1])
    eps = 1 / (1 + np.exp(-(-3.0 + 1.5 * np.log(c / 4000.0))))  # sculpting cut
    rng = np.random.default_rng(0)
    passed = Histogram(EDGES, rng.poisson(shape * eps).astype(float))
    failed = Histogram(EDGES, rng.poisson(shape * (1 - eps)).astype(float))
    t = control_template(failed, passed, blind=(3300.0, 3700.0))
    assert t.meta["efficiency_logit"] == pytest.approx(
        [-3.0 - 1.5 * np.log(4000 / np.sqrt(EDGES[0] * EDGES[-1])), 1.5], abs=0.1
    )
    assert np.allclose(t.counts, shape * eps, rtol=0.1)


def test_scan_masses_every_resolution():
    ms = scan_masses(2800.0, 6000.0)
    assert np.all(np.diff(ms) == 100.0) and len(ms) >= 20
    assert ms[0] / 1.1 >= 2800.0 and ms[-1] * 1.1 <= 6000.0


# ---------------------------------------------------------------- SWiFt
def test_swift_equals_global_fit_when_the_window_spans_the_range(truth):
    h = _hist(truth, 3)
    for blind in (None, (3300.0, 3700.0)):
        cfg = FitConfig(method="swift", blind=blind, swift=SwiftConfig(npar=4, half_width=50))
        sw = fit_swift(h, cfg)
        glob = fit_background(h, FitConfig(npar=4, blind=blind))
        assert np.allclose(sw.expected, glob.expected, rtol=1e-10)
        assert sw.deviance == pytest.approx(glob.deviance)


def test_swift_follows_a_shape_the_global_function_cannot(truth):
    h = _hist(_wiggle(truth, 0.03), 4)
    glob = fit_background(h, FitConfig(npar=3))
    sw = fit_swift(h, FitConfig(method="swift", swift=SwiftConfig(npar=3, half_width=4)))
    assert glob.p_value < 1e-3 < sw.p_value
    assert [window_bounds(i, 16, 4) for i in (0, 4, 15)] == [(0, 9), (0, 9), (7, 16)]


def test_swift_window_choice_and_refit(truth):
    wig = _wiggle(truth, 0.005)
    cfg = FitConfig(method="swift", swift=SwiftConfig(candidates=[9, 8, 7, 6, 5, 4]))
    res = fit_spectrum(_hist(wig, 5), cfg, template=Histogram(EDGES, wig))
    table = res.details["swift"]["window_choice"]
    assert table[-1]["passed"] and all(not r["passed"] for r in table[:-1])
    assert table[0]["half_width"] == 9  # widest first
    assert res.details["swift"]["half_width"] < 9  # the whole range fails on the wiggle
    assert FitConfig().swift.candidates == [8, 5]  # the benchmarked default
    toys = np.random.default_rng(0).poisson(res.expected, size=(50, res.expected.size))
    _, bk, ok = refit_batch(res, toys.astype(float))
    assert ok.all() and np.allclose(bk.mean(0), res.expected, rtol=0.03)


# ---------------------------------------------------------------- Gaussian process
def _bump_z(mu, inj, min_length, seeds):
    shape = gaussian_template(EDGES, 4000.0, 3 * 0.05 * 4000.0)  # width 3x the resolution
    out = []
    for s in seeds:
        h = _hist(mu + inj * shape, s)
        cfg = FitConfig(method="gp", npar=4, gp=GPConfig(min_length=min_length))
        out.append(signal_fit(fit_spectrum(h, cfg), shape))
    return out


def test_gp_does_not_absorb_a_bump_of_three_resolutions(truth):
    null = _bump_z(truth, 0, 8.0, range(3))
    assert all(abs(r["z"]) < 2.0 for r in null)  # amplitude within errors of zero
    sig = _bump_z(truth, 6000, 8.0, range(3))
    for r in sig:
        assert abs(r["amplitude"] - 6000) < 2.5 * r["error"] and r["z"] > 3.0
    # the bound matters: a length scale allowed down to 1 resolution absorbs the bump
    loose = _bump_z(truth, 6000, 1.0, range(3))
    assert np.mean([r["z"] for r in loose]) < 0.8 * np.mean([r["z"] for r in sig])


def test_gp_length_scale_bound_and_refit(truth):
    h = _hist(_wiggle(truth, 0.04) * 5, 6)
    res = fit_spectrum(h, FitConfig(method="gp", npar=3))
    gp = res.details["gp"]
    assert gp["length_scale"] >= 8.0 * 0.05 - 1e-9 and gp["amplitude"] > 0.005  # GP active
    base = fit_background(h, FitConfig(npar=3))
    assert res.deviance < base.deviance - 10
    toys = np.random.default_rng(1).poisson(res.expected, size=(40, res.expected.size))
    _, bk, ok = refit_batch(res, toys.astype(float))
    assert ok.all() and np.allclose(bk.mean(0), res.expected, rtol=0.03)


@pytest.mark.parametrize("method", ["swift", "gp"])
def test_bumphunt_refits_with_the_method(truth, method):
    h = _hist(truth, 7)
    fit = fit_spectrum(h, FitConfig(method=method, npar=4, swift=SwiftConfig(half_width=5)))
    bh = bumphunt(fit, BumpHunterConfig(n_toys=100, seed=1))
    assert bh.refit and bh.n_toys_failed == 0 and 0.0 <= bh.global_p <= 1.0
    assert np.allclose(bh.background, fit.expected)


def test_limits_use_the_method_covariance(truth):
    from adsearch.stats.limits import fit_spec

    h = _hist(truth, 8)
    tmpl = gaussian_template(EDGES, 4000.0, 200.0)
    for method in ("swift", "gp"):
        fit = fit_spectrum(h, FitConfig(method=method, npar=3, swift=SwiftConfig(half_width=5)))
        spec, _ = fit_spec(fit, tmpl)
        mods = spec["channels"][0]["samples"][1]["modifiers"]
        assert len(mods) == 5 and fit.background_cov.shape == (16, 16)  # npar=3 (SWiFt) / 4
        assert np.allclose(np.sqrt(np.diag(fit.background_cov)), fit.expected_error, rtol=0.35)


# ---------------------------------------------------------------- null check
def test_null_check_is_seeded_and_reports_numbers(truth):
    fcfg = FitConfig(npar=4)
    fit = fit_background(_hist(truth, 9), fcfg)
    bcfg = BumpHunterConfig(n_toys=50)
    ncfg = NullCheckConfig(n_pseudo=12, n_toys=50, seed=3)
    a = null_check(fit, fcfg, bcfg, ncfg, control=Histogram(EDGES, _wiggle(truth)))
    b = null_check(fit, fcfg, bcfg, ncfg, control=Histogram(EDGES, _wiggle(truth)))
    assert set(a) == {"fit", "control"}
    for k in a:
        assert np.array_equal(a[k].p_values, b[k].p_values)
        d = a[k].to_dict()
        assert {"fdr", "fdr_error", "ks_p", "n_pseudo"} <= set(d) and d["n_pseudo"] == 12
    c = null_check(fit, fcfg, bcfg, NullCheckConfig(n_pseudo=12, n_toys=50, seed=4))
    assert not np.array_equal(a["fit"].p_values, c["fit"].p_values)


def test_null_check_flags_a_miscalibrated_model(truth):
    """Pseudo-data from a shape the 3-parameter fit cannot follow: p-values pile up at 0."""
    mu = _wiggle(truth, 0.05) * 10
    bad = null_pvalues(
        mu,
        EDGES,
        FitConfig(npar=3),
        BumpHunterConfig(),
        NullCheckConfig(n_pseudo=15, n_toys=50, seed=0),
    )
    assert bad.fdr > 0.5 and bad.ks_p < 0.01


# ---------------------------------------------------------------- tiny spectra
def test_tiny_spectra_fit_without_overflow_warnings(truth):
    from adsearch.errors import FitError

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for tot, seed in [(20, s) for s in range(25)] + [(60, s) for s in range(10)]:
            n = np.random.default_rng(seed).poisson(truth / truth.sum() * tot).astype(float)
            for k in (4, 5):
                with contextlib.suppress(FitError):
                    fit_background(Histogram(EDGES, n), FitConfig(npar=k, min_events=0))


def test_fit_config_from_yaml_mapping():
    """``stats.fit.method`` and the nested method options load like every other key."""
    from adsearch.config import from_dict, to_dict
    from adsearch.errors import ConfigError

    cfg = from_dict(
        FitConfig,
        {"method": "swift", "swift": {"half_width": 4}, "gp": {"min_length": 10.0}},
        source="stats:fit",
    )
    assert cfg.method == "swift" and cfg.swift.half_width == 4 and cfg.gp.min_length == 10.0
    assert from_dict(FitConfig, to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="method"):
        from_dict(FitConfig, {"method": "spline"})
    with pytest.raises(ConfigError, match="min_length"):
        FitConfig(gp=GPConfig(min_length=0.0))
