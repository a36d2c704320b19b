import contextlib
import io

import numpy as np
import pytest
from scipy import stats

from adsearch.errors import ConfigError, InputError
from adsearch.stats.binning import Histogram
from adsearch.stats.bumphunter import (
    BumpHunterConfig,
    bumphunt,
    bumphunt_hist,
    local_pvalues,
    scan,
    tail_pvalue,
    window_grid,
)
from adsearch.stats.fit import FitConfig, fit_background, gaussian_template
from adsearch.stats.spectrum import fit_spectrum


def test_local_pvalue_is_poisson_tail():
    p, n, b = local_pvalues(
        np.array([12.0, 3.0]), np.array([5.0, 5.0]), np.array([0, 1]), np.array([1, 1])
    )
    assert p[0] == pytest.approx(stats.poisson.sf(11, 5.0), rel=1e-10)
    assert p[1] == 1.0  # deficits are not excesses
    assert n.tolist() == [12.0, 3.0] and b.tolist() == [5.0, 5.0]


def test_window_grid_and_errors():
    lo, w = window_grid(10, [2, 3], step=2)
    assert lo.tolist() == [0, 2, 4, 6, 8, 0, 2, 4, 6]
    assert w.tolist() == [2] * 5 + [3] * 4
    with pytest.raises(InputError, match="no window"):
        window_grid(3, [5])
    with pytest.raises(ConfigError, match="widths"):
        BumpHunterConfig(widths=[0, 2])
    with pytest.raises(InputError, match="NaN"):
        bumphunt_hist(np.array([1.0, np.nan]), np.array([1.0, 1.0]))


def test_fast_path_equals_generic_scan():
    rng = np.random.default_rng(0)
    bkg = 800 * np.exp(-np.arange(40) / 8.0)
    toys = rng.poisson(bkg, size=(300, 40))
    cfg = BumpHunterConfig(widths=[1, 2, 4, 7], step=2, n_toys=300)
    res = bumphunt_hist(toys[0], bkg, cfg, toys=toys)
    lo, w = window_grid(40, cfg.widths, cfg.step)
    t_ref, _ = scan(toys.astype(float), bkg, lo, w)
    assert np.array_equal(res.t_toys, t_ref)


def test_tail_pvalue_with_a_background_uncertainty_is_the_averaged_poisson_tail():
    """Z_Bi = the Poisson tail averaged over a Gamma-distributed background (the off-sample
    posterior of Cousins, Linnemann and Tucker), checked by Monte Carlo; σ = 0 is Poisson."""
    n, b, sigma = np.array([130.0, 60.0]), np.array([100.0, 50.0]), np.array([10.0, 5.0])
    rng = np.random.default_rng(0)
    for i in range(2):
        tau = b[i] / sigma[i] ** 2
        mc = (rng.poisson(rng.gamma(tau * b[i] + 1, 1 / tau, 1_000_000)) >= n[i]).mean()
        assert tail_pvalue(n[i : i + 1], b[i : i + 1], sigma[i])[0] == pytest.approx(mc, rel=0.03)
    assert tail_pvalue(n, b, 0.0) == pytest.approx(stats.poisson.sf(n - 1, b), rel=1e-10)
    assert np.all(tail_pvalue(n, b, sigma) > tail_pvalue(n, b))  # an uncertainty weakens it
    assert tail_pvalue(np.array([90.0]), np.array([100.0]), 10.0)[0] == 1.0


