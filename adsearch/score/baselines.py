"""Proxy and baseline scores to report beside a model's anomaly score.

An unsupervised jet anomaly score can secretly be the jet mass, or the jet girth (a
one-prong / two-prong discriminant), or no better than a plain density estimate of the
standard jet features. Every place that reports a model's AUC/SIC should therefore show beside
it the same numbers for

* :func:`proxy_scores`: the jet mass alone and the jet girth alone (per event: the mean of the
  two leading jets' values, like the model's default event score), and
* :class:`GMMBaseline`: a Gaussian-mixture density of ``[log m_heavier, log m_lighter,
  tau21_heavier, tau21_lighter]`` fitted on background (training) events, scored as
  ``-log density``: the classic four features of weakly supervised dijet searches
  (J. H. Collins, K. Howe, B. Nachman, "Anomaly detection for resonant new physics with
  machine learning", Phys. Rev. Lett. 121 (2018) 241803; G. Kasieczka et al., "The LHC
  Olympics 2020", Rep. Prog. Phys. 84 (2021) 124201),

and :func:`proxy_report` puts the model and the proxies side by side (AUC, max SIC, rank
correlation with the jet mass) and names the proxies the model does not beat.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 0, 0, 1, 1, 1])
>>> r = proxy_report(y, np.array([1.0, 2, 3, 4, 5, 6]), {"girth": -np.arange(6.0)},
...                  mj=np.array([10.0, 20, 30, 40, 50, 60]), min_bkg=1)
>>> r["model"]["auc"], r["proxies"]["girth"]["auc"], r["proxies"]["girth"]["direction"]
(1.0, 0.0, 'lower')
>>> r["proxies"]["girth"]["auc_best"], r["spearman_score_mj"], r["not_beaten"]
(1.0, 1.0, ['girth'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from adsearch.errors import InputError
from adsearch.jets.substructure import jet_girth
from adsearch.stats import metrics

if TYPE_CHECKING:
    from adsearch.train.data import JetSample

__all__ = [
    "GMM_FEATURES",
    "GMMBaseline",
    "gmm_features",
    "proxy_report",
    "proxy_scores",
]

#: names of the :class:`GMMBaseline` input features, in column order
GMM_FEATURES: tuple[str, ...] = (
    "log_m_heavier",
    "log_m_lighter",
    "tau21_heavier",
    "tau21_lighter",
)
#: masses below this (GeV; one-constituent jets are massless) are raised to it before the log
MIN_MASS = 1.0
#: regulator of tau21 = tau2 / (tau1 + TAU_EPS)
TAU_EPS = 1e-5


def _column(table: Mapping[str, Any], name: str, source: str = "features table") -> np.ndarray:
    """Column ``name`` of ``table`` as float64; a one-line InputError naming ``source`` when
    it is missing, not 1-D or not finite."""
    if name not in table:
        raise InputError(f"{source}: missing column {name!r}")
    a = np.asarray(table[name], dtype=np.float64)
    if a.ndim != 1:
        raise InputError(f"{source}: column {name!r} is not 1-D")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{source}: column {name!r} contains NaN or infinite values")
    return a


def proxy_scores(
    table: Mapping[str, Any], jet_sample: JetSample | None = None
) -> dict[str, np.ndarray]:
    """Per-event proxy scores: jet mass and (with constituents) jet girth.

    Parameters
    ----------
    table : mapping of 1-D columns
        Event features with ``mj1``, ``mj2`` (:data:`adsearch.jets.features.COLUMNS`); one
        row per event.
    jet_sample : :class:`adsearch.train.data.JetSample`, optional
        The same events as one row per jet (``event``, ``slot``, constituents and jet axis),
        e.g. from :func:`adsearch.train.data.load_jets`; without it there is no girth.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``mass`` (mean of the two jet masses), ``mass_j1``, ``mass_j2``; with ``jet_sample``
        also ``girth`` (mean of the two jets' girths, :func:`adsearch.jets.jet_girth`),
        ``girth_j1``, ``girth_j2``. ``j1`` is the pT-leading jet.

    Examples
    --------
    >>> p = proxy_scores({"mj1": np.array([100.0, 30.0]), "mj2": np.array([50.0, 10.0])})
    >>> p["mass"].tolist(), sorted(p)
    ([75.0, 20.0], ['mass', 'mass_j1', 'mass_j2'])
    """
    m1, m2 = _column(table, "mj1"), _column(table, "mj2")
    if m1.shape != m2.shape:
        raise InputError("features table: mj1 and mj2 differ in length")
    out = {"mass": 0.5 * (m1 + m2), "mass_j1": m1, "mass_j2": m2}
    if jet_sample is None:
        return out

    n = m1.size
    event = np.asarray(jet_sample.event, dtype=np.int64)
    slot = np.asarray(jet_sample.slot, dtype=np.int64)
    if event.size != 2 * n or (event.size and (event.max() >= n or event.min() < 0)):
        raise InputError(
            f"jet sample: {event.size} jets do not make the two jets of the table's {n} events"
        )
    g = jet_girth(jet_sample.constituents, jet_sample.pt, jet_sample.eta, jet_sample.phi)
    per = np.full((n, 2), np.nan)
    per[event, slot] = g
    if np.isnan(per).any():
        raise InputError("jet sample: some events lack their leading or subleading jet")
    out.update(girth=per.mean(axis=1), girth_j1=per[:, 0], girth_j2=per[:, 1])
    return out


def gmm_features(table: Mapping[str, Any]) -> np.ndarray:
    """``[n_events, 4]`` array of :data:`GMM_FEATURES` from ``mj1, mj2, tau1j*, tau2j*``.

    The jets are ordered by mass (heavier first); ``tau21 = tau2 / (tau1 + 1e-5)`` and masses
    below 1 GeV are set to 1 GeV before the log.

    >>> t = {"mj1": np.array([50.0]), "mj2": np.array([400.0]), "tau1j1": np.array([0.4]),
    ...      "tau2j1": np.array([0.2]), "tau1j2": np.array([0.5]), "tau2j2": np.array([0.1])}
    >>> gmm_features(t).round(3).tolist()
    [[5.991, 3.912, 0.2, 0.5]]
    """
    m = np.stack([_column(table, "mj1"), _column(table, "mj2")], axis=1)
    t1 = np.stack([_column(table, "tau1j1"), _column(table, "tau1j2")], axis=1)
    t2 = np.stack([_column(table, "tau2j1"), _column(table, "tau2j2")], axis=1)
    tau21 = t2 / (t1 + TAU_EPS)
    heavy = np.argmax(m, axis=1)  # 0 when j1 is heavier (or equal)
    rows = np.arange(m.shape[0])
    light = 1 - heavy
    logm = np.log(np.maximum(m, MIN_MASS))
    return np.stack(
        [logm[rows, heavy], logm[rows, light], tau21[rows, heavy], tau21[rows, light]], axis=1
    )


class _GMMParameters(NamedTuple):
    """The fitted state of a :class:`GMMBaseline` (standardisation and mixture)."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


@dataclass
class GMMBaseline:
    """Gaussian-mixture density baseline on the four standard dijet features.

    ``fit`` standardises :func:`gmm_features` (mean/std of the fitted events) and fits a
    scikit-learn ``GaussianMixture`` (full covariances, k-means initialisation seeded by
    ``seed``); ``score`` is ``-log density`` of the standardised features (larger = more
    anomalous; the constant Jacobian of the standardisation is left out). Scoring uses the
    stored parameters only, so a baseline restored with :meth:`from_dict` scores identically
    without scikit-learn.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = rng.lognormal(4.0, 0.3, (500, 2))
    >>> t = {"mj1": m[:, 0], "mj2": m[:, 1], "tau1j1": rng.uniform(0.2, 1, 500),
    ...      "tau2j1": rng.uniform(0, 0.2, 500), "tau1j2": rng.uniform(0.2, 1, 500),
    ...      "tau2j2": rng.uniform(0, 0.2, 500)}
    >>> gmm = GMMBaseline(n_components=2, seed=1).fit(t)
    >>> s = gmm.score(t)
    >>> s.shape, bool(np.all(GMMBaseline.from_dict(gmm.to_dict()).score(t) == s))
    ((500,), True)
    """

    n_components: int = 8
    seed: int = 0
    max_iter: int = 200
    mean: np.ndarray | None = field(default=None, repr=False)
    std: np.ndarray | None = field(default=None, repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)
    means: np.ndarray | None = field(default=None, repr=False)
    covariances: np.ndarray | None = field(default=None, repr=False)
    n_fit: int = 0

    @property
    def fitted(self) -> bool:
        """True once :meth:`fit` or :meth:`from_dict` has set the mixture's parameters."""
        return self.weights is not None

    def _parameters(self) -> _GMMParameters:
        """The fitted parameters, or InputError when the baseline is not fitted."""
        mean, std, weights, means, cov = (
            self.mean, self.std, self.weights, self.means, self.covariances
        )  # fmt: skip
        if mean is None or std is None or weights is None or means is None or cov is None:
            raise InputError("GMM baseline: not fitted")
        return _GMMParameters(mean, std, weights, means, cov)

    def fit(self, table: Mapping[str, Any], mask: np.ndarray | None = None) -> GMMBaseline:
        """Fit on the events of ``table`` selected by the boolean ``mask`` (all if None)."""
        from sklearn.mixture import GaussianMixture

        x = gmm_features(table)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (x.shape[0],):
                raise InputError(f"mask: shape {mask.shape}, expected ({x.shape[0]},)")
            x = x[mask]
        if x.shape[0] < max(2 * self.n_components, 10):
            k = self.n_components
            raise InputError(f"GMM baseline: {x.shape[0]} events are too few for {k} components")
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        gm = GaussianMixture(
            n_components=self.n_components,
            covariance_type="full",
            random_state=self.seed,
            max_iter=self.max_iter,
        )
        from threadpoolctl import threadpool_limits

        # EM on a few thousand 4-d points: BLAS threads only add overhead (10x on a busy
        # 2-core machine)
        with threadpool_limits(1):
            gm.fit((x - self.mean) / self.std)
        self.weights = np.asarray(gm.weights_, dtype=np.float64)
        self.means = np.asarray(gm.means_, dtype=np.float64)
        self.covariances = np.asarray(gm.covariances_, dtype=np.float64)
        self.n_fit = int(x.shape[0])
        return self

    def log_density(self, table: Mapping[str, Any]) -> np.ndarray:
        """Log density of the standardised features of every event of ``table``."""
        p = self._parameters()
        from scipy.linalg import solve_triangular
        from scipy.special import logsumexp

        z = (gmm_features(table) - p.mean) / p.std
        d = z.shape[1]
        per = np.empty((z.shape[0], p.weights.size))
        for k in range(p.weights.size):  # a loop over the few components, not the events
            chol = np.linalg.cholesky(p.covariances[k])
            sol = solve_triangular(chol, (z - p.means[k]).T, lower=True)
            half_logdet = np.log(np.diag(chol)).sum()
            per[:, k] = -0.5 * (d * np.log(2 * np.pi) + (sol * sol).sum(axis=0)) - half_logdet
        return logsumexp(per + np.log(p.weights), axis=1)

    def score(self, table: Mapping[str, Any]) -> np.ndarray:
        """Anomaly score ``-log density`` of every event (larger = more anomalous)."""
        return -self.log_density(table)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (lists of floats)."""
        p = self._parameters()
        return {
            "features": list(GMM_FEATURES),
            "n_components": self.n_components,
            "seed": self.seed,
            "max_iter": self.max_iter,
            "n_fit": self.n_fit,
            "mean": p.mean.tolist(),
            "std": p.std.tolist(),
            "weights": p.weights.tolist(),
            "means": p.means.tolist(),
            "covariances": p.covariances.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GMMBaseline:
        """Inverse of :meth:`to_dict`."""
        if list(d.get("features", GMM_FEATURES)) != list(GMM_FEATURES):
            raise InputError(f"GMM baseline: features {d.get('features')} != {GMM_FEATURES}")
        try:
            return cls(
                n_components=int(d["n_components"]),
                seed=int(d["seed"]),
                max_iter=int(d.get("max_iter", 200)),
                n_fit=int(d.get("n_fit", 0)),
                mean=np.asarray(d["mean"], dtype=np.float64),
                std=np.asarray(d["std"], dtype=np.float64),
                weights=np.asarray(d["weights"], dtype=np.float64),
                means=np.asarray(d["means"], dtype=np.float64),
                covariances=np.asarray(d["covariances"], dtype=np.float64),
            )
        except KeyError as e:
            raise InputError(f"GMM baseline: missing key {e.args[0]!r}") from None


def _row(y: np.ndarray, s: np.ndarray, bkg_mj: np.ndarray, min_bkg: int) -> dict[str, Any]:
    best = metrics.max_sic(y, s, min_bkg)
    return {
        "auc": metrics.roc_auc(y, s),
        "max_sic": best.sic,
        "eps_s_at_max_sic": best.eps_s,
        "spearman_mj": metrics.spearman(s[~y], bkg_mj),
    }


def proxy_report(
    labels: np.ndarray,
    model_score: np.ndarray,
    proxies: Mapping[str, np.ndarray],
    mj: np.ndarray,
    min_bkg: int = 20,
) -> dict[str, Any]:
    """AUC, max SIC and mass correlation of a model's score and of proxy scores.

    Parameters
    ----------
    labels : 0/1 truth per event (1 = signal).
    model_score : the model's event score (larger = more anomalous).
    proxies : ``{name: per-event score}``, e.g. :func:`proxy_scores` ``mass``/``girth`` and
        :meth:`GMMBaseline.score`.
    mj : a jet mass per event (e.g. the heavier jet's) for the rank correlations.
    min_bkg : cuts keeping fewer background events do not count for the max SIC.

    Returns
    -------
    dict
        ``model``: ``auc``, ``max_sic``, ``eps_s_at_max_sic``, ``spearman_mj``;
        ``proxies``: per name the same plus ``direction`` (``"higher"`` when larger values
        are more signal-like, i.e. AUC >= 0.5, else ``"lower"``) and ``auc_best =
        max(auc, 1 - auc)``; the proxy's max SIC is for cuts in its ``direction``;
        ``spearman_score_mj``: the model's Spearman correlation with ``mj``;
        ``not_beaten``: the proxies whose AUC in their better direction is at least the
        model's (a score that does not beat them has learned no more than they hold).
        Every ``spearman`` is over the background events only (the signal's own mass peak
        would add a correlation of its own).
    """
    y = np.asarray(labels)
    if y.dtype != bool:
        if not np.all((y == 0) | (y == 1)):
            raise InputError("labels: must be 0 (background) or 1 (signal)")
        y = y == 1
    mjb = np.asarray(mj, dtype=np.float64)
    if mjb.shape != y.shape:
        raise InputError(f"mj: shape {mjb.shape}, labels {y.shape}")
    mjb = mjb[~y]

    def arr(name: str, a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        if a.shape != y.shape:
            raise InputError(f"{name}: shape {a.shape}, labels {y.shape}")
        return a

    model = _row(y, arr("model_score", model_score), mjb, min_bkg)
    rows: dict[str, Any] = {}
    for name, raw in proxies.items():
        p = arr(name, raw)
        auc = metrics.roc_auc(y, p)
        lower = auc < 0.5
        r = _row(y, -p if lower else p, mjb, min_bkg)
        rows[name] = {
            "auc": auc,
            "auc_best": max(auc, 1.0 - auc),
            "direction": "lower" if lower else "higher",
            "max_sic": r["max_sic"],
            "eps_s_at_max_sic": r["eps_s_at_max_sic"],
            "spearman_mj": metrics.spearman(p[~y], mjb),
        }
    return {
        "model": model,
        "proxies": rows,
        "spearman_score_mj": model["spearman_mj"],
        "not_beaten": [k for k, r in rows.items() if r["auc_best"] >= model["auc"]],
        "min_background_events": min_bkg,
        "n_signal": int(y.sum()),
        "n_background": int((~y).sum()),
    }
