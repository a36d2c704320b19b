"""The background of a spectrum: pick the model of a :class:`~adsearch.stats.fit.FitConfig`
(``method``: function, swift, gp, control or auto; ``npar`` or its selection) and fit it, or
refit many toys the way the data were fitted.

The models live in their own modules — the dijet function in :mod:`adsearch.stats.fit`,
SWiFt in :mod:`~adsearch.stats.swift`, the Gaussian process in :mod:`~adsearch.stats.gp`, the
control-ratio background in :mod:`~adsearch.stats.control`, the spurious-signal gate in
:mod:`~adsearch.stats.spurious` — and this module only dispatches to them (so that they can
build on :mod:`adsearch.stats.fit` without an import circle).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy import stats

from adsearch.errors import FitError
from adsearch.stats.binning import Histogram
from adsearch.stats.control import control_usable, fit_control, refit_control
from adsearch.stats.fit import (
    _FAMILIES,
    FitConfig,
    FitResult,
    _refit_function,
    fit_background,
)
from adsearch.stats.gp import fit_gp, refit_gp
from adsearch.stats.spurious import choose_npar
from adsearch.stats.swift import fit_swift, refit_swift

__all__ = ["fit_spectrum", "refit_batch"]


def fit_spectrum(
    hist: Histogram, config: FitConfig | None = None, template: Histogram | None = None
) -> FitResult:
    """Fit ``hist`` with the background model of ``config`` (``method``), choosing ``npar``.

    With ``config.npar`` ``None`` the number of parameters is chosen by ``config.selection``:

    - ``"spurious"`` (default): the spurious-signal gate of
      :func:`adsearch.stats.spurious.choose_npar` on ``template`` (a background template, e.g.
      the control selection from :func:`adsearch.stats.spurious.control_template`; without
      one, the 4-parameter function fitted to ``hist`` itself, so 3 or 4 parameters);
    - ``"wilks"``/``"ftest"``: starting from the smallest number of parameters, one is added
      while the improvement is significant (``Δ(-2 ln L)`` vs χ² with 1 dof, or an F-test) at
      level ``config.alpha``.

    ``result.selection`` lists every fit tried. ``method="swift"``/``"gp"`` then build the
    sliding-window (:func:`adsearch.stats.swift.fit_swift`) or Gaussian-process
    (:func:`adsearch.stats.gp.fit_gp`) background on top (the GP's mean is the chosen function).
    ``method="control"`` is the failing events × transfer factor
    (:func:`adsearch.stats.control.fit_control`; ``template`` must be a control template);
    ``"auto"`` is ``control`` when ``template`` carries a large enough control selection
    (:func:`adsearch.stats.control.control_usable`), else ``function``.
    ``result.method`` is the model used.

    Examples
    --------
    >>> import numpy as np
    >>> from adsearch.stats.binning import log_bins
    >>> from adsearch.stats.fit import BinnedModel
    >>> m = BinnedModel(log_bins(2500.0, 6000.0, 0.05), "dijet", 3)
    >>> n = np.random.default_rng(0).poisson(m.expected(m.theta_from_params([3e3, 10.0, -5.0])))
    >>> fit_spectrum(Histogram(m.edges, n), FitConfig(selection="wilks")).npar
    3
    """
    cfg = config or FitConfig()
    if cfg.method == "auto":
        use = template is not None and control_usable(hist, template, cfg)
        cfg = dataclasses.replace(cfg, method="control" if use else "function")
    if cfg.method == "swift":
        return fit_swift(hist, cfg, template=template)
    if cfg.method == "control":
        return fit_control(hist, cfg, template)
    best = _fit_function(hist, cfg, template)
    if cfg.method == "gp":
        return fit_gp(hist, cfg, mean=best)
    return best


def _fit_function(hist: Histogram, cfg: FitConfig, template: Histogram | None) -> FitResult:
    if cfg.npar is not None:
        return fit_background(hist, cfg)
    if cfg.selection == "spurious":
        return choose_npar(hist, cfg, template)
    lo, hi, _ = _FAMILIES[cfg.family]
    best = fit_background(hist, cfg, npar=lo)
    table: list[dict[str, Any]] = [
        {"npar": lo, "deviance": best.deviance, "ndf": best.ndf, "p_value": None}
    ]
    for k in range(lo + 1, hi + 1):
        try:
            nxt = fit_background(hist, cfg, npar=k)
        except FitError as e:
            table.append({"npar": k, "error": str(e)})
            break
        d = max(best.deviance - nxt.deviance, 0.0)
        if cfg.selection == "wilks":
            p = float(stats.chi2.sf(d, 1))
        else:
            p = float(stats.f.sf(d / (nxt.deviance / max(nxt.ndf, 1)), 1, max(nxt.ndf, 1)))
        table.append({"npar": k, "deviance": nxt.deviance, "ndf": nxt.ndf, "p_value": p})
        if p >= cfg.alpha:
            break
        best = nxt
    best.selection = table
    return best


def refit_batch(
    fit: FitResult, counts: np.ndarray, max_iter: int = 40
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit many toy spectra at once with the model (method, blinding) of ``fit``.

    Parameters
    ----------
    fit : FitResult
        Nominal fit; its ``theta`` is the starting point. For ``fit.method`` ``"swift"`` and
        ``"gp"`` every toy is refitted the same way as the data (every window; the mean
        function, then the GP posterior mean with the data's hyperparameters).
    counts : numpy.ndarray
        Toy counts, shape ``(T, nbins)``.

    Returns
    -------
    theta : (T, npar) array
        Parameters of the (global) function per toy.
    expected : (T, nbins) array
        Refitted background per toy.
    converged : (T,) bool array
    """
    if fit.method == "swift":
        return refit_swift(fit, counts, max_iter=max_iter)
    if fit.method == "gp":
        return refit_gp(fit, counts, max_iter=max_iter)
    if fit.method == "control":  # the data's failing counts held fixed
        return refit_control(fit, counts)
    return _refit_function(fit, counts, max_iter)
