"""Spurious-signal gate: a calibrated choice of the background model's flexibility.

The *spurious signal* of a background model at mass ``m`` is the signal yield fitted by
background + Gaussian signal (width ``resolution * m``) to a background-only template. ATLAS
dijet searches (Phys. Rev. D 96, 052004) keep a fit function only if its spurious signal is a
small fraction of the statistical error of the data at every tested mass. Here the template
is fitted *as an Asimov dataset* scaled to the data's number of events: no toys, so the gate
is deterministic, and the ratio ``ŝ / σ_s`` compares the bias of the model directly with the
statistical error of the data.

:func:`choose_npar` picks the smallest number of function parameters that passes; after a
score cut this replaces Wilks' test, which is not calibrated there (with the signal region
blinded it keeps too few parameters and the BumpHunter global p-value is not uniform).

The template should be an independent estimate of the background *shape*:

- :func:`control_template`: the events *failing* the score cut (many more than pass),
  reweighted by the measured cut efficiency ``ε_B(mjj)`` (logistic in ``ln mjj``), which
  carries the cut's smooth sculpting into the template;
- without a template, the data's own 4-parameter fit: the gate then only simplifies to 3
  parameters where that stays within the threshold of the 4-parameter fit (a weaker check;
  the pipeline should pass the control selection).

Examples
--------
>>> import numpy as np
>>> from adsearch.stats.binning import Histogram, log_bins
>>> from adsearch.stats.fit import BinnedModel, FitConfig
>>> m = BinnedModel(log_bins(2800.0, 6000.0, 0.05), "dijet", 3)
>>> nu = m.expected(m.theta_from_params([2e3, 10.0, -5.0]))
>>> data = Histogram(m.edges, np.random.default_rng(1).poisson(nu).astype(float))
>>> choose_npar(data, FitConfig(), template=Histogram(m.edges, 10 * nu)).npar
3
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adsearch.errors import FitError, InputError
from adsearch.stats.binning import Histogram, window_bounds

__all__ = [
    "asimov_spurious",
    "choose_npar",
    "control_template",
    "gate_masses",
    "scan_masses",
]


def scan_masses(
    lo: float, hi: float, resolution: float = 0.05, step: float = 100.0, n_sigma: float = 2.0
) -> list[float]:
    """Test masses every ``step`` GeV whose signal (±``n_sigma`` resolutions) fits in ``[lo, hi]``.

    The default step of 100 GeV is about the dijet mass resolution at 2–3 TeV (5 %), so a
    limit scan at these masses has no jagged interpolation between test points.

    Examples
    --------
    >>> scan_masses(2800.0, 6000.0)[:3], len(scan_masses(2800.0, 6000.0))
    ([3100.0, 3200.0, 3300.0], 24)
    """
    if not 0 < lo < hi:
        raise InputError(f"scan_masses: need 0 < lo < hi, got {lo}, {hi}")
    if not step > 0:
        raise InputError("scan_masses: step must be positive")
    first = math.ceil(lo * (1.0 + n_sigma * resolution) / step - 1e-9) * step
    last = math.floor(hi / (1.0 + n_sigma * resolution) / step + 1e-9) * step
    if last < first:
        raise InputError(f"scan_masses: no test mass fits in {lo:g}-{hi:g} GeV")
    return [float(m) for m in np.arange(first, last + 0.5 * step, step)]


def gate_masses(edges: np.ndarray, margin: int = 2, step: int = 2) -> np.ndarray:
    """Masses tested by the gate: every ``step``-th bin centre, ``margin`` bins from the ends.

    With bins of about one resolution a Gaussian signal spans ~4 bins, so every other bin
    centre tests every window position.
    """
    e = np.asarray(edges, float)
    c = np.sqrt(e[1:] * e[:-1])
    return (c[margin : c.size - margin] if c.size > 2 * margin else c)[::step]


def _signal_fit(
    model: Any, counts: np.ndarray, shape: np.ndarray, mask: np.ndarray
) -> tuple[float, float]:
    """Fit ``model + A * shape`` to (non-integer) ``counts``; return ``(A, σ_A)``."""
    from adsearch.stats.fit import _fisher_scoring, _start_theta

    def fn(par: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nu, J = model.expected_and_jacobian(par[:, :-1])
        nu = nu + par[:, -1:] * shape
        col = np.broadcast_to(shape[None, :, None], (*nu.shape, 1))
        return nu, np.concatenate([J, col], axis=-1)

    start = np.concatenate([_start_theta(model, counts, mask), [0.0]])[None]
    par, ok, cov, _ = _fisher_scoring(fn, counts[None], mask, start, max_iter=60)
    if not ok[0] or not np.isfinite(cov[0, -1, -1]):
        return float("nan"), float("nan")
    return float(par[0, -1]), float(math.sqrt(max(cov[0, -1, -1], 0.0)))


def asimov_spurious(
    template: np.ndarray,
    edges: np.ndarray,
    npar: int,
    masses: np.ndarray | list[float],
    resolution: float = 0.05,
    family: str = "dijet",
    sqrt_s: float = 13000.0,
    half_width: int | None = None,
) -> list[dict[str, float]]:
    """Spurious signal ``ŝ`` and its error ``σ_s`` at each mass, fitted to the template.

    Parameters
    ----------
    template : (nbins,) array
        Expected background counts (already scaled to the data's number of events: ``σ_s``
        is then the statistical error of the data).
    edges : (nbins + 1,) array
    npar : int
        Parameters of the function.
    masses : list of float
        Test masses (GeV); the signal is a Gaussian of width ``resolution * mass``.
    half_width : int, optional
        Fit only ``2 * half_width + 1`` bins around the mass (the SWiFt window, shifted to stay
        inside the range); default: the whole range.

    Returns
    -------
    list of dict
        ``mass``, ``signal``, ``error`` and ``ratio = signal / error`` per mass.

    Examples
    --------
    >>> from adsearch.stats.binning import log_bins
    >>> from adsearch.stats.fit import BinnedModel
    >>> m = BinnedModel(log_bins(2800.0, 6000.0, 0.05), "dijet", 4)
    >>> nu = m.expected(m.theta_from_params([2e3, 9.0, -5.0, 0.2]))
    >>> r = asimov_spurious(nu, m.edges, 4, [3500.0])
    >>> abs(r[0]["ratio"]) < 1e-3
    True
    """
    from adsearch.stats.fit import BinnedModel, gaussian_template

    t = np.asarray(template, float)
    e = np.asarray(edges, float)
    out = []
    for mass in masses:
        lo, hi = 0, t.size
        if half_width is not None:
            centre = int(np.clip(np.searchsorted(e, mass) - 1, 0, t.size - 1))
            lo, hi = window_bounds(centre, t.size, half_width)
        ee = e[lo : hi + 1]
        model = BinnedModel(ee, family, npar, sqrt_s)
        shape = gaussian_template(ee, float(mass), resolution * float(mass))
        s, err = _signal_fit(model, t[lo:hi], shape, np.ones(hi - lo, bool))
        out.append(
            {"mass": float(mass), "signal": s, "error": err, "ratio": s / err if err > 0 else s}
        )
    return out


def _scaled(template: Histogram | np.ndarray, hist: Histogram) -> np.ndarray:
    t = template.counts if isinstance(template, Histogram) else np.asarray(template, float)
    if isinstance(template, Histogram) and not np.allclose(template.edges, hist.edges):
        raise InputError("the spurious-signal template must have the data's binning")
    if t.shape != hist.counts.shape or np.any(t < 0) or not t.sum() > 0:
        raise InputError("the spurious-signal template needs non-negative counts per data bin")
    return t * (hist.counts.sum() / t.sum())


def choose_npar(hist: Histogram, config: Any = None, template: Any = None) -> Any:
    """The simplest function whose spurious signal passes at every tested mass.

    For ``k`` = 3, 4, 5 (dijet; UA2 3, 4) the template, scaled to the data's number of events,
    is fitted with the ``k``-parameter function plus a Gaussian signal at every mass of
    :func:`gate_masses`; the first ``k`` with ``max |ŝ / σ_s| < config.spurious_fraction``
    that also fits the data is returned. If none passes, the one with the smallest maximum
    ratio is (``result.details["spurious_gate"]["passed"]`` is then ``False``).

    Parameters
    ----------
    hist : Histogram
        Data.
    config : FitConfig
    template : Histogram or array, optional
        Background template with the data's binning (e.g. :func:`control_template`).
        Default: the 4-parameter function fitted to ``hist`` (:func:`_self_template`), so the
        choice is 3 or 4 parameters.

    Returns
    -------
    FitResult
        The data fitted with the chosen ``npar``; ``selection`` lists the gate per ``k``.
    """
    from adsearch.stats.fit import _FAMILIES, FitConfig, fit_background

    cfg = config or FitConfig()
    lo, hi, _ = _FAMILIES[cfg.family]
    source = "template"
    if template is None:
        t, k_self = _self_template(hist, cfg)
        source = f"self ({k_self}-parameter fit of the data)"
        hi = k_self  # without a template the gate can only simplify the self-template's fit
    else:
        t = _scaled(template, hist)
    masses = gate_masses(hist.edges)
    table: list[dict[str, Any]] = []
    fits: dict[int, Any] = {}
    for k in range(lo, hi + 1):
        rows = asimov_spurious(t, hist.edges, k, masses, cfg.resolution, cfg.family, cfg.sqrt_s)
        worst = max((abs(r["ratio"]) for r in rows), default=0.0)
        if not np.isfinite(worst):
            worst = float("inf")
        entry: dict[str, Any] = {"npar": k, "max_ratio": worst, "passed": False}
        try:
            fits[k] = fit_background(hist, cfg, npar=k)
        except FitError as e:
            entry["error"] = str(e)
            table.append(entry)
            continue
        entry["passed"] = bool(worst < cfg.spurious_fraction)
        entry["deviance"], entry["ndf"] = fits[k].deviance, fits[k].ndf
        table.append(entry)
        if entry["passed"]:
            break
    if not fits:
        raise FitError(f"{cfg.family} fit failed for every number of parameters")
    passed = [r["npar"] for r in table if r["passed"]]
    k_best = passed[0] if passed else min(fits, key=lambda k: table[k - lo]["max_ratio"])
    best = fits[k_best]
    best.selection = table
    best.details["spurious_gate"] = {
        "template": source,
        "fraction": cfg.spurious_fraction,
        "masses": masses.tolist(),
        "passed": bool(passed),
    }
    return best


def _self_template(hist: Histogram, cfg: Any) -> tuple[np.ndarray, int]:
    """The data's own 4-parameter fit (fewer if it fails): the gate's fallback template.

    Without an independent template the gate can only ask whether a simpler function stays
    within ``spurious_fraction`` of the statistical error of the 4-parameter fit at every
    mass — the fixed 4-parameter fit being the choice whose global p-value was uniform after
    score cuts (benchmarks/results/null.md). The most flexible function fitted to the data
    would be a noisy template (it follows fluctuations): it pushed every fit of small
    spectra to 5 parameters.
    """
    from adsearch.stats.fit import _FAMILIES, fit_background

    lo, hi, _ = _FAMILIES[cfg.family]
    k = min(4, hi)
    while True:
        try:
            return fit_background(hist, cfg, npar=k).expected, k
        except FitError:
            if k == lo:
                raise
            k -= 1


def control_template(
    failing: Histogram, passing: Histogram, blind: tuple[float, float] | None = None
) -> Histogram:
    """Background template of a score selection from the events *failing* the cut.

    The cut efficiency is modelled as ``logit ε(m) = a + b ln(m / m0)``, fitted (binomial
    likelihood) to the pass/fail counts outside ``blind``; the template is
    ``failing × ε / (1 - ε)``: the control selection's shape times the measured efficiency
    slope (the score cut's smooth sculpting), normalised to the expected passing events.

    Examples
    --------
    >>> e = np.array([1.0, 2.0, 3.0, 4.0]) * 1000
    >>> t = control_template(Histogram(e, [900.0, 450.0, 200.0]), Histogram(e, [100.0, 50.0, 22.0]))
    >>> [round(float(v)) for v in t.counts]
    [100, 50, 22]
    """
    if not np.allclose(failing.edges, passing.edges):
        raise InputError("control_template: the two histograms need the same binning")
    e = failing.edges
    f, p = failing.counts, passing.counts
    tot = f + p
    x = np.log(np.sqrt(e[1:] * e[:-1]) / np.sqrt(e[0] * e[-1]))
    use = tot > 0
    if blind is not None:
        use &= ~((e[1:] > blind[0]) & (e[:-1] < blind[1]))
    if p[use].sum() <= 0 or f[use].sum() <= 0:
        raise InputError("control_template: need passing and failing events outside the blind")
    from adsearch.stats.control import efficiency_fit

    coef, _, _ = efficiency_fit(p, f, x, use, 1)  # binomial (IRLS) fit of logit ε
    beta = coef[0]
    eps_all = 1.0 / (1.0 + np.exp(-(beta[0] + beta[1] * x)))
    out = Histogram(e, f * eps_all / (1.0 - eps_all))
    out.meta["efficiency_logit"] = beta.tolist()
    out.meta["failing"] = f.tolist()  # the control selection itself (fit.method control)
    return out
