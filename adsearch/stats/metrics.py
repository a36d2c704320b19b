"""ROC, AUC, SIC and rank correlation: the one home of the classifier metrics of the package.

Conventions
-----------
* Argument order is ``(labels, scores)`` everywhere: ``labels`` are 0/1 (or boolean, 1 =
  signal), ``scores`` are larger for more signal-like (more anomalous) events.
* A cut keeps the events with ``score >= t``; the ROC has one point per distinct score value,
  from the tightest cut (first) to the loosest (last, ``eps_s = eps_b = 1``).
* AUC is the Mann–Whitney statistic ``P(s_sig > s_bkg) + P(s_sig = s_bkg) / 2`` from average
  ranks, so ties count one half (H. B. Mann and D. R. Whitney, "On a test of whether one of two
  random variables is stochastically larger than the other", Ann. Math. Stat. 18 (1947) 50).
* SIC (significance improvement characteristic) is ``eps_s / sqrt(eps_b)``, the factor by
  which a cut improves ``S / sqrt(B)`` (J. Gallicchio, J. Huth, M. Kagan, M. D. Schwartz,
  K. Black, B. Tweedie, "Multivariate discrimination and the Higgs + W/Z search", JHEP 04
  (2011) 069). Cuts keeping fewer than ``min_bkg`` background events are left out, so the
  maximum is not set by the fluctuation of a handful of events.

Examples
--------
>>> import numpy as np
>>> y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
>>> roc_auc(y, s)
0.75
>>> eps_s, eps_b = roc_curve(y, s)
>>> eps_s.tolist(), eps_b.tolist()
([0.5, 0.5, 1.0, 1.0], [0.0, 0.5, 0.5, 1.0])
>>> round(max_sic(y, s, min_bkg=1).sic, 4)
1.4142
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from adsearch.errors import InputError

__all__ = [
    "MaxSIC",
    "max_sic",
    "roc_auc",
    "roc_curve",
    "roc_points",
    "sic_at",
    "sic_curve",
    "sic_from_roc",
    "spearman",
]


class MaxSIC(NamedTuple):
    """Largest SIC of a score and the efficiencies of the cut that reaches it."""

    sic: float
    eps_s: float
    eps_b: float


def _labels_scores(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise InputError(f"labels {y.shape} and scores {s.shape} must be 1-D of equal length")
    if not np.all(np.isfinite(s)):
        raise InputError("scores: contain NaN or infinite values")
    if y.dtype != bool:
        if not np.all((y == 0) | (y == 1)):
            raise InputError("labels: must be 0 (background) or 1 (signal)")
        y = y == 1
    if y.all() or not y.any():
        raise InputError("AUC/ROC need both signal and background events")
    return y, s


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher = more signal-like) for 0/1 ``labels``.

    Parameters
    ----------
    labels : 0/1 or boolean array (1 = signal).
    scores : array of the same length.

    Returns
    -------
    float
        ``P(s_sig > s_bkg) + P(s_sig = s_bkg) / 2``: 1 for a perfect separator, 0 for a
        reversed one, 0.5 for a constant score.

    Raises
    ------
    InputError
        Only one class present, labels other than 0/1, non-finite scores.

    >>> roc_auc(np.array([0, 1]), np.array([1.0, 1.0]))  # a tie counts one half
    0.5
    """
    from scipy.stats import rankdata

    y, s = _labels_scores(labels, scores)
    n1, n0 = int(y.sum()), int((~y).sum())
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def roc_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(eps_s, eps_b, threshold)`` of the cuts ``score >= threshold``, tightest first.

    One point per distinct score value; the last point keeps everything (``1, 1``).

    >>> es, eb, t = roc_points(np.array([1, 0, 1]), np.array([0.9, 0.5, 0.5]))
    >>> es.tolist(), eb.tolist(), t.tolist()
    ([0.5, 1.0], [0.0, 1.0], [0.9, 0.5])
    """
    y, s = _labels_scores(labels, scores)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # end of each block of ties
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    return tp / int(y.sum()), fp / int((~y).sum()), s[last]


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(eps_s, eps_b)`` of the cuts ``score >= t`` for every distinct ``t``, tightest first.

    >>> es, eb = roc_curve(np.array([0, 1]), np.array([0.2, 0.7]))
    >>> es.tolist(), eb.tolist()
    ([1.0, 1.0], [0.0, 1.0])
    """
    es, eb, _ = roc_points(labels, scores)
    return es, eb


