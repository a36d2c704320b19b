"""BumpHunter: the most significant excess over a fitted background, with its global p-value.

For every window of ``widths`` consecutive bins (all positions, step ``step``) the local
p-value of the observed count ``N`` given the expected ``B`` is the Poisson tail
``P(n >= N | B) = P(N, B)`` (regularised lower incomplete gamma), set to 1 when ``N <= B``.
A known bias of the background in a mjj range (``systematic_window``, e.g. a score's
sculpting of the signal region measured on background-only simulation) is corrected by a
relative ``shift`` of the background there (the toys are drawn from the shifted background
too), and its ``uncertainty`` enters the p-values: a window whose background ``B`` carries
``σ_B = Σ u_i B_i`` gets the Poisson tail averaged over ``B`` (the Z_Bi p-value of Cousins,
Linnemann and Tucker, NIM A 595 (2008) 480: ``I_{1/(1+τ)}(N, τB + 1)`` with
``τ = B / σ_B²``), toys included. The test statistic is ``t = -ln(min p)``. Its
distribution under the background-only hypothesis comes from pseudo-experiments drawn from
the fitted background; by default the background is refitted on every toy (as ATLAS does),
with the batched refit of
:func:`adsearch.stats.spectrum.refit_batch`. The global p-value is the fraction of toys with
``t >= t_obs`` (the pyBumpHunter convention).

Window counts come from prefix sums, so all windows of all toys are evaluated in a few array
operations (no Python loop over windows or toys, only over chunks of toys to bound memory).

Examples
--------
>>> import numpy as np
>>> bkg = np.full(20, 100.0)
>>> data = bkg.copy(); data[8:10] += 60
>>> res = bumphunt_hist(data, bkg, BumpHunterConfig(widths=[1, 2, 3], n_toys=500, seed=1))
>>> res.window_lo_bin, res.window_width, res.global_p
(8, 2, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats

from adsearch.errors import ConfigError, FitError, InputError
from adsearch.progress import track
from adsearch.stats.binning import Histogram, window_overlap
from adsearch.stats.fit import FitConfig, fit_background
from adsearch.stats.spectrum import refit_batch

__all__ = [
    "BumpHuntResult",
    "BumpHunterConfig",
    "bumphunt",
    "bumphunt_hist",
    "local_pvalues",
    "scan",
    "tail_pvalue",
    "window_grid",
]

_TINY = np.finfo(float).tiny  # p-values below this underflow; t is capped at -ln(tiny) ~ 708


@dataclass
class BumpHunterConfig:
    """Options of the BumpHunter scan.

    Attributes
    ----------
    widths : list of int
        Window widths in bins.
    step : int
        Shift between window positions in bins.
    n_toys : int
        Background-only pseudo-experiments for the global p-value.
    refit : bool
        Refit the background on every toy (needs a fit; see :func:`bumphunt`).
    seed : int
        Seed of the toys.
    chunk : int
        Toys processed per vectorised chunk (memory bound).
    shift : float
        Relative correction of the background in the bins of ``systematic_window`` (each bin
        weighted by the fraction of it inside): the background scanned against, and the toys'
        mean, is ``(1 + shift) ×`` the fit there. 0 (default): none.
    uncertainty : float
        Relative uncertainty of the (shifted) background in those bins, fully correlated
        between them; 0 (default): Poisson p-values only.
    systematic_window : (float, float) or None
        mjj range (GeV) of ``shift`` and ``uncertainty`` (the pipeline sets its signal region).
    """

    widths: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    step: int = 1
    n_toys: int = 10000
    refit: bool = True
    seed: int = 0
    chunk: int = 10000
    shift: float = 0.0
    uncertainty: float = 0.0
    systematic_window: tuple[float, float] | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` for bad values."""
        if not (np.isfinite(self.uncertainty) and self.uncertainty >= 0):
            raise ConfigError(f"bumphunt.uncertainty: must be >= 0, got {self.uncertainty}")
        if not (np.isfinite(self.shift) and self.shift > -1):
            raise ConfigError(f"bumphunt.shift: must be > -1, got {self.shift}")
        if self.systematic_window is not None:
            lo, hi = self.systematic_window
            if not lo < hi:
                raise ConfigError(f"bumphunt.systematic_window: need lo < hi, got {lo}, {hi}")
        elif self.uncertainty > 0 or self.shift != 0:
            raise ConfigError(
                "bumphunt.shift/uncertainty: give their mjj range (systematic_window)"
            )
        if not self.widths or any(int(w) != w or w < 1 for w in self.widths):
            raise ConfigError("bumphunt.widths: need a list of positive integers")
        if self.step < 1:
            raise ConfigError("bumphunt.step: must be >= 1")
        if self.n_toys < 1:
            raise ConfigError("bumphunt.n_toys: must be >= 1")
        if self.chunk < 1:
            raise ConfigError("bumphunt.chunk: must be >= 1")

    def __post_init__(self) -> None:
        self.widths = [int(w) for w in self.widths]
        if self.systematic_window is not None:
            lo, hi = self.systematic_window  # a YAML list as well as a tuple
            self.systematic_window = (float(lo), float(hi))
        self.validate()

    @property
    def has_systematic(self) -> bool:
        """True when a shift or an uncertainty applies."""
        return self.systematic_window is not None and (self.shift != 0 or self.uncertainty > 0)

    def _inside(self, edges: np.ndarray) -> np.ndarray:
        return window_overlap(edges, self.systematic_window)

    def bin_uncertainty(self, edges: np.ndarray) -> np.ndarray | None:
        """Relative background uncertainty of each bin of ``edges`` (``None``: none).

        >>> BumpHunterConfig(uncertainty=0.1, systematic_window=(1.0, 2.5)).bin_uncertainty(
        ...     np.array([0.0, 1.0, 2.0, 3.0])).tolist()
        [0.0, 0.1, 0.05]
        """
        if self.uncertainty == 0:
            return None
        return self.uncertainty * self._inside(edges)

    def bin_scale(self, edges: np.ndarray) -> np.ndarray:
        """Factor on the fitted background of each bin of ``edges`` (``1 + shift``, inside).

        >>> BumpHunterConfig(shift=0.1, systematic_window=(1.0, 2.5)).bin_scale(
        ...     np.array([0.0, 1.0, 2.0, 3.0])).tolist()
        [1.0, 1.1, 1.05]
        """
        return 1.0 + self.shift * self._inside(edges)