def test_window_uncertainty_absorbs_a_known_bias_and_keeps_a_real_bump():
    """A background 5 % high in a 4-bin window (a score's sculpting there), against the
    unbiased expectation: Poisson BumpHunter calls it a discovery, the same scan with a 5 %
    uncertainty on that window does not; a bump well above 5 % is still found, and the fast
    (fixed-background) path gives the generic scan's numbers."""
    edges = np.arange(41.0)
    bkg = 20000 * np.exp(-np.arange(40) / 10.0)
    biased = bkg.copy()
    biased[14:18] *= 1.05
    data = np.round(biased)
    plain = BumpHunterConfig(n_toys=2000, seed=1)
    unc = BumpHunterConfig(n_toys=2000, seed=1, uncertainty=0.05, systematic_window=(14, 18))
    assert bumphunt_hist(data, bkg, plain, edges=edges).global_p < 0.001
    res = bumphunt_hist(data, bkg, unc, edges=edges)
    assert res.global_p > 0.2 and res.to_dict()["systematic"]["uncertainty"] == 0.05
    bump = data.copy()
    bump[15:17] += 6 * np.sqrt(bkg[15:17]) + 0.05 * bkg[15:17] * 3
    found = bumphunt_hist(bump, bkg, unc, edges=edges)
    assert found.global_p_is_bound and 15 <= found.window_lo_bin <= 16
    toys = np.random.default_rng(2).poisson(bkg, size=(200, 40))
    fast = bumphunt_hist(toys[0], bkg, unc, edges=edges, toys=toys)
    lo, w = window_grid(40, unc.widths)
    t_ref, _ = scan(toys.astype(float), bkg, lo, w, unc.bin_uncertainty(edges))
    np.testing.assert_allclose(fast.t_toys, t_ref, rtol=1e-12)
    with pytest.raises(ConfigError, match="systematic_window"):
        BumpHunterConfig(uncertainty=0.05)


def test_window_shift_corrects_a_known_bias_with_refitted_toys():
    """The same 5 % bias, corrected by shift=0.05: against the shifted background the biased
    background-only spectrum is no excess, the toys are drawn from the shifted background
    (their mean in the window is 5 % up), and a real bump on top is still found; global
    p-values of background-only spectra with the bias are uniform (refitted toys, function
    and control-ratio methods alike use the shift)."""
    from adsearch.stats.binning import log_bins
    from adsearch.stats.fit import BinnedModel

    edges = log_bins(2800.0, 6000.0, 0.05)
    m = BinnedModel(edges, "dijet", 3)
    bkg = m.expected(m.theta_from_params([2e5, 10.0, -5.0]))
    k = int(np.searchsorted(edges, 3300.0))
    window = (float(edges[k]), float(edges[k + 2]))  # two bins from 3.3 TeV
    inside = (edges[:-1] >= window[0]) & (edges[1:] <= window[1])
    biased = np.where(inside, 1.05 * bkg, bkg)
    cfg = BumpHunterConfig(n_toys=300, seed=1, shift=0.05, systematic_window=window)
    plain = BumpHunterConfig(n_toys=300, seed=1)
    rng = np.random.default_rng(5)
    ps, ps_plain = [], []
    for _ in range(30):
        data = Histogram(edges, rng.poisson(biased).astype(float))
        fit = fit_background(data, FitConfig(npar=3, blind=window))
        ps.append(bumphunt(fit, cfg).global_p)
        ps_plain.append(bumphunt(fit, plain).global_p)
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    assert np.mean(np.array(ps_plain) < 0.05) > 0.5  # uncorrected: a false bump most times
    res = bumphunt(fit, cfg)
    np.testing.assert_allclose(res.background[inside], 1.05 * fit.expected[inside])
    assert res.to_dict()["systematic"] == {
        "shift": 0.05,
        "uncertainty": 0.0,
        "window": list(window),
    }


def test_agrees_with_pybumphunter():
    """Same histogram and the same toys (pyBumpHunter's RandomState stream): same numbers."""
    pbh = pytest.importorskip("pyBumpHunter")
    rng = np.random.default_rng(3)
    bkg = 2000 * np.exp(-np.arange(60) / 15.0)
    data = rng.poisson(bkg).astype(float)
    data[30:33] += 25
    npe, seed = 400, 42
    ref = pbh.BumpHunter1D(width_min=2, width_max=6, npe=npe, nworker=1, seed=seed)
    with contextlib.redirect_stdout(io.StringIO()):
        ref.bump_scan(data, bkg, is_hist=True)
    toys = np.random.RandomState(seed).poisson(lam=bkg[:, None], size=(60, npe)).T
    ours = bumphunt_hist(data, bkg, BumpHunterConfig(widths=[2, 3, 4, 5, 6]), toys=toys)
    assert ours.t_obs == pytest.approx(ref.t_ar[0], rel=1e-12)
    assert np.allclose(ours.t_toys, ref.t_ar[1:], rtol=1e-12)
    assert ours.global_p == ref.global_Pval
    assert (ours.window_lo_bin, ours.window_width) == (ref.min_loc_ar[0], ref.min_width_ar[0])


