"""Control-ratio background: the events failing the score cut times a smooth transfer factor.

After a cut on an anomaly score, the events that *fail* the cut (the control selection) have
the same mjj spectrum as the passing background up to the cut's efficiency ``ε(mjj)``, which a
score cut changes only smoothly. The background of the passing selection is then

.. math::

    b_i = f_i \\, \\frac{ε(x_i)}{1 - ε(x_i)}, \\qquad
    \\operatorname{logit} ε(x) = c_0 + c_1 x + … + c_d x^d, \\qquad
    x = \\frac{\\ln m_i - \\bar u}{Δu}

with ``f_i`` the failing events in bin ``i`` and ``x`` the bin's ``ln mjj`` scaled to
``[-1, 1]`` over the range. The coefficients are fitted to the pass/fail counts outside the
blinded window with the binomial likelihood (conditional on the bin totals ``t_i = n_i + f_i``,
the passing counts are binomial), so the background needs no function of the spectrum's
*shape* at all: any structure the background has — a trigger turn-on, a detector effect, a
shape no 3–5 parameter dijet function follows — is in the control selection too. This is the
pass–fail transfer-factor method of the CMS searches for boosted dijet resonances (e.g. CMS,
"Search for low mass vector resonances decaying to quark-antiquark pairs in proton-proton
collisions at √s = 13 TeV", Phys. Rev. Lett. 119 (2017) 111802), with the transfer factor a
polynomial in ``ln mjj`` only.

The price is signal contamination: a resonance also puts ``(1 - ε_S) S`` events into the
control selection, and the background prediction follows them. The excess that remains is
``(ε_S - ε_B) S`` instead of ``ε_S S``, so the method is far less sensitive after a loose cut
(ε_B = 10 %) and close to the function fit after a tight one.

Global p-values: BumpHunter toys are drawn conditionally on the observed bin totals, passing
counts binomial with the fitted ``ε`` (:func:`control_toys`), and every toy's efficiency is
refitted; the statistical noise of the control selection is thereby part of the toys.

Examples
--------
>>> import numpy as np
>>> from adsearch.stats.binning import Histogram, log_bins
>>> from adsearch.stats.fit import FitConfig
>>> from adsearch.stats.spectrum import fit_spectrum
>>> from adsearch.stats.spurious import control_template
>>> e = log_bins(2800.0, 6000.0, 0.05)
>>> rng = np.random.default_rng(1)
>>> total = 2e5 * (np.sqrt(e[1:] * e[:-1]) / 2800.0) ** -10
>>> passing = Histogram(e, rng.poisson(0.1 * total).astype(float))
>>> failing = Histogram(e, rng.poisson(0.9 * total).astype(float))
>>> fit = fit_spectrum(passing, FitConfig(method="control"), control_template(failing, passing))
>>> fit.method, fit.npar, bool(0.01 < fit.p_value)
('control', 2, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special, stats

from adsearch.errors import FitError, InputError
from adsearch.stats.binning import Histogram

__all__ = [
    "binomial_deviance",
    "control_toys",
    "control_usable",
    "efficiency_fit",
    "fit_control",
    "refit_control",
    "scaled_log_mass",
    "window_excess",
]


def scaled_log_mass(edges: np.ndarray) -> np.ndarray:
    """Bin centres in ``ln mjj`` (geometric), scaled to ``[-1, 1]`` over the range."""
    e = np.asarray(edges, float)
    u = np.log(np.sqrt(e[1:] * e[:-1]))
    lo, hi = math.log(e[0]), math.log(e[-1])
    return (2.0 * u - lo - hi) / (hi - lo)


def efficiency_fit(
    passing: np.ndarray,
    failing: np.ndarray,
    x: np.ndarray,
    mask: np.ndarray,
    degree: int,
    max_iter: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binomial fit of ``logit ε(x) = Σ_k c_k x^k`` to pass/fail counts, batched over rows.

    Newton–Raphson (IRLS: for the canonical logit link the expected and observed Hessians are
    equal), vectorised over the ``T`` rows so thousands of toys are refitted at once — a few
    lines of linear algebra, where scikit-learn's or statsmodels' GLMs fit one dataset per
    call.

    Parameters
    ----------
    passing, failing : (T, nbins) or (nbins,) arrays
        Counts (non-negative; need not be integers).
    x : (nbins,) array
        Regressor (:func:`scaled_log_mass`).
    mask : (nbins,) bool array
        Bins entering the fit (outside the blinded window).
    degree : int
        Polynomial degree (0: a flat efficiency).

    Returns
    -------
    coef : (T, degree + 1) array
    cov : (T, degree + 1, degree + 1) array
        Inverse Fisher information.
    converged : (T,) bool array

    Examples
    --------
    >>> x = np.linspace(-1.0, 1.0, 5)
    >>> eps = special.expit(-2.0 + 0.5 * x)
    >>> c, cov, ok = efficiency_fit(1e4 * eps, 1e4 * (1 - eps), x, np.ones(5, bool), 1)
    >>> np.round(c[0], 6).tolist(), bool(ok[0])
    ([-2.0, 0.5], True)
    """
    p = np.atleast_2d(np.asarray(passing, float))
    f = np.atleast_2d(np.asarray(failing, float))
    m = np.asarray(mask, bool)
    X = np.vander(np.asarray(x, float)[m], degree + 1, increasing=True)  # (B, K)
    pm, tm = p[:, m], p[:, m] + f[:, m]
    T, K = pm.shape[0], degree + 1
    if np.any(pm.sum(1) <= 0) or np.any((tm - pm).sum(1) <= 0):
        raise FitError("control fit: need passing and failing events outside the blinded window")
    coef = np.zeros((T, K))
    eps0 = pm.sum(1) / tm.sum(1)
    coef[:, 0] = np.log(eps0 / (1.0 - eps0))
    ok = np.zeros(T, bool)
    info = np.empty((T, K, K))
    for _ in range(max_iter):
        eps = special.expit(coef @ X.T)  # (T, B)
        grad = (pm - tm * eps) @ X  # (T, K)
        w = tm * eps * (1.0 - eps)
        info = np.einsum("tb,bk,bl->tkl", w, X, X) + 1e-12 * np.eye(K)
        step = np.linalg.solve(info, grad[..., None])[..., 0]
        step = np.clip(step, -5.0, 5.0)  # a bin with 0 passing events must not blow up c
        coef = coef + np.where(ok[:, None], 0.0, step)
        ok |= np.max(np.abs(step), axis=1) < 1e-9
        if ok.all():
            break
    cov = np.linalg.inv(info)
    return coef, cov, ok & np.all(np.isfinite(coef), axis=1)


