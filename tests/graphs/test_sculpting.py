import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.graphs import mass_sculpting_report


def _sample(n=40000, seed=0):
    rng = np.random.default_rng(seed)
    mj = rng.exponential(80.0, n) + 10.0
    # mjj correlated with mj (heavier jets come with larger mjj), like QCD
    mjj = 1500.0 + rng.exponential(600.0, n) + 3.0 * mj
    return rng, mj, mjj


def test_mass_correlated_score_sculpts():
    rng, mj, mjj = _sample()
    r = mass_sculpting_report(mj + rng.normal(0, 5, len(mj)), mj, mjj, cut_eff=0.05)
    assert r.pearson_mj > 0.9 and r.spearman_mj > 0.9
    assert r.mjj_js > 0.05
    assert r.n_after == 2000
    assert np.isclose(r.mjj_before.sum(), 1.0) and np.isclose(r.mjj_after.sum(), 1.0)
    # the high-score events sit at high mjj: the ratio rises across the spectrum
    ratio = r.mjj_ratio[np.isfinite(r.mjj_ratio)]
    assert ratio[-5:].mean() > 2 * ratio[:5].mean()


def test_independent_score_does_not_sculpt():
    rng, mj, mjj = _sample()
    r = mass_sculpting_report(rng.normal(size=len(mj)), mj, mjj, cut_eff=0.2)
    assert abs(r.pearson_mj) < 0.03 and abs(r.spearman_mj) < 0.03
    assert r.mjj_js < 0.01
    ratio = r.mjj_ratio[r.mjj_before > 0.01]
    assert np.all(np.abs(ratio - 1) < 0.25)
    d = r.to_dict()
    assert isinstance(d["mjj_edges"], list) and len(d["mjj_edges"]) == 41


def test_bad_inputs():
    with pytest.raises(InputError, match="same length"):
        mass_sculpting_report(np.ones(20), np.ones(20), np.ones(19), 0.1)
    with pytest.raises(InputError, match="cut_eff"):
        mass_sculpting_report(np.arange(20.0), np.ones(20), np.ones(20), 0.0)
    with pytest.raises(InputError, match="NaN"):
        mass_sculpting_report(np.r_[np.nan, np.ones(19)], np.ones(20), np.ones(20), 0.5)
