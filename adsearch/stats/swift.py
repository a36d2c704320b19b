"""SWiFt: the dijet function fitted in a sliding window around each mass.

The sliding-window fit of the ATLAS dijet search (Phys. Rev. D 96, 052004, Sec. VI) replaces
one fit over the whole mjj range by one fit per mass hypothesis, over a window of a few mass
resolutions around it; the background of a bin is the prediction, *at that bin*, of the fit
of the window centred on it (near the ends of the range the window stops at the edge and is
shared by the outer bins). A window follows smooth shapes no single 3–5 parameter function
can follow over 2.8–6 TeV, while being wide enough not to absorb a resonance of the mass
resolution. The window size is a trade-off and is chosen by the spurious-signal test
(:func:`adsearch.stats.spurious.asimov_spurious`): the widest candidate that passes.

When the window spans the whole range, SWiFt is the global fit (tested).

Examples
--------
>>> import numpy as np
>>> from adsearch.stats.binning import Histogram, log_bins
>>> from adsearch.stats.fit import BinnedModel, FitConfig, SwiftConfig
>>> m = BinnedModel(log_bins(2800.0, 6000.0, 0.05), "dijet", 3)
>>> n = np.random.default_rng(2).poisson(m.expected(m.theta_from_params([2e3, 10.0, -5.0])))
>>> cfg = FitConfig(method="swift", swift=SwiftConfig(npar=3, half_width=5))
>>> res = fit_swift(Histogram(m.edges, n.astype(float)), cfg)
>>> res.method, res.details["swift"]["half_width"], len(res.details["swift"]["windows"])
('swift', 5, 6)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from adsearch.errors import FitError
from adsearch.stats.binning import Histogram, window_bounds

__all__ = [
    "choose_window",
    "fit_swift",
    "refit_swift",
    "swift_background_cov",
    "window_bounds",
]


def choose_window(
    hist: Histogram, config: Any, template: Any = None
) -> tuple[int, list[dict[str, Any]]]:
    """Widest half-width of ``config.swift.candidates`` whose spurious signal passes.

    Returns ``(half_width, table)``; without a passing candidate the one with the smallest
    maximum ``|ŝ / σ_s|``. The template is handled as in
    :func:`adsearch.stats.spurious.choose_npar`.
    """
    from adsearch.stats.spurious import _scaled, _self_template, asimov_spurious, gate_masses

    cfg = config
    t = _self_template(hist, cfg)[0] if template is None else _scaled(template, hist)
    masses = gate_masses(hist.edges)
    table = []
    for h in cfg.swift.candidates:
        rows = asimov_spurious(
            t, hist.edges, cfg.swift.npar, masses, cfg.resolution, cfg.family, cfg.sqrt_s, h
        )
        worst = max(abs(r["ratio"]) for r in rows)
        worst = worst if np.isfinite(worst) else float("inf")
        table.append({"half_width": h, "max_ratio": worst, "passed": worst < cfg.spurious_fraction})
        if table[-1]["passed"]:
            return h, table
    return min(table, key=lambda r: r["max_ratio"])["half_width"], table


def fit_swift(hist: Histogram, config: Any = None, template: Any = None) -> Any:
    """Sliding-window background of ``hist`` (``config.method == "swift"``).

    Parameters
    ----------
    hist : Histogram
    config : FitConfig
        ``config.swift`` holds the window's ``npar`` and ``half_width`` (``None``: chosen by
        :func:`choose_window` on ``template``); ``config.blind`` masks bins in every window.
    template : Histogram or array, optional
        Background template for the window choice.

    Returns
    -------
    FitResult
        ``method="swift"``; ``theta``/``params`` are those of the global fit with the window's
        ``npar``; ``expected`` is the sliding-window background (its covariance for limits:
        :func:`swift_background_cov`).
    """
    from adsearch.stats.fit import FitConfig, _finish_stats, fit_background, fit_background_fast

    cfg = config or FitConfig(method="swift")
    k = cfg.swift.npar
    table: list[dict[str, Any]] = []
    h = cfg.swift.half_width
    if h is None:
        h, table = choose_window(hist, cfg, template)
    glob = fit_background(hist, cfg, npar=k)
    nb = hist.nbins
    sub_cfg = dataclasses.replace(cfg, npar=k, min_events=0, method="function")
    windows: dict[tuple[int, int], Any] = {}
    bin_window: list[tuple[int, int]] = []
    for i in range(nb):
        lo, hi = window_bounds(i, nb, h)
        if (lo, hi) not in windows:
            if (lo, hi) == (0, nb):
                windows[(lo, hi)] = glob
            else:
                sub = Histogram(hist.edges[lo : hi + 1], hist.counts[lo:hi])
                try:
                    windows[(lo, hi)] = fit_background_fast(sub, sub_cfg, k)
                except FitError as e:
                    raise FitError(f"SWiFt window {lo}-{hi} (bins): {e}") from None
        bin_window.append((lo, hi))
    expected = np.array([windows[w].expected[i - w[0]] for i, w in enumerate(bin_window)])
    err = np.array([windows[w].expected_error[i - w[0]] for i, w in enumerate(bin_window)])
    res = dataclasses.replace(glob, selection=table)
    res.method = "swift"
    res.aux = {"windows": windows, "bin_window": bin_window}
    res.details = {
        "swift": {
            "npar": k,
            "half_width": h,
            "windows": [[lo, hi] for lo, hi in windows],
            "window_choice": table,
        }
    }
    _finish_stats(res, expected, err, k)
    return res


def swift_background_cov(fit: Any, n_toys: int = 400, seed: int = 12345) -> np.ndarray:
    """Covariance of the SWiFt background from seeded refitted Poisson toys (for limits).

    Windows overlap, so the per-window fit covariances do not give the correlations between
    bins predicted by different windows; refitted toys do.
    """
    nb = fit.expected.size
    toys = np.random.default_rng(seed).poisson(fit.expected, size=(n_toys, nb)).astype(float)
    _, bk, ok = refit_swift(fit, toys)
    if ok.sum() <= nb:
        return np.diag(fit.expected_error**2)
    return np.cov(bk[ok], rowvar=False)


def refit_swift(
    fit: Any, counts: np.ndarray, max_iter: int = 40
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit toys ``(T, nbins)`` window by window; returns ``(theta_global, expected, ok)``."""
    from adsearch.stats.fit import _refit_function

    n = np.asarray(counts, float)
    theta, _, ok = _refit_function(fit, n, max_iter)
    out = np.empty_like(n)
    ok = ok.copy()
    for (lo, hi), wfit in fit.aux["windows"].items():
        cols = [i for i, w in enumerate(fit.aux["bin_window"]) if w == (lo, hi)]
        _, bk, okw = _refit_function(wfit, n[:, lo:hi], max_iter)
        out[:, cols] = bk[:, np.array(cols) - lo]
        ok &= okw
    return theta, out, ok
