"""Null check: is the BumpHunter global p-value uniform on background-only pseudo-data?

A search is trustworthy only if, without signal, it reports ``p < α`` in a fraction ``α`` of
experiments. :func:`null_check` draws seeded background-only pseudo-datasets from a given
background shape — the fitted model itself, and an independent shape such as the control
selection (:func:`adsearch.stats.spurious.control_template`) — runs each through the same
fit (:func:`adsearch.stats.spectrum.fit_spectrum`) and BumpHunter with refitted toys
(:func:`adsearch.stats.bumphunter.bumphunt`) as the search, and summarises the global
p-values: the false-discovery rate ``P(p < α)`` with its binomial error and the KS p-value
of uniformity. Toys drawn from the fitted model test the toy machinery; toys drawn from a
shape the fit function was not fitted to test the background model (Choudalakis,
BumpHunter, arXiv:1101.0390, Sec. 2: the global p-value is calibrated only if the toys
follow the background hypothesis).

For the KS test the rank-based p-value ``k / n`` of BumpHunter (``k`` toys at least as
extreme of ``n``) is randomised within its step, ``(k + U) / (n + 1)``, which is exactly
uniform under the null; the false-discovery rate uses the reported ``k / n``.

Examples
--------
>>> import numpy as np
>>> from adsearch.stats.binning import log_bins
>>> from adsearch.stats.bumphunter import BumpHunterConfig
>>> from adsearch.stats.fit import BinnedModel, FitConfig
>>> m = BinnedModel(log_bins(2800.0, 6000.0, 0.05), "dijet", 3)
>>> nu = m.expected(m.theta_from_params([2e3, 10.0, -5.0]))
>>> r = null_pvalues(nu, m.edges, FitConfig(npar=3), BumpHunterConfig(n_toys=100),
...                  NullCheckConfig(n_pseudo=20, seed=1))
>>> r.n_pseudo, 0.0 <= r.fdr <= 1.0, r.p_values.size
(20, True, 20)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from adsearch.errors import ConfigError, FitError, InputError

__all__ = ["NullCheckConfig", "NullCheckResult", "null_check", "null_pvalues"]


@dataclass
class NullCheckConfig:
    """Options of the null check.

    Attributes
    ----------
    n_pseudo : int
        Background-only pseudo-datasets per source.
    n_toys : int
        BumpHunter refit toys per pseudo-dataset (global p resolution ``1 / n_toys``).
    alpha : float
        Level of the false-discovery rate ``P(global p < alpha)``.
    seed : int
        Seed of the pseudo-datasets (pseudo-dataset ``i`` uses BumpHunter seed ``seed + i``).
    """

    n_pseudo: int = 200
    n_toys: int = 200
    alpha: float = 0.05
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for bad values."""
        if self.n_pseudo < 2:
            raise ConfigError("null_check.n_pseudo: must be >= 2")
        if self.n_toys < 20:
            raise ConfigError("null_check.n_toys: must be >= 20")
        if not 0 < self.alpha < 1:
            raise ConfigError("null_check.alpha: must be in (0, 1)")

    def __post_init__(self) -> None:
        self.validate()


@dataclass
class NullCheckResult:
    """Global p-values of background-only pseudo-datasets and their summary."""

    source: str
    n_pseudo: int
    n_failed: int
    alpha: float
    fdr: float
    fdr_error: float
    ks_p: float
    p_values: np.ndarray
    p_uniform: np.ndarray
    npar: list[int] = field(default_factory=list)

    def to_dict(self, with_pvalues: bool = True) -> dict[str, Any]:
        """JSON-ready dict."""
        d: dict[str, Any] = {
            "source": self.source,
            "n_pseudo": self.n_pseudo,
            "n_failed": self.n_failed,
            "alpha": self.alpha,
            "fdr": self.fdr,
            "fdr_error": self.fdr_error,
            "ks_p": self.ks_p,
        }
        if self.npar:
            d["npar_counts"] = {str(k): self.npar.count(k) for k in sorted(set(self.npar))}
        if with_pvalues:
            d["p_values"] = self.p_values.tolist()
        return d