def sic_from_roc(
    eps_s: np.ndarray, eps_b: np.ndarray, n_background: int, min_bkg: int = 20
) -> tuple[np.ndarray, np.ndarray, MaxSIC]:
    """SIC of the ROC points keeping at least ``min_bkg`` of ``n_background`` events.

    Returns ``(eps_s, sic, best)`` of the kept points (in the input order) and the maximum
    (:class:`MaxSIC`; NaNs when no point is kept). Points with ``eps_b = 0`` are never kept.

    >>> es, sic, best = sic_from_roc(np.array([0.5, 1.0]), np.array([0.25, 1.0]), 4, 1)
    >>> sic.tolist(), best.sic, best.eps_b
    ([1.0, 1.0], 1.0, 0.25)
    """
    es = np.asarray(eps_s, dtype=np.float64)
    eb = np.asarray(eps_b, dtype=np.float64)
    # counts, not fractions: fp / n * n may round to just below an integer
    ok = (eb > 0) & (eb * n_background >= min_bkg - 1e-9)
    es, eb = es[ok], eb[ok]
    sic = es / np.sqrt(eb)
    if not sic.size:
        nan = float("nan")
        return es, sic, MaxSIC(nan, nan, nan)
    k = int(np.argmax(sic))
    return es, sic, MaxSIC(float(sic[k]), float(es[k]), float(eb[k]))


def sic_curve(
    labels: np.ndarray, scores: np.ndarray, min_bkg: int = 20
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """SIC = ``eps_s / sqrt(eps_b)`` vs ``eps_s`` for cuts keeping >= ``min_bkg`` background.

    Returns
    -------
    (eps_s, sic, max_sic, eps_s_at_max)
        Arrays tightest cut first; the maximum and its signal efficiency are NaN when no cut
        keeps ``min_bkg`` background events.

    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> es, sic, best, at = sic_curve(y, np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9]), min_bkg=1)
    >>> best, at
    (2.0, 1.0)
    """
    y, s = _labels_scores(labels, scores)
    es, eb, _ = roc_points(y, s)
    es, sic, best = sic_from_roc(es, eb, int((~y).sum()), min_bkg)
    return es, sic, best.sic, best.eps_s


def max_sic(labels: np.ndarray, scores: np.ndarray, min_bkg: int = 20) -> MaxSIC:
    """Largest SIC over the cuts on ``scores`` keeping >= ``min_bkg`` background events.

    >>> r = max_sic(np.array([0, 0, 0, 0, 1, 1]), np.array([1, 2, 3, 4, 8, 9]), min_bkg=2)
    >>> round(r.sic, 4), r.eps_s, r.eps_b
    (1.4142, 1.0, 0.5)
    """
    y, s = _labels_scores(labels, scores)
    es, eb, _ = roc_points(y, s)
    return sic_from_roc(es, eb, int((~y).sum()), min_bkg)[2]


def sic_at(labels: np.ndarray, scores: np.ndarray, eps_s: float) -> tuple[float, int]:
    """SIC ``ε_S / √ε_B`` of the cut keeping the fraction ``eps_s`` of the signal (its
    ``max(int(eps_s n_S), 1)`` highest-scored events), and the background events that cut
    keeps. Less noisy than :func:`max_sic`, which sits where a few background events pass; no
    background kept counts as one (a lower bound on the SIC).

    >>> y, s = np.array([0, 0, 0, 0, 1, 1]), np.array([1, 2, 3, 9, 8, 10])
    >>> sic_at(y, s, 1.0), sic_at(y, s, 0.5)
    ((2.0, 1), (1.0, 0))
    """
    y, s = _labels_scores(labels, scores)
    if not 0 < eps_s <= 1:
        raise InputError(f"sic_at: signal efficiency {eps_s} not in (0, 1]")
    sig = np.sort(s[y])[::-1]
    thr = sig[max(int(eps_s * sig.size) - 1, 0)]
    nb = int((s[~y] >= thr).sum())
    return float(eps_s / np.sqrt(max(nb, 1) / int((~y).sum()))), nb


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of ``a`` and ``b`` (NaN when either is constant).

    >>> spearman(np.array([1.0, 2.0, 3.0]), np.array([10.0, 40.0, 90.0]))
    1.0
    >>> spearman(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0]))
    nan
    """
    from scipy.stats import spearmanr

    x = np.asarray(a, dtype=np.float64)
    z = np.asarray(b, dtype=np.float64)
    if x.shape != z.shape or x.ndim != 1:
        raise InputError(f"spearman: arrays of shapes {x.shape} and {z.shape}")
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(z) == 0:
        return float("nan")
    return float(spearmanr(x, z)[0])
