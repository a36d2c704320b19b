"""Proxy scores (jet mass, girth), the GMM density baseline and the proxy report."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.graphs import jet_axis
from adsearch.graphs.toy import toy_jets
from adsearch.jets import jet_girth
from adsearch.score.baselines import (
    GMM_FEATURES,
    GMMBaseline,
    gmm_features,
    proxy_report,
    proxy_scores,
)
from adsearch.train.data import JetSample


def _table(rng, n, log_m=4.0, tau21=(0.5, 0.9)):
    """Events with two jets: log-normal masses, uniform tau21 in ``tau21``."""
    m = rng.lognormal(log_m, 0.25, (n, 2))
    t1 = rng.uniform(0.2, 1.0, (n, 2))
    t2 = t1 * rng.uniform(*tau21, (n, 2))
    return {
        "mj1": m[:, 0], "mj2": m[:, 1],
        "tau1j1": t1[:, 0], "tau2j1": t2[:, 0], "tau1j2": t1[:, 1], "tau2j2": t2[:, 1],
    }  # fmt: skip


def _cat(a, b):
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def test_proxy_scores_mass_and_girth_per_event():
    n = 6
    jets = toy_jets(2 * n, seed=3, mean_constituents=20)
    ax = jet_axis(jets)
    ev = ak.unflatten(jets, np.full(n, 2))  # events * 2 * var
    sample = JetSample.from_arrays(
        ev, ax.pt.reshape(n, 2), ax.eta.reshape(n, 2), ax.phi.reshape(n, 2)
    )
    table = {"mj1": ax.mass[0::2], "mj2": ax.mass[1::2]}
    p = proxy_scores(table, sample)
    g = jet_girth(jets, ax.pt, ax.eta, ax.phi)
    assert p["girth_j1"] == pytest.approx(g[0::2]) and p["girth_j2"] == pytest.approx(g[1::2])
    assert p["girth"] == pytest.approx(0.5 * (g[0::2] + g[1::2]))
    assert p["mass"] == pytest.approx(0.5 * (ax.mass[0::2] + ax.mass[1::2]))
    assert np.all(p["girth"] > 0)
    # the jets of a shuffled sample land in their own event rows
    perm = np.random.default_rng(0).permutation(2 * n)
    assert proxy_scores(table, sample.take(perm))["girth_j2"] == pytest.approx(g[1::2])
    with pytest.raises(InputError, match="do not make the two jets"):
        proxy_scores({"mj1": np.ones(n + 1), "mj2": np.ones(n + 1)}, sample)
    with pytest.raises(InputError, match="missing column 'mj2'"):
        proxy_scores({"mj1": np.ones(2)})


def test_gmm_features_order_jets_by_mass():
    rng = np.random.default_rng(1)
    t = _table(rng, 50)
    x = gmm_features(t)
    assert x.shape == (50, len(GMM_FEATURES))
    assert np.all(x[:, 0] >= x[:, 1])
    assert np.allclose(np.exp(x[:, 0]), np.maximum(t["mj1"], t["mj2"]))
    heavy_is_j1 = t["mj1"] >= t["mj2"]
    tau21_j1 = t["tau2j1"] / (t["tau1j1"] + 1e-5)
    assert np.allclose(x[heavy_is_j1, 2], tau21_j1[heavy_is_j1])
    assert np.allclose(x[~heavy_is_j1, 3], tau21_j1[~heavy_is_j1])


def test_gmm_baseline_separates_a_far_anomaly_and_is_reproducible():
    rng = np.random.default_rng(0)
    bkg_train, bkg_test = _table(rng, 3000), _table(rng, 2000)
    # anomaly: heavier jets (log m 5.5 vs 4) with two-prong-like tau21
    sig_test = _table(rng, 200, log_m=5.5, tau21=(0.1, 0.4))
    gmm = GMMBaseline(seed=3).fit(bkg_train)
    test = _cat(bkg_test, sig_test)
    y = np.r_[np.zeros(2000), np.ones(200)].astype(int)
    s = gmm.score(test)
    r = proxy_report(y, s, {}, np.maximum(test["mj1"], test["mj2"]))
    assert r["model"]["auc"] > 0.9 and r["model"]["max_sic"] > 3
    # same seed: identical; stored and restored through JSON: identical scores
    assert np.array_equal(GMMBaseline(seed=3).fit(bkg_train).score(test), s)
    back = GMMBaseline.from_dict(json.loads(json.dumps(gmm.to_dict())))
    assert np.allclose(back.score(test), s, rtol=0, atol=1e-10)
    # the density is scikit-learn's on the standardised features
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    z = (gmm_features(test) - gmm.mean) / gmm.std
    with threadpool_limits(1):
        ref = GaussianMixture(8, random_state=3).fit((gmm_features(bkg_train) - gmm.mean) / gmm.std)
    assert np.allclose(-ref.score_samples(z), s, atol=1e-8)


def test_gmm_baseline_fit_mask_and_errors():
    rng = np.random.default_rng(2)
    bkg, sig = _table(rng, 1000), _table(rng, 1000, log_m=5.5)
    both = _cat(bkg, sig)
    mask = np.r_[np.ones(1000), np.zeros(1000)].astype(bool)
    masked = GMMBaseline(n_components=2).fit(both, mask)
    assert masked.n_fit == 1000
    assert masked.score(both) == pytest.approx(GMMBaseline(n_components=2).fit(bkg).score(both))
    # fitted on the background only, the heavy events are the outliers
    assert np.median(masked.score(sig)) > np.quantile(masked.score(bkg), 0.99)
    with pytest.raises(InputError, match="too few"):
        GMMBaseline().fit(bkg, np.arange(1000) < 5)
    with pytest.raises(InputError, match="not fitted"):
        GMMBaseline().score(bkg)
    with pytest.raises(InputError, match="not fitted"):
        GMMBaseline().to_dict()
    partial = GMMBaseline(weights=masked.weights, means=masked.means)  # no standardisation
    with pytest.raises(InputError, match="not fitted"):
        partial.score(bkg)
    with pytest.raises(InputError, match="missing column 'tau2j2'"):
        GMMBaseline().fit({k: v for k, v in bkg.items() if k != "tau2j2"})
    with pytest.raises(InputError, match="missing key 'means'"):
        GMMBaseline.from_dict({k: v for k, v in masked.to_dict().items() if k != "means"})


def test_proxy_report_directions_and_mass_correlation():
    rng = np.random.default_rng(4)
    n_b, n_s = 4000, 400
    y = np.r_[np.zeros(n_b), np.ones(n_s)].astype(int)
    mj = rng.lognormal(4.0, 0.5, n_b + n_s)
    girth = rng.normal(0.1 - 0.05 * y, 0.02)  # signal narrower: lower girth
    model = np.log(mj) + rng.normal(0, 0.1, y.size)  # a model that is secretly the mass
    r = proxy_report(y, model, {"mass": mj, "girth": girth}, mj)
    g = r["proxies"]["girth"]
    assert g["direction"] == "lower" and g["auc"] < 0.1
    assert g["auc_best"] == pytest.approx(1 - g["auc"])
    assert g["max_sic"] > 3  # SIC of the cut girth < t, not girth > t
    m = r["proxies"]["mass"]
    assert m["direction"] == "higher" and m["auc_best"] == m["auc"]
    assert 0.4 < m["auc"] < 0.6  # mass independent of the label here
    assert m["spearman_mj"] == pytest.approx(1.0)
    assert r["spearman_score_mj"] > 0.95 and abs(g["spearman_mj"]) < 0.1
    assert r["model"]["auc"] == pytest.approx(m["auc"], abs=0.02)
    assert (r["n_signal"], r["n_background"], r["min_background_events"]) == (400, 4000, 20)
    # the girth (cut below) separates far better than the mass-like model: not beaten
    assert "girth" in r["not_beaten"]
    better = proxy_report(y, -girth + rng.normal(0, 1e-3, y.size), {"mass": mj}, mj)
    assert better["not_beaten"] == []
    with pytest.raises(InputError, match="girth: shape"):
        proxy_report(y, model, {"girth": girth[:-1]}, mj)
