"""Control-ratio background (``fit.method: control``): failing events × transfer factor."""

import numpy as np
import pytest
from scipy import special

from adsearch.errors import ConfigError, FitError, InputError
from adsearch.stats.binning import Histogram, log_bins
from adsearch.stats.bumphunter import BumpHunterConfig, bumphunt
from adsearch.stats.control import (
    control_toys,
    efficiency_fit,
    refit_control,
    scaled_log_mass,
)
from adsearch.stats.fit import BinnedModel, FitConfig, gaussian_template
from adsearch.stats.nullcheck import NullCheckConfig, null_pvalues
from adsearch.stats.spectrum import fit_spectrum
from adsearch.stats.spurious import control_template

EDGES = log_bins(2800.0, 6000.0, 0.05)
X = scaled_log_mass(EDGES)


@pytest.fixture(scope="module")
def total():
    """A dijet spectrum (all events before the cut) with a 3 % sine no 3–5 parameter dijet
    function follows: lobes as narrow as a resonance, shared by passing and failing events."""
    m = BinnedModel(EDGES, "dijet", 4)
    mu = m.expected(m.theta_from_params([2e5, 9.0, -5.0, 0.2]))
    return mu * (1 + 0.03 * np.sin(2 * np.pi * 1.5 * (X + 1) / 2))


def _eps(x, c=(-2.2, 0.4)):
    return special.expit(c[0] + c[1] * x)


def _split(total, seed, signal=None, eps_s=1.0):
    """Passing and failing histograms of Poisson pseudo-data; ``signal`` (events per bin)
    passes with ``eps_s``."""
    rng = np.random.default_rng(seed)
    e = _eps(X)
    s = np.zeros_like(total) if signal is None else signal
    n = rng.poisson(total * e + eps_s * s).astype(float)
    f = rng.poisson(total * (1 - e) + (1 - eps_s) * s).astype(float)
    return Histogram(EDGES, n), Histogram(EDGES, f)


def _fit(passing, failing, **kw):
    tmpl = control_template(failing, passing, kw.get("blind"))
    return fit_spectrum(passing, FitConfig(method="control", **kw), template=tmpl)


def test_scaled_log_mass_spans_minus_one_to_one():
    e = np.array([1000.0, 2000.0, 4000.0])
    np.testing.assert_allclose(scaled_log_mass(e), [-0.5, 0.5])


def test_efficiency_fit_matches_scikit_learn_and_is_batched():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    t = rng.integers(200, 2000, size=X.size)
    p = rng.binomial(t, _eps(X, (-1.5, 0.7)))
    c, cov, ok = efficiency_fit(
        np.stack([p, p]), np.stack([t - p, t - p]), X, np.ones_like(X, bool), 1
    )
    assert ok.all() and np.allclose(c[0], c[1])
    lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000)
    xs = np.concatenate([X, X])[:, None]
    ys = np.concatenate([np.ones_like(X), np.zeros_like(X)])
    lr.fit(xs, ys, sample_weight=np.concatenate([p, t - p]))
    np.testing.assert_allclose(c[0], [lr.intercept_[0], lr.coef_[0, 0]], atol=1e-5)
    assert np.all(np.abs(c[0] - [-1.5, 0.7]) < 4 * np.sqrt(np.diag(cov[0])))


def test_control_background_follows_a_shape_no_dijet_function_follows(total):
    passing, failing = _split(total, 1)
    ctl = _fit(passing, failing)
    assert ctl.method == "control" and ctl.npar == 2
    assert ctl.details["control"]["degree"] == 1 and ctl.p_value > 0.01
    assert ctl.background_cov is not None and np.all(ctl.expected_error > 0)
    assert np.max(np.abs(ctl.pulls)) < 3.5
    # noise-free: the transfer factor is exact for any shape the control selection shares,
    # the most flexible dijet function is not
    e = _eps(X)
    exact = Histogram(EDGES, total * e), Histogram(EDGES, total * (1 - e))
    np.testing.assert_allclose(_fit(*exact).expected, total * e, rtol=1e-6)
    five = fit_spectrum(exact[0], FitConfig(npar=5))
    assert np.max(np.abs(five.expected / (total * e) - 1)) > 0.005


