"""How much an anomaly score is correlated with the jet mass and sculpts the m_jj shape.

A resonance search fits a smooth function to the m_jj spectrum of the events passing a score
cut; if the score prefers some jet masses, the cut reshapes (sculpts) the background m_jj
spectrum and can fake a bump. :func:`mass_sculpting_report` quantifies both effects on a
background(-dominated) sample:

- Pearson and Spearman correlation of score with m_j (Spearman is invariant under monotonic
  transformations of the score, so it does not care how the score is calibrated);
- the normalised m_jj (and m_j) histograms before and after keeping the fraction ``cut_eff``
  of highest scores, their bin-by-bin ratio (flat at 1 = no sculpting), and the
  Jensen-Shannon divergence of the two shapes (base 2: 0 = identical, 1 = disjoint).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from scipy.spatial.distance import jensenshannon

from adsearch.errors import InputError

__all__ = ["SculptingReport", "mass_sculpting_report"]


@dataclass(frozen=True)
class SculptingReport:
    """Result of :func:`mass_sculpting_report` (``to_dict()`` gives JSON-ready lists)."""

    pearson_mj: float
    spearman_mj: float
    cut_eff: float
    threshold: float
    n_before: int
    n_after: int
    mjj_edges: np.ndarray
    mjj_before: np.ndarray  # normalised to unit sum
    mjj_after: np.ndarray
    mjj_ratio: np.ndarray  # after / before per bin (nan where before is empty)
    mjj_js: float
    mj_edges: np.ndarray
    mj_before: np.ndarray
    mj_after: np.ndarray
    mj_js: float

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()
        }


def _shape(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    h = np.histogram(values, bins=edges)[0].astype(np.float64)
    return h / max(h.sum(), 1.0)


def _log_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    lo, hi = np.quantile(values, [0.005, 0.995])
    lo = max(lo, 1e-3 * max(hi, 1e-12))
    if not hi > lo:
        hi = lo * 1.01 + 1e-12
    return np.geomspace(lo, hi, n_bins + 1)


def _correlations(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman correlation; NaN when either input is (nearly) constant, where
    neither is defined (e.g. a classifier that learned nothing scores every event alike)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", stats.ConstantInputWarning)
        warnings.simplefilter("error", stats.NearConstantInputWarning)
        try:
            return float(stats.pearsonr(a, b)[0]), float(stats.spearmanr(a, b)[0])
        except (stats.ConstantInputWarning, stats.NearConstantInputWarning):
            return float("nan"), float("nan")


def mass_sculpting_report(
    scores: ArrayLike,
    mj: ArrayLike,
    mjj: ArrayLike,
    cut_eff: float,
    mjj_bins: int | np.ndarray = 40,
    mj_bins: int | np.ndarray = 40,
) -> SculptingReport:
    """Correlation of ``scores`` with ``mj`` and the m_jj shape change under a score cut.

    Parameters
    ----------
    scores, mj, mjj : array-like, same length
        One entry per jet or per event (e.g. event score, heavier-jet mass, dijet mass).
        Higher score = more anomalous.
    cut_eff : float
        Fraction of entries kept by the cut (the highest scores), in (0, 1].
    mjj_bins, mj_bins : int or array
        Bin edges, or a number of log-spaced bins spanning the 0.5-99.5 % quantiles.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> mj, mjj = rng.exponential(100, 20000), 2000 + rng.exponential(500, 20000)
    >>> r = mass_sculpting_report(mj + rng.normal(0, 10, 20000), mj, mjj, 0.1)
    >>> r.spearman_mj > 0.9, r.mjj_js < 0.01, r.n_after
    (True, True, 2000)
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    m1 = np.asarray(mj, dtype=np.float64).reshape(-1)
    m2 = np.asarray(mjj, dtype=np.float64).reshape(-1)
    if not (len(s) == len(m1) == len(m2)):
        raise InputError(
            f"mass_sculpting_report: scores ({len(s)}), mj ({len(m1)}) and mjj ({len(m2)}) "
            "must have the same length"
        )
    if len(s) < 10:
        raise InputError(f"mass_sculpting_report: need at least 10 entries, got {len(s)}")
    for name, v in (("scores", s), ("mj", m1), ("mjj", m2)):
        if not np.all(np.isfinite(v)):
            raise InputError(f"mass_sculpting_report: {name} contains NaN or infinite values")
    if not 0.0 < cut_eff <= 1.0:
        raise InputError(f"mass_sculpting_report: cut_eff must be in (0, 1], got {cut_eff}")
    n_keep = max(1, round(cut_eff * len(s)))
    order = np.argsort(-s, kind="stable")
    keep = order[:n_keep]
    threshold = float(s[keep[-1]])
    e2 = np.asarray(mjj_bins, float) if np.ndim(mjj_bins) else _log_edges(m2, int(mjj_bins))
    e1 = np.asarray(mj_bins, float) if np.ndim(mj_bins) else _log_edges(m1, int(mj_bins))
    b2, a2 = _shape(m2, e2), _shape(m2[keep], e2)
    b1, a1 = _shape(m1, e1), _shape(m1[keep], e1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(b2 > 0, a2 / b2, np.nan)
    pearson, spearman = _correlations(s, m1)
    return SculptingReport(
        pearson_mj=pearson,
        spearman_mj=spearman,
        cut_eff=float(cut_eff),
        threshold=threshold,
        n_before=len(s),
        n_after=int(n_keep),
        mjj_edges=e2,
        mjj_before=b2,
        mjj_after=a2,
        mjj_ratio=ratio,
        mjj_js=float(jensenshannon(b2, a2, base=2) ** 2) if a2.sum() > 0 else 1.0,
        mj_edges=e1,
        mj_before=b1,
        mj_after=a1,
        mj_js=float(jensenshannon(b1, a1, base=2) ** 2) if a1.sum() > 0 else 1.0,
    )
