"""ROC AUC, ROC curve and SIC of the report, checked against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.pipeline.report import max_sic, roc_auc, roc_curve


def _auc_pairs(s, y):
    """P(score_sig > score_bkg) + 1/2 P(tie), over all pairs."""
    a, b = s[y == 1][:, None], s[y == 0][None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


@pytest.mark.parametrize("seed", [0, 1])
def test_auc_equals_pair_counting_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(400) < 0.3
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding makes many ties
    assert roc_auc(s, y) == pytest.approx(_auc_pairs(s, y), abs=1e-12)
    # Gaussian shift 0.8: AUC = Phi(0.8 / sqrt(2)) = 0.714, within sampling error
    assert abs(roc_auc(s, y) - 0.714) < 0.08
    assert roc_auc(-s, y) == pytest.approx(1 - roc_auc(s, y))


def test_roc_curve_points_and_sic():
    s = np.array([0.9, 0.8, 0.8, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 0, 1, 0])
    eb, es, thr = roc_curve(s, y)
    assert thr.tolist() == [0.9, 0.8, 0.3, 0.2, 0.1]
    assert es.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1.0, 1.0])
    assert eb.tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 2 / 3, 1.0])
    # trapezoid area of the ROC = AUC
    assert np.trapezoid(np.r_[0, es], np.r_[0, eb]) == pytest.approx(roc_auc(s, y))
    # best cut: score >= 0.2 (all signal, 2 of 3 background): SIC = 1 / sqrt(2/3)
    sic, at = max_sic(eb, es, n_background=3, min_background=1)
    assert sic == pytest.approx(1 / np.sqrt(2 / 3)) and at == pytest.approx(2 / 3)
    # with a steeper ROC the tightest cut (one background event) would win ...
    eb2, es2 = np.array([1 / 3, 1.0]), np.array([0.9, 1.0])
    assert max_sic(eb2, es2, n_background=3, min_background=1)[1] == pytest.approx(1 / 3)
    # ... unless cuts keeping fewer than min_background background events are excluded
    assert max_sic(eb2, es2, n_background=3, min_background=2) == pytest.approx((1.0, 1.0))
    assert np.isnan(max_sic(eb, es, n_background=3, min_background=4)[0])


def test_auc_needs_both_classes():
    with pytest.raises(InputError, match="both signal and background"):
        roc_auc(np.array([0.1, 0.2]), np.array([1, 1]))