def window_grid(nbins: int, widths: list[int], step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """First bin and width of every window, width-major (widths wider than ``nbins`` skipped).

    Examples
    --------
    >>> lo, w = window_grid(4, [1, 3])
    >>> lo.tolist(), w.tolist()
    ([0, 1, 2, 3, 0, 1], [1, 1, 1, 1, 3, 3])
    """
    los, ws = [], []
    for w in widths:
        pos = np.arange(0, nbins - w + 1, step)
        los.append(pos)
        ws.append(np.full(pos.size, w))
    lo = np.concatenate(los) if los else np.zeros(0, int)
    if lo.size == 0:
        raise InputError(f"no window of widths {list(widths)} fits in {nbins} bins")
    return lo.astype(np.intp), np.concatenate(ws).astype(np.intp)


def _prefix(a: np.ndarray) -> np.ndarray:
    z = np.zeros((*a.shape[:-1], 1))
    return np.concatenate([z, np.cumsum(a, axis=-1)], axis=-1)


def tail_pvalue(n: np.ndarray, b: np.ndarray, sigma: np.ndarray | float = 0.0) -> np.ndarray:
    """``P(N >= n)`` for an expected background ``b`` known to ``± sigma`` (1 where ``n <= b``).

    ``sigma = 0``: the Poisson tail ``P(n, b)``; else the Z_Bi p-value (Poisson averaged over
    a Gamma-distributed background of mean ≈ ``b`` and width ``sigma``; Cousins, Linnemann,
    Tucker, NIM A 595 (2008) 480).

    >>> tail_pvalue(np.array([130.0]), np.array([100.0])).round(4).tolist()
    [0.0023]
    >>> tail_pvalue(np.array([130.0]), np.array([100.0]), 10.0).round(4).tolist()
    [0.0278]
    """
    n, b, sigma = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (n, b, sigma)))
    p = np.ones(n.shape)
    sel = (n > b) & (b > 0)
    pois = sel & (sigma <= 0)
    p[pois] = special.gammainc(n[pois], b[pois])
    bi = sel & (sigma > 0)
    if bi.any():
        tau = b[bi] / sigma[bi] ** 2
        p[bi] = special.betainc(n[bi], tau * b[bi] + 1.0, 1.0 / (1.0 + tau))
    return p