def test_the_degree_follows_the_efficiency_and_not_a_signal_in_the_selection_window(total):
    """degree None: a degree is added while the likelihood ratio is significant, so a
    logistic efficiency keeps degree 1 and a curved one (a quadratic logit, as a 10 % cut at
    LHC Olympics size) gets degree 2, without the false signal-region excess degree 1 leaves.
    A resonance inside ``select_outside`` cannot raise the degree; without the window it
    does, and the higher degree absorbs part of it."""
    lin = _fit(*_split(total, 21))
    tried = [r["degree"] for r in lin.details["control"]["degree_selection"]]
    assert lin.npar == 2 and tried == [1, 2]
    big = 20 * total  # LHCO-size statistics
    rng = np.random.default_rng(22)
    e = special.expit(-2.2 + 0.4 * X - 0.3 * X**2)
    n = Histogram(EDGES, rng.poisson(big * e).astype(float))
    f = Histogram(EDGES, rng.poisson(big * (1 - e)).astype(float))
    sr = (EDGES[:-1] >= 3300) & (EDGES[1:] <= 3800)
    curved = _fit(n, f, control={"select_outside": (3300.0, 3700.0)})
    fixed = _fit(n, f, control={"degree": 1})
    assert curved.npar == 3 and curved.p_value > 0.01 and fixed.p_value < 1e-3
    assert np.abs(curved.pulls[sr]).max() < 2.5 < fixed.pulls[sr].max()
    assert fixed.details["control"]["degree_selection"] == []
    sig = 3000 * gaussian_template(EDGES, 3500.0, 175.0)
    passing, failing = _split(total, 6, signal=sig, eps_s=1.0)
    kept = _fit(passing, failing, control={"select_outside": (3300.0, 3700.0)})
    raised = _fit(passing, failing)
    assert kept.npar == 2 and raised.npar > 2
    z = [bumphunt(r, BumpHunterConfig(n_toys=20)).z_local for r in (kept, raised)]
    assert z[0] > 6 > z[1] + 1


def test_control_needs_the_failing_events(total):
    passing, failing = _split(total, 2)
    with pytest.raises(InputError, match="control selection"):
        fit_spectrum(passing, FitConfig(method="control"))
    bare = Histogram(EDGES, failing.counts)  # a template without the failing counts
    with pytest.raises(InputError, match="control selection"):
        fit_spectrum(passing, FitConfig(method="control"), template=bare)
    with pytest.raises(ConfigError, match="fit.control.degree"):
        FitConfig(method="control", control={"degree": 4})
    with pytest.raises(ConfigError, match="min_degree <= max_degree"):
        FitConfig(method="control", control={"min_degree": 2, "max_degree": 1})
    with pytest.raises(ConfigError, match="fit.control.select_outside"):
        FitConfig(method="control", control={"select_outside": (3700.0, 3300.0)})


def test_auto_is_control_with_a_control_selection_else_the_function(total):
    passing, failing = _split(total, 7)
    assert FitConfig().method == "auto"
    assert fit_spectrum(passing, template=control_template(failing, passing)).method == "control"
    assert fit_spectrum(passing).method == "function"
    bare = Histogram(EDGES, failing.counts)  # a template without the failing events: the gate's
    res = fit_spectrum(passing, template=bare)
    assert res.method == "function" and res.details["spurious_gate"]["template"] == "template"


def test_auto_needs_a_large_control_selection_without_empty_bins(total):
    passing, failing = _split(total, 9)
    tmpl = control_template(failing, passing)
    assert fit_spectrum(passing, template=tmpl).method == "control"
    small = FitConfig(control={"min_ratio": 20.0})  # the control has ~8x the passing events
    assert fit_spectrum(passing, small, template=tmpl).method == "function"
    f = failing.counts.copy()
    f[-1] = 0.0  # passing events but no failing ones in the last bin: a background of 0
    holed = control_template(Histogram(EDGES, f), passing)
    assert passing.counts[-1] > 0
    assert fit_spectrum(passing, template=holed).method == "function"
    with pytest.raises(FitError, match="5721-6000 GeV has passing events but no failing"):
        fit_spectrum(passing, FitConfig(method="control"), template=holed)


def test_template_keeps_the_failing_counts_through_json(total):
    passing, failing = _split(total, 3)
    tmpl = control_template(failing, passing)
    back = Histogram.from_dict(tmpl.to_dict())
    np.testing.assert_array_equal(back.meta["failing"], failing.counts)
    a = fit_spectrum(passing, FitConfig(method="control"), template=tmpl)
    b = fit_spectrum(passing, FitConfig(method="control"), template=back)
    np.testing.assert_array_equal(a.expected, b.expected)
    assert "meta" not in Histogram(EDGES, failing.counts).to_dict()


def test_toys_keep_the_bin_totals_and_refit(total):
    passing, failing = _split(total, 4)
    fit = _fit(passing, failing)
    toys, _, ok = control_toys(fit, np.random.default_rng(0), 50)
    assert ok.all() and toys.shape == (50, EDGES.size - 1)
    assert np.all(toys <= passing.counts + failing.counts)
    # the toys' mean is the fitted background (binomial with the fitted efficiency)
    assert np.allclose(toys.mean(0), (passing.counts + failing.counts) * fit.expected
                       / (fit.expected + failing.counts), rtol=0.2)  # fmt: skip
    _, again, ok2 = refit_control(fit, passing.counts[None])
    assert ok2.all()
    np.testing.assert_allclose(again[0], fit.expected, rtol=1e-6)