def test_seeded_and_reproducible():
    bkg = np.full(30, 50.0)
    data = np.random.default_rng(1).poisson(bkg)
    cfg = BumpHunterConfig(n_toys=200, seed=7, chunk=64)
    a, b = bumphunt_hist(data, bkg, cfg), bumphunt_hist(data, bkg, cfg)
    assert np.array_equal(a.t_toys, b.t_toys)
    c = bumphunt_hist(data, bkg, BumpHunterConfig(n_toys=200, seed=8))
    assert not np.array_equal(a.t_toys, c.t_toys)


def test_injected_bump_found_with_expected_significance(truth3, edges):
    """A Gaussian bump at 3.5 TeV: found in the right window, local Z ~ the Asimov value."""
    m, th = truth3
    b = m.expected(th)
    sig = 350 * gaussian_template(edges, 3500.0, 175.0)
    cfg = BumpHunterConfig(n_toys=500)
    lo, w = window_grid(b.size, cfg.widths)
    p_asimov, _, _ = local_pvalues(b + sig, b, lo, w)
    z_expected = stats.norm.isf(p_asimov.min())
    zs = []
    for seed in range(4):
        data = np.random.default_rng(seed).poisson(b + sig).astype(float)
        fit = fit_spectrum(Histogram(edges, data), FitConfig(blind=(3150.0, 3850.0)))
        res = bumphunt(fit, BumpHunterConfig(n_toys=500, seed=seed))
        assert res.window_mjj[0] < 3500.0 < res.window_mjj[1]
        assert res.global_p < 0.05
        zs.append(res.z_local)
    assert abs(np.mean(zs) - z_expected) < 1.0, (zs, z_expected)
    assert z_expected > 5.0


def test_global_pvalues_uniform_without_refit(truth3):
    m, th = truth3
    b = m.expected(th)
    rng = np.random.default_rng(11)
    lo, w = window_grid(b.size, [1, 2, 3, 4, 5])
    t_ens, _ = scan(rng.poisson(b, size=(4000, b.size)).astype(float), b, lo, w)
    t_dat, _ = scan(rng.poisson(b, size=(400, b.size)).astype(float), b, lo, w)
    p = (t_ens[None, :] >= t_dat[:, None]).mean(1)
    assert stats.kstest(p, "uniform").pvalue > 0.01
    # the public API on one background-only spectrum gives the same kind of answer
    res = bumphunt_hist(rng.poisson(b), b, BumpHunterConfig(n_toys=1000, seed=1))
    assert 0.0 < res.global_p <= 1.0


def test_global_pvalues_uniform_with_refit(truth3, edges):
    m, th = truth3
    b = m.expected(th)
    rng = np.random.default_rng(12)
    ps, t_means = [], []
    for i in range(40):
        fit = fit_background(Histogram(edges, rng.poisson(b).astype(float)), FitConfig(npar=3))
        res = bumphunt(fit, BumpHunterConfig(n_toys=300, seed=i))
        assert res.n_toys_failed == 0
        ps.append(res.global_p)
        t_means.append(res.t_toys.mean())
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    # refitting absorbs part of each fluctuation: t is smaller than against a fixed background
    fixed = bumphunt_hist(rng.poisson(b), b, BumpHunterConfig(n_toys=2000, seed=3))
    assert np.mean(t_means) < fixed.t_toys.mean()