def local_pvalues(
    counts: np.ndarray,
    background: np.ndarray,
    lo: np.ndarray,
    width: np.ndarray,
    rel_unc: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local excess p-values of all windows.

    Parameters
    ----------
    counts : (..., nbins) array
    background : (..., nbins) array, broadcastable to ``counts``
    lo, width : (W,) int arrays from :func:`window_grid`
    rel_unc : (nbins,) array, optional
        Relative background uncertainty per bin (:meth:`BumpHunterConfig.bin_uncertainty`);
        a window's ``σ_B`` is the sum of its bins' ``rel_unc × background``.

    Returns
    -------
    p, n_window, b_window : (..., W) arrays

    Examples
    --------
    >>> p, n, b = local_pvalues(np.array([3.0, 9.0]), np.array([3.0, 4.0]), np.array([0, 1]),
    ...                         np.array([1, 1]))
    >>> p.round(4).tolist()
    [1.0, 0.0214]
    """
    cn, cb = _prefix(np.asarray(counts, float)), _prefix(np.asarray(background, float))
    hi = lo + width
    n = cn[..., hi] - cn[..., lo]
    b = cb[..., hi] - cb[..., lo]
    n, b = np.broadcast_arrays(n, b)
    sigma: np.ndarray | float = 0.0
    if rel_unc is not None:
        cs = _prefix(np.asarray(background, float) * np.asarray(rel_unc, float))
        sigma = cs[..., hi] - cs[..., lo]
    return tail_pvalue(n, b, sigma), n, b


def scan(
    counts: np.ndarray,
    background: np.ndarray,
    lo: np.ndarray,
    width: np.ndarray,
    rel_unc: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Test statistic ``t = -ln(min p)`` and the index of the best window, per spectrum.

    ``counts`` ``(..., nbins)``; ``background`` broadcastable to it (one per toy after a refit);
    ``rel_unc`` as in :func:`local_pvalues`.
    """
    p, _, _ = local_pvalues(counts, background, lo, width, rel_unc)
    i = np.argmin(p, axis=-1)
    pmin = np.take_along_axis(p, i[..., None], axis=-1)[..., 0]
    return -np.log(np.maximum(pmin, _TINY)), i


def _scan_fixed(
    background: np.ndarray,
    toys_bt: np.ndarray,
    widths: list[int],
    step: int,
    chunk: int = 2048,
    rel_unc: np.ndarray | None = None,
) -> np.ndarray:
    """``t`` of integer toys ``(nbins, T)`` against one fixed background (fast path).

    With a fixed background a window's p-value depends only on its integer count, so the
    exact ``-ln P(N, B)`` is tabulated once per window for the range of counts that occur and
    every window of every toy is a table look-up: far fewer incomplete-gamma evaluations than
    one per window and toy. Gives the same numbers as :func:`scan` (tested).
    """
    nb, T = toys_bt.shape
    C = np.empty((nb + 1, T), np.int64)
    C[0] = 0
    np.cumsum(toys_bt, axis=0, out=C[1:])
    cb = np.concatenate([[0.0], np.cumsum(background)])
    unc = np.zeros(nb) if rel_unc is None else np.asarray(rel_unc, float)
    cs = np.concatenate([[0.0], np.cumsum(background * unc)])
    npos = [len(range(0, nb - w + 1, step)) for w in widths]
    N = np.empty((sum(npos), T), np.int64)
    B = np.empty(sum(npos))
    S = np.empty(sum(npos))
    s = 0
    for w, k in zip(widths, npos, strict=True):  # loop over the few widths only
        if k:
            np.subtract(C[w::step][:k], C[::step][:k], out=N[s : s + k])
            B[s : s + k] = cb[w::step][:k] - cb[::step][:k]
            S[s : s + k] = cs[w::step][:k] - cs[::step][:k]
        s += k
    nmin, nmax = N.min(axis=1), N.max(axis=1)
    length = nmax - nmin + 1
    off = np.concatenate([[0], np.cumsum(length)[:-1]])
    win = np.repeat(np.arange(B.size), length)
    nval = np.arange(int(length.sum())) - off[win] + nmin[win]
    table = -np.log(np.maximum(tail_pvalue(nval, B[win], S[win]), _TINY))  # 0 unless N > B
    shift = (off - nmin)[:, None]
    out = np.empty(T)
    for s in range(0, T, chunk):  # cache-sized blocks of toys
        out[s : s + chunk] = table.take(N[:, s : s + chunk] + shift).max(axis=0)
    return out


@dataclass
class BumpHuntResult:
    """Outcome of a BumpHunter scan (see :func:`bumphunt`).

    ``window_*`` describe the most significant window; ``p_local`` holds the data's local
    p-values of all windows (``window_lo``/``window_widths``); ``t_toys`` the toys' statistics.
    """

    edges: np.ndarray
    counts: np.ndarray
    background: np.ndarray
    window_lo: np.ndarray
    window_widths: np.ndarray
    p_local: np.ndarray
    t_obs: float
    p_local_min: float
    z_local: float
    window_lo_bin: int
    window_width: int
    window_mjj: tuple[float, float]
    n_obs_window: float
    n_bkg_window: float
    global_p: float
    z_global: float
    global_p_is_bound: bool
    t_toys: np.ndarray
    n_toys: int
    n_toys_failed: int
    refit: bool
    seed: int
    #: ``{"shift", "uncertainty", "window"}`` of :class:`BumpHunterConfig` (``None``: none)
    systematic: dict[str, Any] | None = None

    def to_dict(self, with_toys: bool = True) -> dict[str, Any]:
        """JSON-ready dict (``t_toys`` included unless ``with_toys=False``)."""
        d = {
            "t_obs": self.t_obs,
            "p_local_min": self.p_local_min,
            "z_local": self.z_local,
            "window": {
                "lo_bin": self.window_lo_bin,
                "width_bins": self.window_width,
                "mjj_lo": self.window_mjj[0],
                "mjj_hi": self.window_mjj[1],
                "n_obs": self.n_obs_window,
                "n_bkg": self.n_bkg_window,
            },
            "global_p": self.global_p,
            "z_global": self.z_global,
            "global_p_is_upper_bound": self.global_p_is_bound,
            "n_toys": self.n_toys,
            "n_toys_failed": self.n_toys_failed,
            "refit": self.refit,
            "seed": self.seed,
            "systematic": self.systematic,
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "background": self.background.tolist(),
            "windows": {
                "lo_bin": self.window_lo.tolist(),
                "width_bins": self.window_widths.tolist(),
                "p_local": self.p_local.tolist(),
            },
        }
        if with_toys:
            d["t_toys"] = self.t_toys.tolist()
        return d


def _result(
    edges: np.ndarray,
    counts: np.ndarray,
    background: np.ndarray,
    lo: np.ndarray,
    width: np.ndarray,
    t_toys: np.ndarray,
    n_failed: int,
    refit: bool,
    seed: int,
    rel_unc: np.ndarray | None = None,
    systematic: dict[str, Any] | None = None,
) -> BumpHuntResult:
    p, n, b = local_pvalues(counts, background, lo, width, rel_unc)
    i = int(np.argmin(p))
    t_obs = float(-np.log(max(p[i], _TINY)))
    k = int(np.sum(t_toys >= t_obs))
    nt = int(t_toys.size)
    gp = k / nt
    bound = k == 0
    z_global = float(stats.norm.isf(1.0 / nt)) if bound else max(float(stats.norm.isf(gp)), 0.0)
    lo_i, w_i = int(lo[i]), int(width[i])
    return BumpHuntResult(
        edges=np.asarray(edges, float),
        counts=np.asarray(counts, float),
        background=np.asarray(background, float),
        window_lo=lo,
        window_widths=width,
        p_local=p,
        t_obs=t_obs,
        p_local_min=float(p[i]),
        z_local=max(float(stats.norm.isf(p[i])), 0.0),
        window_lo_bin=lo_i,
        window_width=w_i,
        window_mjj=(float(edges[lo_i]), float(edges[lo_i + w_i])),
        n_obs_window=float(n[i]),
        n_bkg_window=float(b[i]),
        global_p=gp,
        z_global=z_global,
        global_p_is_bound=bound,
        t_toys=t_toys,
        n_toys=nt,
        n_toys_failed=n_failed,
        refit=refit,
        seed=seed,
        systematic=systematic,
    )


def _check_spectra(counts: np.ndarray, background: np.ndarray) -> None:
    if counts.ndim != 1 or counts.shape != background.shape:
        raise InputError("counts and background must be 1-D arrays of the same length")
    if not (np.all(np.isfinite(counts)) and np.all(np.isfinite(background))):
        raise InputError("counts/background contain NaN or inf")
    if np.any(counts < 0) or np.any(background < 0):
        raise InputError("counts/background must be non-negative")
    if not np.any(background > 0):
        raise InputError("background is zero everywhere; nothing to scan against")


def bumphunt_hist(
    counts: np.ndarray,
    background: np.ndarray,
    config: BumpHunterConfig | None = None,
    edges: np.ndarray | None = None,
    toys: np.ndarray | None = None,
) -> BumpHuntResult:
    """BumpHunter against a fixed background histogram (no refit), like pyBumpHunter.

    Parameters
    ----------
    counts, background : (nbins,) arrays
    config : BumpHunterConfig
        ``refit`` is ignored here.
    edges : array, optional
        Bin edges (default ``0..nbins``) for reporting the window.
    toys : (T, nbins) array, optional
        Pseudo-data to use instead of Poisson draws from ``background`` (seeded by
        ``config.seed``).
    """
    cfg = config or BumpHunterConfig()
    n = np.asarray(counts, dtype=float)
    b = np.asarray(background, dtype=float)
    _check_spectra(n, b)
    e = np.arange(n.size + 1.0) if edges is None else np.asarray(edges, float)
    lo, width = window_grid(n.size, cfg.widths, cfg.step)
    unc = cfg.bin_uncertainty(e)
    b = b * cfg.bin_scale(e)  # the toys' mean too
    rng = np.random.default_rng(cfg.seed)
    if toys is not None:
        toys = np.asarray(toys)
        if toys.ndim != 2 or toys.shape[1] != n.size or np.any(toys < 0):
            raise InputError(f"toys must be a (T, {n.size}) array of non-negative counts")
        if np.any(toys != np.round(toys)):
            raise InputError("toys must hold integer counts")
    n_toys = cfg.n_toys if toys is None else toys.shape[0]
    t_toys = np.empty(n_toys)
    starts = range(0, n_toys, cfg.chunk)
    for s in track(starts, len(starts), "BumpHunter toys"):
        m = min(cfg.chunk, n_toys - s)
        if toys is None:  # (nbins, T) layout: prefix sums run over contiguous rows
            chunk = rng.poisson(b[:, None], size=(b.size, m))
        else:
            chunk = np.ascontiguousarray(toys[s : s + m].T).astype(np.int64)
        t_toys[s : s + m] = _scan_fixed(b, chunk, cfg.widths, cfg.step, rel_unc=unc)
    return _result(e, n, b, lo, width, t_toys, 0, False, cfg.seed, unc, _systematic(cfg))


def _systematic(cfg: BumpHunterConfig) -> dict[str, Any] | None:
    if not cfg.has_systematic:
        return None
    assert cfg.systematic_window is not None
    return {
        "shift": cfg.shift,
        "uncertainty": cfg.uncertainty,
        "window": list(cfg.systematic_window),
    }


def bumphunt(fit: Any, config: BumpHunterConfig | None = None) -> BumpHuntResult:
    """BumpHunter on a fitted spectrum, with the background refitted on every toy.

    Parameters
    ----------
    fit : adsearch.stats.fit.FitResult
        Data (``fit.counts``) and background (``fit.expected``). Toys are Poisson draws from
        ``fit.expected``; with ``config.refit`` each toy is refitted (same method — function,
        SWiFt or GP —, number of parameters and blinding) and scanned against its own fit.
        For the control-ratio method the toys are binomial given the bin totals of the
        passing and failing events (:func:`adsearch.stats.control.control_toys`).
        Toys whose batched refit does not converge are refitted with iminuit (function
        method); toys that still fail are dropped and counted in ``n_toys_failed``.
    config : BumpHunterConfig
    """

    cfg = config or BumpHunterConfig()
    if not cfg.refit:
        return bumphunt_hist(fit.counts, fit.expected, cfg, edges=fit.edges)
    n, b = np.asarray(fit.counts, float), np.asarray(fit.expected, float)
    _check_spectra(n, b)
    lo, width = window_grid(n.size, cfg.widths, cfg.step)
    unc = cfg.bin_uncertainty(fit.edges)
    scale = cfg.bin_scale(fit.edges)
    shifted = bool(np.any(scale != 1.0))
    rng = np.random.default_rng(cfg.seed)
    t_toys = np.full(cfg.n_toys, np.nan)
    failed = 0
    method = getattr(fit, "method", "function")
    starts = range(0, cfg.n_toys, cfg.chunk)
    for s in track(starts, len(starts), "BumpHunter toys (refit)"):
        m = min(cfg.chunk, cfg.n_toys - s)
        if method == "control":
            from adsearch.stats.control import control_toys

            # binomial toys given the bin totals: the control selection fluctuates too
            toys, bk, ok = control_toys(fit, rng, m, scale if shifted else None)
        else:
            toys = rng.poisson(b * scale, size=(m, b.size)).astype(float)
            _, bk, ok = refit_batch(fit, toys)  # with the fit's method (function, swift, gp)
        if method == "function" and not ok.all():
            fcfg = FitConfig(
                family=fit.family, npar=fit.npar, sqrt_s=fit.sqrt_s, blind=fit.blind, min_events=0
            )
            for j in np.flatnonzero(~ok):  # rare: fall back to iminuit for these toys
                try:
                    bk[j] = fit_background(Histogram(fit.edges, toys[j]), fcfg).expected
                    ok[j] = True
                except FitError:
                    pass
        failed += int(np.sum(~ok))
        t_toys[s : s + m][ok] = scan(toys[ok], bk[ok] * scale, lo, width, unc)[0]
    t_toys = t_toys[np.isfinite(t_toys)]
    if t_toys.size == 0:
        raise FitError("the background refit failed on every toy")
    return _result(
        fit.edges, n, b * scale, lo, width, t_toys, failed, True, cfg.seed, unc, _systematic(cfg)
    )