def test_signal_in_the_passing_events_is_found_and_blinding_interpolates(total):
    sig = 2500 * gaussian_template(EDGES, 3500.0, 175.0)
    passing, failing = _split(total, 5, signal=sig, eps_s=1.0)
    for blind in (None, (3300.0, 3700.0)):
        fit = _fit(passing, failing, blind=blind)
        bh = bumphunt(fit, BumpHunterConfig(n_toys=200, seed=1))
        lo, hi = bh.window_mjj
        assert lo < 3500 < hi and bh.z_local > 3.5, (blind, bh.z_local)


def test_signal_as_often_in_the_control_selection_is_invisible(total):
    """The documented price: the failing events carry the signal too; with ε_S = ε_B the
    transfer factor predicts the passing signal and no excess remains."""
    sig = 3000 * gaussian_template(EDGES, 3500.0, 175.0)
    e_mid = float(_eps(np.array([X[(EDGES[:-1] > 3300) & (EDGES[1:] < 3800)].mean()]))[0])
    passing, failing = _split(total, 6, signal=sig, eps_s=e_mid)
    sr = {"select_outside": (3300.0, 3700.0)}
    seen = _fit(*_split(total, 6, signal=sig, eps_s=1.0), control=sr)
    seen = bumphunt(seen, BumpHunterConfig(n_toys=50))
    hidden = bumphunt(_fit(passing, failing, control=sr), BumpHunterConfig(n_toys=50))
    assert seen.z_local > 5 and hidden.z_local < 3


def test_global_p_values_are_uniform_on_the_distorted_spectrum(total):
    """The null check of the distortion the spurious-signal gate cannot calibrate (3 % sine):
    FDR and uniformity of the control method's global p-values."""
    e = _eps(X)
    fail_mu = total * (1 - e)
    rng = np.random.default_rng(11)

    def analyse(h, seed):
        tmpl = control_template(Histogram(EDGES, rng.poisson(fail_mu).astype(float)), h)
        fit = fit_spectrum(h, FitConfig(method="control"), template=tmpl)
        return bumphunt(fit, BumpHunterConfig(n_toys=100, seed=seed)), fit.npar

    cfg = NullCheckConfig(n_pseudo=80, n_toys=100, seed=3)
    res = null_pvalues(total * e, EDGES, FitConfig(), BumpHunterConfig(), cfg, analyse=analyse)
    assert res.n_failed == 0 and res.ks_p > 0.01 and res.fdr < 0.15


def test_null_check_redraws_the_control_selection(total):
    """The pipeline's null check with the default (auto = control) background: each
    pseudo-dataset gets its own failing events, so the p-values are uniform (with the
    observed failing counts held fixed they were conservative: KS p 0.001 in the quick
    start)."""
    from adsearch.stats.nullcheck import null_check

    passing, failing = _split(total, 8)
    tmpl = control_template(failing, passing)
    fit = fit_spectrum(passing, template=tmpl)
    res = null_check(fit, FitConfig(), BumpHunterConfig(), NullCheckConfig(n_pseudo=80,
                     n_toys=100, seed=5), control=tmpl, template=tmpl)  # fmt: skip
    for r in res.values():
        assert r.n_failed == 0 and r.ks_p > 0.01 and r.fdr < 0.15, r.to_dict(False)
    again = null_check(fit, FitConfig(), BumpHunterConfig(), NullCheckConfig(n_pseudo=80,
                       n_toys=100, seed=5), control=tmpl, template=tmpl)  # fmt: skip
    np.testing.assert_array_equal(again["fit"].p_values, res["fit"].p_values)


def test_window_excess_sees_a_local_bump_and_not_a_curved_efficiency(total):
    """The sculpting measure of the report: a curved but smooth efficiency gives 1, a cut that
    passes 5 % more inside the window than its smooth trend gives 1.05."""
    from adsearch.stats.control import window_excess

    e = special.expit(-2.2 + 0.4 * X - 0.6 * X**2)
    big = 20 * total
    r, err = window_excess(big * e, big * (1 - e), EDGES, (3300.0, 3700.0))
    assert r == pytest.approx(1.0, abs=1e-6) and 0 < err < 0.02
    inside = (EDGES[1:] > 3300.0) & (EDGES[:-1] < 3700.0)
    bumped = np.where(inside, 1.05, 1.0) * e
    r, err = window_excess(big * bumped, big * (1 - bumped), EDGES, (3300.0, 3700.0))
    assert r == pytest.approx(1.05, abs=0.005)