def summarise(
    source: str, k: np.ndarray, n: np.ndarray, alpha: float, rng: np.random.Generator
) -> NullCheckResult:
    """FDR and KS uniformity from per-pseudo-dataset ``k`` (toys with ``t >= t_obs``) of ``n``."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    if k.size == 0:
        raise FitError(f"null check ({source}): every pseudo-dataset failed")
    p = k / n
    pu = (k + rng.random(k.size)) / (n + 1.0)
    fdr = float(np.mean(p < alpha))
    return NullCheckResult(
        source=source,
        n_pseudo=int(k.size),
        n_failed=0,
        alpha=alpha,
        fdr=fdr,
        fdr_error=float(np.sqrt(max(fdr * (1 - fdr), 1.0 / k.size) / k.size)),
        ks_p=float(stats.kstest(pu, "uniform").pvalue),
        p_values=p,
        p_uniform=pu,
    )


def null_pvalues(
    shape: np.ndarray,
    edges: np.ndarray,
    fit_config: Any,
    bh_config: Any,
    config: NullCheckConfig | None = None,
    template: Any = None,
    source: str = "shape",
    analyse: Any = None,
) -> NullCheckResult:
    """Global p-values of Poisson pseudo-datasets drawn from ``shape`` (expected counts).

    Parameters
    ----------
    shape : (nbins,) array
        Expected background counts per bin (the pseudo-data mean).
    edges : (nbins + 1,) array
    fit_config : FitConfig
        The search's fit configuration (method, selection, blinding).
    bh_config : BumpHunterConfig
        The search's BumpHunter configuration; ``n_toys`` and ``seed`` are replaced.
    config : NullCheckConfig
    template : Histogram, optional
        Spurious-signal template passed to every fit. A control template
        (:func:`adsearch.stats.spurious.control_template`, which keeps the failing events) is
        rebuilt for every pseudo-dataset from a Poisson draw of the failing events.
    analyse : callable, optional
        ``analyse(hist, seed) -> BumpHuntResult`` replacing fit + BumpHunter (benchmarks).
    """
    from adsearch.stats.binning import Histogram
    from adsearch.stats.bumphunter import bumphunt
    from adsearch.stats.spectrum import fit_spectrum
    from adsearch.stats.spurious import control_template

    cfg = config or NullCheckConfig()
    mu = np.asarray(shape, float)
    if mu.shape != (np.size(edges) - 1,) or np.any(mu < 0) or not mu.sum() > 0:
        raise InputError("null check: the shape needs non-negative counts, one per bin")
    if hasattr(bh_config, "bin_scale"):  # a known bias BumpHunter corrects is in the null too
        mu = mu * bh_config.bin_scale(edges)
    rng = np.random.default_rng(cfg.seed)
    ks, ns, npars = [], [], []
    failed = 0
    failing = None if template is None else template.meta.get("failing")
    for i in range(cfg.n_pseudo):
        h = Histogram(edges, rng.poisson(mu).astype(float))
        tmpl = template
        if failing is not None and analyse is None:
            # the control selection is data too: every pseudo-dataset gets its own Poisson
            # draw of the failing events (held fixed, the passing pseudo-data would follow
            # the observed failing counts' fluctuations and the control-ratio background
            # would look too good: conservative, non-uniform p-values)
            fail = Histogram(edges, rng.poisson(np.asarray(failing, float)).astype(float))
            try:
                tmpl = control_template(fail, h, getattr(fit_config, "blind", None))
            except InputError:
                failed += 1
                continue
        try:
            if analyse is not None:
                bh, npar = analyse(h, cfg.seed + i)
            else:
                fit = fit_spectrum(h, fit_config, template=tmpl)
                bcfg = dataclasses.replace(bh_config, n_toys=cfg.n_toys, seed=cfg.seed + i)
                bh, npar = bumphunt(fit, bcfg), fit.npar
        except FitError:
            failed += 1
            continue
        ks.append(int(np.sum(bh.t_toys >= bh.t_obs)))
        ns.append(int(bh.t_toys.size))
        npars.append(int(npar))
    res = summarise(source, np.array(ks), np.array(ns), cfg.alpha, rng)
    res.n_failed, res.npar = failed, npars
    return res


def null_check(
    fit: Any,
    fit_config: Any,
    bh_config: Any,
    config: NullCheckConfig | None = None,
    control: Any = None,
    template: Any = None,
) -> dict[str, NullCheckResult]:
    """Null check of a search result: pseudo-data from the fitted model and the control shape.

    Parameters
    ----------
    fit : FitResult
        The search's background fit; source ``"fit"`` draws from ``fit.expected``.
    fit_config, bh_config : FitConfig, BumpHunterConfig
        The search's configurations.
    config : NullCheckConfig
    control : Histogram, optional
        Control-selection shape (e.g. :func:`adsearch.stats.spurious.control_template`),
        scaled to the data's number of events: source ``"control"``.
    template : Histogram, optional
        Spurious-signal template used by the search's fits.

    Returns
    -------
    dict
        ``{"fit": NullCheckResult, "control": NullCheckResult}`` (``control`` when given).
    """
    out = {
        "fit": null_pvalues(fit.expected, fit.edges, fit_config, bh_config, config, template, "fit")
    }
    if control is not None:
        c = np.asarray(getattr(control, "counts", control), float)
        if c.shape != fit.expected.shape or not c.sum() > 0:
            raise InputError("null check: the control shape needs the fit's binning")
        shape = c * (fit.counts.sum() / c.sum())
        out["control"] = null_pvalues(
            shape, fit.edges, fit_config, bh_config, config, template, "control"
        )
    return out
