import json

import numpy as np
import pyhf
import pytest
from scipy import optimize, stats

from adsearch.errors import InputError
from adsearch.stats.binning import Histogram
from adsearch.stats.fit import FitConfig, fit_background, gaussian_template
from adsearch.stats.limits import (
    LimitConfig,
    cls_limit,
    counting_spec,
    discovery,
    fit_spec,
    limits_for_fit,
    minuit_backend,
)


def _analytic_cls_limit(n, b, s, cl=0.95):
    """Asymptotic CLs limit (Cowan et al.) of a one-bin counting experiment, n >= b."""

    def cls(mu):
        nu = mu * s + b
        q = 2 * (nu - n + (n * np.log(n / nu) if n > 0 else 0.0))
        q_a = 2 * (mu * s - b * np.log1p(mu * s / b))
        return stats.norm.sf(np.sqrt(q)) / stats.norm.cdf(np.sqrt(q_a) - np.sqrt(q))

    mu_hat = (n - b) / s
    return optimize.brentq(lambda mu: cls(mu) - (1 - cl), mu_hat + 1e-6, 100.0)


@pytest.mark.parametrize("n_obs", [10.0, 16.0])
def test_counting_limit_matches_analytic(n_obs):
    b, s = 10.0, 5.0
    res = cls_limit(counting_spec(n_obs, b, s), rtol=1e-4)
    assert res.observed == pytest.approx(_analytic_cls_limit(n_obs, b, s), rel=5e-3)
    # median expected: sqrt(q_A) = Phi^-1(1 - 0.05/2)
    z = stats.norm.isf(0.025)
    mu_med = optimize.brentq(lambda mu: 2 * (mu * s - b * np.log1p(mu * s / b)) - z**2, 1e-6, 50)
    assert res.expected[2] == pytest.approx(mu_med, rel=5e-3)
    assert np.all(np.diff(res.expected) > 0)  # Brazil band ordered


def test_backend_restored_even_on_error():
    before = pyhf.get_backend()
    with pytest.raises(RuntimeError), minuit_backend():
        raise RuntimeError("boom")
    after = pyhf.get_backend()
    assert type(after[1]) is type(before[1]) and after[0].name == before[0].name


@pytest.fixture(scope="module")
def fitted(truth3, edges):
    m, th = truth3
    rng = np.random.default_rng(21)
    b = rng.poisson(m.expected(th)).astype(float)
    sig = rng.poisson(300 * gaussian_template(edges, 4000.0, 200.0))
    return (
        fit_background(Histogram(edges, b), FitConfig(npar=3)),
        fit_background(Histogram(edges, b + sig), FitConfig(npar=3)),
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyhf schema: jsonschema
def test_limits_brazil_band_and_workspace(fitted, tmp_path):
    bkg_only, _ = fitted
    res = limits_for_fit(bkg_only, LimitConfig(masses=[3500.0]), with_discovery=False)
    (lim,) = res.limits
    assert np.all(np.diff(lim.expected) > 0)
    assert lim.expected[0] < lim.observed < lim.expected[4]  # background only: inside ±2σ
    # expected limit ~ 2 sqrt(B) in the signal window (order of magnitude check)
    b_win = bkg_only.expected[(bkg_only.edges[:-1] > 3150) & (bkg_only.edges[1:] < 3850)].sum()
    assert 1.0 < lim.expected[2] * lim.n_ref / np.sqrt(b_win) < 5.0
    (path,) = res.write_workspaces(tmp_path)
    ws = pyhf.Workspace(json.loads(path.read_text()))
    mods = [m["type"] for s in ws["channels"][0]["samples"] for m in s["modifiers"]]
    assert mods.count("histosys") == bkg_only.npar and "normfactor" in mods
    assert json.loads(json.dumps(res.to_dict()))["limits"][0]["mass"] == 3500.0


def test_discovery_of_injected_signal(fitted):
    bkg_only, with_signal = fitted
    res = limits_for_fit(with_signal, LimitConfig(masses=[4000.0]), with_discovery=True)
    (lim,) = res.limits
    assert lim.z0 > 3.0
    assert lim.observed > lim.expected[3]  # excess: observed limit above +1σ
    spec, _ = fit_spec(bkg_only, gaussian_template(bkg_only.edges, 4000.0, 200.0))
    p0, z0 = discovery(spec)
    assert z0 < 3.0 and 0 < p0 <= 1


def test_limit_input_errors(fitted):
    bkg_only, _ = fitted
    with pytest.raises(InputError, match="outside"):
        limits_for_fit(bkg_only, LimitConfig(masses=[9000.0]))


def test_asymptotic_engine_matches_pyhf_and_is_fast():
    """The numpy asymptotic engine (dense scans) against pyhf on the same fit workspaces."""
    import time

    from adsearch.stats.binning import log_bins
    from adsearch.stats.fit import BinnedModel
    from adsearch.stats.limits import scan_masses

    edges = log_bins(2800.0, 6000.0, 0.05)
    m = BinnedModel(edges, "dijet", 4)
    nu = m.expected(m.theta_from_params([2e3, 9.0, -5.0, 0.2]))
    n = np.random.default_rng(2).poisson(nu + 80 * gaussian_template(edges, 4000, 200))
    fit = fit_background(Histogram(edges, n.astype(float)), FitConfig(npar=4))
    masses = [3300.0, 4000.0]
    ref = limits_for_fit(fit, LimitConfig(masses=masses))
    fast = limits_for_fit(fit, LimitConfig(masses=masses, engine="asymptotic"))
    for a, b in zip(ref.limits, fast.limits, strict=True):
        assert b.observed == pytest.approx(a.observed, rel=0.01)
        assert b.expected == pytest.approx(a.expected, rel=0.01)
        assert b.z0 == pytest.approx(a.z0, abs=0.02)
    assert fast.limits[1].z0 > 0.5  # the injected excess at 4 TeV
    t = time.perf_counter()
    scan = limits_for_fit(fit, LimitConfig(masses=scan_masses(2800.0, 6000.0), engine="asymptotic"))
    assert len(scan.limits) == 24 and time.perf_counter() - t < 10.0
    exp = np.array([lim.expected[2] * lim.n_ref for lim in scan.limits])
    assert np.all(np.abs(np.diff(np.log(exp))) < 0.2)  # a smooth expected limit, no jags


def test_engine_is_validated():
    from adsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="engine"):
        LimitConfig(engine="toys")


