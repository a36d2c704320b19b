import numpy as np
import pytest
from iminuit import Minuit

from adsearch.errors import ConfigError, FitError
from adsearch.stats.binning import Histogram
from adsearch.stats.fit import (
    BinnedModel,
    FitConfig,
    fit_background,
    gaussian_template,
    sample_mjj,
    spurious_signal,
)
from adsearch.stats.spectrum import fit_spectrum, refit_batch


def test_param_roundtrip(edges):
    for fam, k, p in [("dijet", 5, [2e4, 8.0, -6.0, 0.3, 0.02]), ("ua2", 4, [1e3, 5.0, 3.0, 1.0])]:
        m = BinnedModel(edges, fam, k)
        assert np.allclose(m.params_from_theta(m.theta_from_params(p)), p, rtol=1e-10)


def test_expected_matches_integral_of_density(truth4):
    m, th = truth4
    x = np.linspace(m.edges[0], m.edges[1], 20001)
    direct = np.trapezoid(m.density(x, th), x)
    assert m.expected(th)[0] == pytest.approx(direct, rel=1e-6)


def test_pulls_over_toys(truth4, poisson):
    """Fits of toys from a known 4-parameter dijet function: pulls ~ N(0, 1)."""
    m, th = truth4
    truth = m.params_from_theta(th)
    pulls = []
    for seed in range(60):
        res = fit_background(Histogram(m.edges, poisson(m, th, seed)), FitConfig(npar=4))
        assert res.converged
        est, err = res.params.copy(), res.param_errors.copy()
        # the normalisation p1 = exp(c0) is fitted as c0 = ln p1 (Gaussian); err is linearised
        err[0] /= est[0]
        est[0] = np.log(est[0])
        pulls.append((est - np.r_[np.log(truth[0]), truth[1:]]) / err)
    pulls = np.array(pulls)
    # 60 toys: the mean has sigma ~0.13, the width ~0.09
    assert np.all(np.abs(pulls.mean(0)) < 0.45), pulls.mean(0)
    assert np.all(np.abs(pulls.std(0) - 1.0) < 0.3), pulls.std(0)


def test_batched_refit_agrees_with_iminuit(truth4, poisson):
    m, th = truth4
    nominal = fit_background(Histogram(m.edges, poisson(m, th, 100)), FitConfig(npar=4))
    toys = np.random.default_rng(5).poisson(nominal.expected, size=(4, m.nbins)).astype(float)
    theta, expected, ok = refit_batch(nominal, toys)
    assert ok.all()
    for i in range(4):
        ref = fit_background(Histogram(m.edges, toys[i]), FitConfig(npar=4))
        err = np.sqrt(np.diag(ref.cov))
        assert np.all(np.abs(theta[i] - ref.theta) < 1e-3 * err)
        assert np.allclose(expected[i], ref.expected, rtol=1e-5)


def test_wilks_selection(truth3, edges, poisson):
    # Wilks is no longer the default (issue 17: the spurious-signal gate is); ask for it
    m, th = truth3
    res = fit_spectrum(Histogram(edges, poisson(m, th, 3)), FitConfig(selection="wilks"))
    assert res.npar == 3
    assert res.selection[1]["p_value"] > 0.05
    # a strongly curved 5-parameter truth with many events needs more than 3 parameters
    m5 = BinnedModel(edges, "dijet", 5)
    th5 = m5.theta_from_params([5e6, 8.0, -6.0, 1.5, 0.5])
    for sel in ("wilks", "ftest"):
        r5 = fit_spectrum(Histogram(edges, poisson(m5, th5, 4)), FitConfig(selection=sel))
        assert r5.npar >= 4
        assert r5.p_value > 0.001


def test_goodness_of_fit_pvalue_reasonable(truth3, edges, poisson):
    m, th = truth3
    ps = [
        fit_background(Histogram(edges, poisson(m, th, s)), FitConfig(npar=3)).p_value
        for s in range(20)
    ]
    assert 0.2 < np.mean(ps) < 0.8  # uniform p-values average 0.5


def test_blinding_masks_the_signal_region(truth3, edges, poisson):
    m, th = truth3
    n = poisson(m, th, 7)
    bumped = n + np.round(800 * gaussian_template(edges, 3500.0, 50.0))
    cfg = FitConfig(npar=3, blind=(3200.0, 3800.0))
    a, b = fit_background(Histogram(edges, n), cfg), fit_background(Histogram(edges, bumped), cfg)
    assert np.allclose(a.theta, b.theta, rtol=1e-4, atol=1e-6)
    assert not a.fit_mask.all() and a.ndf == a.fit_mask.sum() - 3
    unblinded = fit_background(Histogram(edges, bumped), FitConfig(npar=3))
    assert unblinded.p_value < b.p_value or unblinded.deviance > b.deviance


def test_ua2_alternative(truth3, edges, poisson):
    m, th = truth3
    res = fit_spectrum(Histogram(edges, poisson(m, th, 8)), FitConfig(family="ua2"))
    assert res.family == "ua2" and res.p_value > 0.01


def test_spurious_signal_small(truth3, edges, poisson):
    m, th = truth3
    fit = fit_background(Histogram(edges, poisson(m, th, 9)), FitConfig(npar=3))
    res = spurious_signal(fit, 3500.0, n_toys=200, seed=1)
    assert res.passed and abs(res.ratio) < 0.5
    # the spread of the fitted signal matches its estimated uncertainty
    assert res.std_signal == pytest.approx(res.mean_signal_error, rel=0.2)


def test_fit_errors(edges):
    with pytest.raises(FitError, match="too few events"):
        fit_background(Histogram(edges, np.ones(edges.size - 1)), FitConfig(npar=3))
    n = np.zeros(edges.size - 1)
    n[3] = 500
    with pytest.raises(FitError, match="non-empty bins"):
        fit_background(Histogram(edges, n), FitConfig(npar=3))
    with pytest.raises(ConfigError, match="npar"):
        FitConfig(npar=7)
    with pytest.raises(ConfigError, match="family"):
        FitConfig(family="poly")


def test_fit_nonconvergence_is_fiterror(truth3, edges, poisson, monkeypatch):
    m, th = truth3
    orig = Minuit.migrad

    def capped(self, ncall=None, iterate=5):
        return orig(self, ncall=3, iterate=1)

    monkeypatch.setattr(Minuit, "migrad", capped)
    n = poisson(m, th, 1)
    n[::2] *= 3  # far from the start: 3 calls cannot converge
    with pytest.raises(FitError, match="did not converge"):
        fit_background(Histogram(edges, n), FitConfig(npar=5))


def test_sample_mjj_follows_model(truth3):
    m, th = truth3
    x = sample_mjj(m, th, seed=2)
    counts = np.histogram(x, m.edges)[0]
    nu = m.expected(th)
    chi2 = np.sum((counts - nu) ** 2 / nu)
    assert chi2 < 3 * m.nbins
    assert np.array_equal(x, sample_mjj(m, th, seed=2))
