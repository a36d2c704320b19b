"""ROC, AUC, SIC and Spearman of adsearch.stats.metrics, checked against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.stats.metrics import (
    max_sic,
    roc_auc,
    roc_curve,
    roc_points,
    sic_curve,
    sic_from_roc,
    spearman,
)


def _auc_pairs(y, s):
    """P(score_sig > score_bkg) + 1/2 P(tie), over all pairs."""
    a, b = s[y == 1][:, None], s[y == 0][None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


def test_auc_perfect_reversed_and_ties():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert roc_auc(y, s) == 1.0
    assert roc_auc(y, -s) == 0.0
    assert roc_auc(y, np.ones(5)) == 0.5  # every pair tied: 1/2
    # one tied pair out of 6: (5 + 1/2) / 6
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.8, 0.9])) == pytest.approx(5.5 / 6)
    assert roc_auc(y.astype(bool), s) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_equals_pair_counting(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(500) < 0.3).astype(int)
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding makes many ties
    assert roc_auc(y, s) == pytest.approx(_auc_pairs(y, s), abs=1e-12)
    assert roc_auc(y, -s) == pytest.approx(1 - roc_auc(y, s))


def test_roc_curve_points_and_area():
    s = np.array([0.9, 0.8, 0.8, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 0, 1, 0])
    es, eb = roc_curve(y, s)
    assert es.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1.0, 1.0])
    assert eb.tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 2 / 3, 1.0])
    assert roc_points(y, s)[2].tolist() == [0.9, 0.8, 0.3, 0.2, 0.1]
    assert np.trapezoid(np.r_[0, es], np.r_[0, eb]) == pytest.approx(roc_auc(y, s))


def test_sic_respects_min_background():
    # 100 background uniform in [0, 1), 10 signal at 2: cutting at the n-th highest
    # background keeps n background events, SIC = 1 / sqrt(n / 100)
    y = np.r_[np.zeros(100), np.ones(10)].astype(int)
    s = np.r_[np.arange(100) / 100, np.full(10, 2.0)]
    _, sic, best, at = sic_curve(y, s, min_bkg=20)
    assert best == pytest.approx(1 / np.sqrt(0.2)) and at == 1.0
    assert sic.size == 81  # cuts keeping 20 ... 100 background events
    r = max_sic(y, s, min_bkg=5)
    assert r.sic == pytest.approx(1 / np.sqrt(0.05)) and r.eps_b == pytest.approx(0.05)
    # a cut with eps_b = 0 (signal only) is never counted, even with min_bkg = 0
    assert max_sic(y, s, min_bkg=0).sic == pytest.approx(10.0)
    assert np.isnan(max_sic(y, s, min_bkg=101).sic)
    # the same from a precomputed ROC
    es2, eb2 = roc_curve(y, s)
    assert sic_from_roc(es2, eb2, 100, 20)[2].sic == pytest.approx(best)


def test_bad_inputs():
    with pytest.raises(InputError, match="both signal and background"):
        roc_auc(np.array([1, 1]), np.array([0.1, 0.2]))
    with pytest.raises(InputError, match="0 .background. or 1"):
        roc_auc(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(InputError, match="NaN"):
        roc_curve(np.array([0, 1]), np.array([0.1, np.nan]))
    with pytest.raises(InputError, match="equal length"):
        roc_auc(np.array([0, 1, 1]), np.array([0.1, 0.2]))


def test_spearman():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)  # monotone: rank correlation 1
    assert spearman(x, -(x**3)) == pytest.approx(-1.0)
    assert abs(spearman(x, rng.normal(size=2000))) < 0.1
    assert np.isnan(spearman(x, np.zeros_like(x)))


def test_sic_at_fixed_signal_efficiency():
    """SIC at a fixed signal efficiency: a random score gives ~ε_S/√ε_S, a perfect one keeps no
    background (counted as one event), and the count of background events kept is exact."""
    from adsearch.stats.metrics import sic_at

    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(20000, int), np.ones(20000, int)]
    sic, nb = sic_at(y, rng.random(y.size), 0.2)
    assert sic == pytest.approx(np.sqrt(0.2), rel=0.05) and nb == pytest.approx(4000, rel=0.08)
    sic, nb = sic_at(y, y + 0.1 * rng.random(y.size), 0.2)
    assert nb == 0 and sic == pytest.approx(0.2 / np.sqrt(1 / 20000))
    with pytest.raises(InputError, match="signal efficiency"):
        sic_at(y, rng.random(y.size), 0.0)