@pytest.fixture(scope="module")
def biased(truth3, edges):
    """Background-only counts with the 3.3-3.7 TeV window 15 % above the smooth spectrum (a
    cut's sculpting of the signal region), fitted with the dijet function."""
    from adsearch.stats.binning import window_overlap

    m, th = truth3
    inside = window_overlap(edges, (3300.0, 3700.0))
    n = np.random.default_rng(5).poisson(m.expected(th) * (1 + 0.15 * inside)).astype(float)
    return fit_background(Histogram(edges, n), FitConfig(npar=3)), inside


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("engine", ["pyhf", "asymptotic"])
def test_known_window_bias_removes_the_false_excess(biased, engine):
    """The plain fit sees the sculpted window as a signal; the measured shift removes it, and
    an uncertainty alone (no shift) makes the excess less significant and the limit weaker."""
    fit, inside = biased
    cfg = LimitConfig(masses=[3500.0], engine=engine)
    (plain,) = limits_for_fit(fit, cfg).limits
    (shifted,) = limits_for_fit(fit, cfg, scale=1 + 0.15 * inside).limits
    (unc,) = limits_for_fit(fit, cfg, uncertainty=0.15 * inside).limits
    assert plain.z0 > 3.0  # the false excess
    assert shifted.z0 < 2.0 and shifted.observed < plain.observed
    assert unc.z0 < plain.z0 - 0.5 and unc.expected[2] > plain.expected[2]
    # the background outside the window is untouched: a test mass far away does not move
    far = LimitConfig(masses=[5000.0], engine=engine)
    (a,) = limits_for_fit(fit, far, with_discovery=False).limits
    (b,) = limits_for_fit(fit, far, with_discovery=False, scale=1 + 0.15 * inside).limits
    assert b.expected[2] == pytest.approx(a.expected[2], rel=0.02)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyhf schema: jsonschema
def test_window_bias_workspace_and_errors(biased):
    fit, inside = biased
    t = gaussian_template(fit.edges, 3500.0, 175.0)
    spec, _ = fit_spec(fit, t, scale=1 + 0.1 * inside, uncertainty=0.05 * inside)
    bkg = spec["channels"][0]["samples"][1]
    (sr,) = [m for m in bkg["modifiers"] if m["name"] == "sr_bias"]
    b = np.asarray(bkg["data"])
    np.testing.assert_allclose(b, fit.expected * (1 + 0.1 * inside))
    np.testing.assert_allclose(np.asarray(sr["data"]["hi_data"]), b * (1 + 0.05 * inside))
    assert np.asarray(sr["data"]["hi_data"])[inside == 0] == pytest.approx(b[inside == 0])
    pyhf.Workspace(spec).model()  # a valid pyhf workspace
    plain, _ = fit_spec(fit, t)
    assert all(m["name"] != "sr_bias" for m in plain["channels"][0]["samples"][1]["modifiers"])
    with pytest.raises(InputError, match="scale: need"):
        fit_spec(fit, t, scale=np.ones(3))
    with pytest.raises(InputError, match="uncertainty: need"):
        fit_spec(fit, t, uncertainty=-inside)