def _ratio(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``ε / (1 - ε) = exp(Σ c_k x^k)`` per row and bin."""
    X = np.vander(np.asarray(x, float), coef.shape[-1], increasing=True)
    return np.exp(np.clip(coef @ X.T, -700.0, 700.0))


def _failing_of(template: Histogram | None, hist: Histogram) -> np.ndarray:
    f = None if template is None else template.meta.get("failing")
    if f is None:
        raise InputError(
            "fit.method control needs the control selection (the events failing the cut): "
            "pass the template of adsearch.stats.spurious.control_template"
        )
    f = np.asarray(f, float)
    if f.shape != hist.counts.shape or not np.allclose(template.edges, hist.edges):  # type: ignore[union-attr]
        raise InputError("the control selection must have the data's binning")
    return f


def _empty_control_bins(n: np.ndarray, f: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fitted bins with passing events but no failing ones (a background of exactly 0)."""
    return np.flatnonzero(mask & (f <= 0) & (n > 0))


def control_usable(hist: Histogram, template: Histogram, config: Any) -> bool:
    """Whether ``method: auto`` takes the control-ratio background for ``hist``.

    The template must carry the failing events; in the fitted bins they must number at least
    ``config.control.min_ratio`` times the passing ones, and every bin with passing events
    must have failing ones (else that bin's background would be 0).
    """
    from adsearch.stats.fit import _fit_mask

    f = template.meta.get("failing")
    if f is None:
        return False
    f = np.asarray(f, float)
    n = np.asarray(hist.counts, float)
    if f.shape != n.shape:
        return False
    mask = _fit_mask(hist.edges, config.blind)
    if f[mask].sum() < config.control.min_ratio * n[mask].sum():
        return False
    return _empty_control_bins(n, f, mask).size == 0


def binomial_deviance(
    passing: np.ndarray, failing: np.ndarray, eps: np.ndarray, mask: np.ndarray
) -> float:
    """Deviance ``2 Σ [n ln(n / t ε) + f ln(f / t (1 - ε))]`` of pass/fail counts over the
    ``mask``ed bins (``t = n + f``; empty terms are 0).

    >>> n, f = np.array([10.0, 20.0]), np.array([90.0, 80.0])
    >>> binomial_deviance(n, f, n / (n + f), np.ones(2, bool))
    0.0
    """
    t = passing + failing
    with np.errstate(divide="ignore", invalid="ignore"):
        d = special.xlogy(passing, passing / (t * eps)) + special.xlogy(
            failing, failing / (t * (1.0 - eps))
        )
    return float(2.0 * np.sum(d[mask & (t > 0)]))


def window_excess(
    passing: np.ndarray,
    failing: np.ndarray,
    edges: np.ndarray,
    window: tuple[float, float],
    degree: int = 2,
) -> tuple[float, float]:
    """Passing events in ``window`` over their prediction from the efficiency interpolated
    from outside it, ``(ratio, error)``.

    ``logit ε`` (degree ``degree`` in ln mjj, :func:`efficiency_fit`) is fitted to the
    pass/fail counts of the bins that do not overlap ``window`` and predicts the passing
    events of the bins that do: a ratio above 1 is a *local* excess of the cut in the window
    (a score that learned the window's mjj), not its smooth trend. The error combines the
    Poisson error of the passing count with the interpolation's.

    >>> e = np.linspace(3000.0, 5000.0, 11)
    >>> total = np.full(10, 1e5)
    >>> window_excess(0.1 * total, 0.9 * total, e, (3800.0, 4200.0))[0]
    1.0
    """
    n, f = np.asarray(passing, float), np.asarray(failing, float)
    e = np.asarray(edges, float)
    inside = (e[1:] > window[0]) & (e[:-1] < window[1])
    x = scaled_log_mass(e)
    coef, cov, ok = efficiency_fit(n, f, x, ~inside, degree)
    if not ok[0]:
        raise FitError("window_excess: the efficiency fit did not converge")
    b = f * _ratio(coef[0], x)
    pred = float(b[inside].sum())
    J = (b[:, None] * np.vander(x, degree + 1, increasing=True))[inside].sum(0)
    obs = float(n[inside].sum())
    err = math.sqrt(obs + float(J @ cov[0] @ J)) / pred
    return round(obs / pred, 12), err


def _choose_degree(
    n: np.ndarray, f: np.ndarray, x: np.ndarray, sel: np.ndarray, config: Any
) -> tuple[int, list[dict[str, Any]]]:
    """The efficiency's degree: ``config.control.degree``, or the lowest degree from
    ``min_degree`` whose next one does not improve the binomial deviance over the bins
    ``sel`` significantly (likelihood ratio vs χ² with 1 dof at ``config.alpha``). Returns
    the degree and the table of fits tried."""
    cc = config.control
    if cc.degree is not None:
        return int(cc.degree), []
    table: list[dict[str, Any]] = []
    prev = None
    chosen = cc.min_degree
    for d in range(cc.min_degree, cc.max_degree + 1):
        if int(sel.sum()) <= d + 1:
            break
        coef, _, ok = efficiency_fit(n, f, x, sel, d)
        if not ok[0]:
            break
        r = _ratio(coef[0], x)
        dev = binomial_deviance(n, f, r / (1.0 + r), sel)
        p = None if prev is None else float(stats.chi2.sf(max(prev - dev, 0.0), 1))
        table.append({"degree": d, "deviance": dev, "ndf": int(sel.sum()) - d - 1, "p_value": p})
        if p is not None and p >= config.alpha:
            break
        chosen, prev = d, dev
    return chosen, table


def fit_control(hist: Histogram, config: Any, template: Histogram | None) -> Any:
    """The control-ratio background of ``hist`` (a :class:`~adsearch.stats.fit.FitResult`).

    Parameters
    ----------
    hist : Histogram
        The passing selection.
    config : FitConfig
        ``config.control`` the polynomial degree of ``logit ε`` (or how it is chosen:
        :class:`~adsearch.stats.fit.ControlConfig`); ``config.blind`` the window left out of
        the efficiency fit.
    template : Histogram
        :func:`adsearch.stats.spurious.control_template` of the failing events (its
        ``meta["failing"]`` holds their counts).

    Returns
    -------
    FitResult
        ``method="control"``, ``npar = degree + 1`` (the coefficients ``c0 … cd`` as
        ``theta``/``params``), ``expected = f ε / (1 - ε)``, ``background_cov`` from the
        coefficients' covariance plus the Poisson noise of the failing counts; the deviance
        and p-value are the binomial ones of the fitted bins.
    """
    from adsearch.stats.fit import FitResult, _fit_mask

    f = _failing_of(template, hist)
    n = np.asarray(hist.counts, float)
    mask = _fit_mask(hist.edges, config.blind)
    empty = _empty_control_bins(n, f, mask)
    if empty.size:
        e = hist.edges
        i = int(empty[0])
        raise FitError(
            f"control fit: {e[i]:.0f}-{e[i + 1]:.0f} GeV has passing events but no failing "
            "ones (a background of 0); narrow the mjj range or use fit.method function"
        )
    x = scaled_log_mass(hist.edges)
    # the select_outside window is masked for the choice only, not for the fit
    sel = mask & _fit_mask(hist.edges, config.control.select_outside)
    degree, table = _choose_degree(n, f, x, sel, config)
    if int(mask.sum()) <= degree + 1:
        raise FitError(f"control fit: {int(mask.sum())} fitted bins for {degree + 1} parameters")
    coef, cov, ok = efficiency_fit(n, f, x, mask, degree)
    c, C = coef[0], cov[0]
    r = _ratio(c, x)
    b = f * r
    J = b[:, None] * np.vander(x, degree + 1, increasing=True)
    bcov = J @ C @ J.T + np.diag(r**2 * f)
    t = n + f
    eps = r / (1.0 + r)
    with np.errstate(divide="ignore", invalid="ignore"):
        pear_bins = (n - t * eps) ** 2 / (t * eps * (1.0 - eps))
    use = mask & (t > 0)
    dev = binomial_deviance(n, f, eps, mask)
    ndf = int(use.sum()) - (degree + 1)
    names = tuple(f"c{k}" for k in range(degree + 1))
    res = FitResult(
        family=config.family,
        npar=degree + 1,
        sqrt_s=config.sqrt_s,
        pivot=0.0,
        edges=np.asarray(hist.edges, float).copy(),
        counts=n.copy(),
        fit_mask=mask,
        theta=c,
        cov=C,
        params=c.copy(),
        param_errors=np.sqrt(np.maximum(np.diag(C), 0.0)),
        param_names=names,
        expected=np.maximum(b, 1e-12),
        expected_error=np.sqrt(np.maximum(np.diag(bcov), 0.0)),
        deviance=dev,
        pearson_chi2=float(np.sum(pear_bins[use])),
        ndf=ndf,
        p_value=float(stats.chi2.sf(dev, ndf)) if ndf > 0 else float("nan"),
        converged=bool(ok[0]),
        edm=0.0,
        blind=config.blind,
        method="control",
        details={
            "control": {
                "degree": degree,
                "degree_selection": table,
                "n_failing": float(f.sum()),
                "efficiency_logit": c.tolist(),
                "x": "(2 ln mjj - ln lo - ln hi) / (ln hi - ln lo)",
            }
        },
        background_cov=0.5 * (bcov + bcov.T),
        aux={"failing": f, "x": x},
    )
    if not res.converged:
        raise FitError("control fit: the efficiency fit did not converge")
    return res


def refit_control(
    fit: Any, counts: np.ndarray, failing: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit the efficiency for toy passing ``counts`` (T, nbins) and failing counts
    (default: the data's); returns ``(coef, expected, converged)``."""
    n = np.atleast_2d(np.asarray(counts, float))
    f = np.broadcast_to(fit.aux["failing"] if failing is None else failing, n.shape)
    x = fit.aux["x"]
    try:
        coef, _, ok = efficiency_fit(n, f, x, fit.fit_mask, fit.npar - 1)
    except FitError:
        return (
            np.full((n.shape[0], fit.npar), np.nan),
            np.full(n.shape, np.nan),
            np.zeros(n.shape[0], bool),
        )
    return coef, f * _ratio(coef, x), ok


def control_toys(
    fit: Any, rng: np.random.Generator, n_toys: int, scale: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background-only toys of a control-ratio fit and their refitted backgrounds.

    Conditional on the observed bin totals ``t = n + f``: passing ``~ Binomial(t, ε̂)``, failing
    ``= t - passing``, then the efficiency is refitted per toy. ``scale`` (per bin) multiplies
    the odds ``r̂`` = passing / failing of the toys, as it multiplies the background ``f r̂``
    that BumpHunter scans against (a known local bias of the cut,
    :attr:`adsearch.stats.BumpHunterConfig.shift`). Returns ``(toys, expected, converged)``,
    each with ``n_toys`` rows.
    """
    t = np.rint(fit.counts + fit.aux["failing"]).astype(np.int64)
    r = _ratio(fit.theta, fit.aux["x"])
    if scale is not None:
        r = r * np.asarray(scale, dtype=float)
    eps = r / (1.0 + r)
    toys = rng.binomial(t, eps, size=(n_toys, t.size)).astype(float)
    _, bk, ok = refit_control(fit, toys, failing=t - toys)
    return toys, bk, ok
