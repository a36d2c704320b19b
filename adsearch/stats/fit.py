"""Background fit of the mjj spectrum with the dijet function family.

The dijet function ``f(x) = p1 (1-x)^p2 x^(p3 + p4 ln x + p5 ln² x)`` (``x = mjj/√s``; 3, 4
or 5 parameters) and the UA2 form ``f(x) = p0 x^-p1 exp(-p2 x - p3 x²)`` are both *log-linear*:
``ln f`` is a linear combination of basis functions of ``x``. We fit them in that log space with
the basis pivoted at the centre of the fit range (``ln(x/x0)``, ``ln((1-x)/(1-x0))``), which
decorrelates the parameters; the physical parameters are an exact linear map of the internal
ones (``p1`` through ``exp``). ``f`` is a density in events per unit ``x``; the expected count of
a bin is its integral over the bin (Gauss–Legendre quadrature).

The likelihood is the binned extended Poisson likelihood, minimised with iminuit (analytic
gradient, HESSE errors). Bins inside a blinding window are left out of the fit. The number of
parameters is chosen by Wilks' test (or an F-test), adding a parameter while it improves the fit
with ``p < alpha``.

For pseudo-experiments, :func:`refit_batch` refits thousands of toys at once with vectorised
Fisher scoring (Newton steps with the expected Hessian and step halving) started from the
nominal fit: a hand-written batched solver because iminuit fits one dataset per call and would
be ~100x too slow for 1e4 toys; tests check it agrees with iminuit.

Examples
--------
>>> import numpy as np
>>> from adsearch.stats.binning import log_bins
>>> model = BinnedModel(log_bins(2500.0, 6000.0, 0.05), "dijet", 3)
>>> truth = model.theta_from_params([3.0e3, 10.0, -5.0])
>>> counts = np.random.default_rng(1).poisson(model.expected(truth))
>>> res = fit_background(Histogram(model.edges, counts), FitConfig(npar=3))
>>> res.npar, res.converged, bool(abs(res.params[1] - 10.0) < 4 * res.param_errors[1])
(3, True, True)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import special, stats

from adsearch.config import check_sections
from adsearch.errors import ConfigError, FitError, InputError
from adsearch.stats.binning import Histogram

__all__ = [
    "METHODS",
    "BinnedModel",
    "ControlConfig",
    "FitConfig",
    "FitResult",
    "GPConfig",
    "SpuriousSignalConfig",
    "SpuriousSignalResult",
    "SwiftConfig",
    "fit_background",
    "fit_background_fast",
    "gaussian_template",
    "sample_mjj",
    "spurious_signal",
    "spurious_signal_tests",
]

_QUAD = 4  # Gauss–Legendre points per bin (exact enough for 5 %-wide bins on a smooth falling f)
_EXP_MAX = 700.0
_NU_MIN = 1e-300  # expected counts are clipped here before dividing (1/nu must not overflow)

#: background models of ``FitConfig.method``
METHODS = ("auto", "function", "swift", "gp", "control")

_FAMILIES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    # name: (min npar, max npar, physical parameter names)
    "dijet": (3, 5, ("p1", "p2", "p3", "p4", "p5")),
    "ua2": (3, 4, ("p0", "p1", "p2", "p3")),
}


def _basis(family: str, npar: int, x: np.ndarray, x0: float) -> np.ndarray:
    """Pivoted log-space basis (..., npar): ln f = basis @ theta."""
    lx = np.log(x / x0)
    if family == "dijet":
        cols = [np.ones_like(x), np.log((1.0 - x) / (1.0 - x0)), lx, lx**2, lx**3]
    else:
        d = x - x0
        cols = [np.ones_like(x), lx, d, d**2]
    return np.stack(cols[:npar], axis=-1)


def _phys_basis(family: str, npar: int, x: np.ndarray) -> np.ndarray:
    """Un-pivoted basis whose coefficients are (ln p_first, ± the other parameters)."""
    lx = np.log(x)
    if family == "dijet":
        cols = [np.ones_like(x), np.log1p(-x), lx, lx**2, lx**3]
    else:
        cols = [np.ones_like(x), lx, x, x**2]
    return np.stack(cols[:npar], axis=-1)


def _phys_sign(family: str, npar: int) -> np.ndarray:
    # UA2: ln f = ln p0 - p1 ln x - p2 x - p3 x^2
    s = np.ones(npar) if family == "dijet" else -np.ones(npar)
    s[0] = 1.0
    return s


@dataclass
class SwiftConfig:
    """Options of the sliding-window fit (SWiFt, ATLAS Phys. Rev. D 96, 052004).

    Attributes
    ----------
    npar : int
        Parameters of the dijet function fitted inside each window (3–5).
    half_width : int or None
        Window half-width in bins (the window holds ``2 * half_width + 1`` bins; with the
        default 5 % binning a bin is about one mass resolution). ``None`` chooses the widest
        candidate that passes the spurious-signal test.
    candidates : list of int
        Half-widths tried when ``half_width`` is ``None``. The default (8, 5) is the set
        whose global p-values were calibrated in benchmarks/results/null.md; trying every
        width down to 4 picked narrow windows that absorb fluctuations (conservative,
        non-uniform p-values, and less sensitive).
    """

    npar: int = 3
    half_width: int | None = None
    candidates: list[int] = field(default_factory=lambda: [8, 5])

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values."""
        if not 3 <= self.npar <= 5:
            raise ConfigError("fit.swift.npar: 3..5")
        if self.half_width is not None and self.half_width < 1:
            raise ConfigError("fit.swift.half_width: must be >= 1 (bins)")
        if not self.candidates or any(int(c) != c or c < 1 for c in self.candidates):
            raise ConfigError("fit.swift.candidates: need a list of positive integers")

    def __post_init__(self) -> None:
        self.candidates = sorted({int(c) for c in self.candidates}, reverse=True)
        self.validate()


@dataclass
class GPConfig:
    """Options of the Gaussian-process background (Frate et al., arXiv:1709.05681).

    The GP models the relative deviation of the spectrum from the dijet-function mean,
    ``n / mu - 1``, as a function of ``ln mjj`` with kernel ``a² · RBF(ℓ)``.

    Attributes
    ----------
    min_length : float
        Lower bound of the length scale ``ℓ`` in units of the relative mass resolution
        (``FitConfig.resolution``, in ``ln mjj``). The default 8 (0.4 in ``ln mjj`` at 5 %
        resolution) keeps a Gaussian bump of width 3× the resolution out of the GP's reach
        (tested); smaller values let the GP absorb resonances.
    max_length : float
        Upper bound of ``ℓ`` (same units).
    max_amplitude : float
        Upper bound of the relative amplitude ``a`` of the deviations.
    """

    min_length: float = 8.0
    max_length: float = 200.0
    max_amplitude: float = 0.5

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values."""
        if not 0 < self.min_length < self.max_length:
            raise ConfigError("fit.gp: need 0 < min_length < max_length")
        if not self.max_amplitude > 0:
            raise ConfigError("fit.gp.max_amplitude: must be positive")


@dataclass
class ControlConfig:
    """Options of the control-ratio background (:mod:`adsearch.stats.control`).

    Attributes
    ----------
    degree : int or None
        Degree of the polynomial in ``ln mjj`` of the cut efficiency's logit (0–3). ``None``
        (default) chooses it per spectrum: starting from ``min_degree``, a degree is added
        while the binomial likelihood-ratio test (``Δ deviance`` vs χ² with 1 dof) is
        significant at ``FitConfig.alpha``, up to ``max_degree``. At LHC Olympics size
        (1M events) the efficiency of a 10 % cut is not logistic in ``ln mjj``: the fixed
        degree 1 left a false 4.3σ excess in the signal region where degree 2 fits
        (docs/benchmarks.md); on the quick start's 20k-event samples degree 1 is kept in 47
        of 50 at ε_B = 10 % and 43 of 50 at 2 % (benchmarks/bench_weak_null.py), the measured
        shape of score-cut efficiencies (benchmarks/results/null.md).
    min_degree, max_degree : int
        Range of the chosen degree (``degree: None``).
    select_outside : tuple of float or None
        ``(lo, hi)`` mjj window (GeV) left out when the degree is *chosen* (not when it is
        fitted; bins overlapping it are masked), so that a resonance there cannot raise the
        degree and be absorbed by it. ``adsearch run`` sets it to the signal region when the
        fit is not blinded; with ``FitConfig.blind`` set, the blinded window is left out of
        both.
    min_ratio : float
        ``method: auto`` uses the control selection only if it holds at least ``min_ratio``
        times the passing events in the fitted bins (the prediction's own Poisson noise is
        then at most half the data's) and failing events in every fitted bin with passing
        ones; otherwise the function. At ε_B ≤ 20 % the ratio is ≥ 4.
    """

    degree: int | None = None
    min_degree: int = 1
    max_degree: int = 3
    select_outside: tuple[float, float] | None = None
    min_ratio: float = 4.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values."""
        for name in ("degree", "min_degree", "max_degree"):
            v = getattr(self, name)
            if v is None and name == "degree":
                continue
            if isinstance(v, bool) or int(v) != v or not 0 <= v <= 3:
                raise ConfigError(f"fit.control.{name}: 0..3")
        if self.min_degree > self.max_degree:
            raise ConfigError("fit.control: need min_degree <= max_degree")
        if self.select_outside is not None:
            lo, hi = self.select_outside
            if not 0 <= lo < hi:
                raise ConfigError(f"fit.control.select_outside: need 0 <= lo < hi, got {lo}, {hi}")
            self.select_outside = (float(lo), float(hi))
        if not self.min_ratio >= 0:
            raise ConfigError("fit.control.min_ratio: must be >= 0")


@dataclass
class FitConfig:
    """Options of the background fit.

    Attributes
    ----------
    family : {"dijet", "ua2"}
        Function family.
    npar : int or None
        Number of parameters (dijet 3–5, UA2 3–4); ``None`` chooses it with ``selection``.
    selection : {"spurious", "wilks", "ftest"}
        How ``npar`` is chosen when it is ``None``. ``"spurious"`` (default): the smallest
        number of parameters whose spurious signal on a background template is below
        ``spurious_fraction`` of the statistical error at every tested mass
        (:mod:`adsearch.stats.spurious`); ``"wilks"``/``"ftest"``: add a parameter while the
        test's p-value is below ``alpha`` (not calibrated after a score cut: it picks too few
        parameters on blinded, sculpted spectra).
    alpha : float
        A parameter is added while the test's p-value is below ``alpha`` (wilks, ftest).
    spurious_fraction : float
        Threshold of ``|spurious signal| / statistical error`` of the spurious-signal gate.
    resolution : float
        Relative mjj resolution ``σ/m``: width of the spurious-signal Gaussian and unit of the
        GP length-scale bound.
    method : {"auto", "function", "swift", "gp", "control"}
        Background model: the function fitted over the whole range, the sliding-window fit
        (:mod:`adsearch.stats.swift`), the function plus a Gaussian process
        (:mod:`adsearch.stats.gp`) or, after a score cut, the events failing the cut times a
        smooth transfer factor (:mod:`adsearch.stats.control`; needs the control selection).
        ``"auto"`` (default): ``control`` where the spectrum has a large enough control
        selection (a template from :func:`adsearch.stats.spurious.control_template`; see
        ``ControlConfig.min_ratio``), else ``function`` —
        the choice whose global p-values were uniform in every case of
        benchmarks/results/null.md and whose sensitivity was highest after a cut.
    sqrt_s : float
        Centre-of-mass energy in GeV (``x = mjj / sqrt_s``).
    blind : tuple of float or None
        ``(lo, hi)`` mjj window (GeV) left out of the fit (bins overlapping it are masked).
    min_events : int
        Fewer events than this in the fitted bins is a :class:`FitError`.
    swift, gp, control : SwiftConfig, GPConfig, ControlConfig
        Options of the ``swift``, ``gp`` and ``control`` methods.
    """

    family: Literal["dijet", "ua2"] = "dijet"
    npar: int | None = None
    selection: Literal["spurious", "wilks", "ftest"] = "spurious"
    alpha: float = 0.05
    spurious_fraction: float = 0.5
    resolution: float = 0.05
    method: Literal["auto", "function", "swift", "gp", "control"] = "auto"
    sqrt_s: float = 13000.0
    blind: tuple[float, float] | None = None
    min_events: int = 50
    swift: SwiftConfig = field(default_factory=SwiftConfig)
    gp: GPConfig = field(default_factory=GPConfig)
    control: ControlConfig = field(default_factory=ControlConfig)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values."""
        check_sections(self, "fit")
        if self.family not in _FAMILIES:
            raise ConfigError(f"fit.family: unknown family {self.family!r} (dijet, ua2)")
        lo, hi, _ = _FAMILIES[self.family]
        if self.npar is not None and not lo <= self.npar <= hi:
            raise ConfigError(f"fit.npar: {self.family} takes {lo}..{hi} parameters")
        if self.selection not in ("spurious", "wilks", "ftest"):
            raise ConfigError(
                f"fit.selection: unknown test {self.selection!r} (spurious, wilks, ftest)"
            )
        if self.method not in METHODS:
            raise ConfigError(f"fit.method: unknown method {self.method!r} ({', '.join(METHODS)})")
        if self.method == "swift" and self.family != "dijet":
            raise ConfigError("fit.method swift: needs family dijet")
        if not 0 < self.alpha < 1:
            raise ConfigError("fit.alpha: must be in (0, 1)")
        if not self.spurious_fraction > 0:
            raise ConfigError("fit.spurious_fraction: must be positive")
        if not 0 < self.resolution < 1:
            raise ConfigError("fit.resolution: must be in (0, 1)")
        if not self.sqrt_s > 0:
            raise ConfigError("fit.sqrt_s: must be positive")
        if self.blind is not None and not (len(self.blind) == 2 and self.blind[0] < self.blind[1]):
            raise ConfigError("fit.blind: need (lo, hi) with lo < hi")
        self.swift.validate()
        self.gp.validate()
        self.control.validate()

    def __post_init__(self) -> None:
        if self.blind is not None:
            self.blind = (float(self.blind[0]), float(self.blind[1]))
        if isinstance(self.swift, dict):
            self.swift = SwiftConfig(**self.swift)
        if isinstance(self.gp, dict):
            self.gp = GPConfig(**self.gp)
        if isinstance(self.control, dict):
            self.control = ControlConfig(**self.control)
        self.validate()


class BinnedModel:
    """Expected bin counts of a log-linear family on fixed bin ``edges`` (GeV).

    Parameters
    ----------
    edges : array_like
        Bin edges in GeV, inside ``(0, sqrt_s)``.
    family : {"dijet", "ua2"}
    npar : int
    sqrt_s : float
        GeV.
    pivot : float or None
        ``x0`` of the pivoted basis; default the geometric centre of the edges.
    """

    def __init__(
        self,
        edges: np.ndarray,
        family: str = "dijet",
        npar: int = 4,
        sqrt_s: float = 13000.0,
        pivot: float | None = None,
    ) -> None:
        self.edges = np.asarray(edges, dtype=float)
        if family not in _FAMILIES:
            raise ConfigError(f"unknown fit family {family!r} (dijet, ua2)")
        lo, hi, names = _FAMILIES[family]
        if not lo <= npar <= hi:
            raise ConfigError(f"{family} takes {lo}..{hi} parameters, got {npar}")
        if self.edges[0] <= 0 or self.edges[-1] >= sqrt_s:
            raise InputError(f"mjj range must be inside (0, sqrt_s={sqrt_s:g} GeV)")
        self.family, self.npar, self.sqrt_s = family, int(npar), float(sqrt_s)
        x_edges = self.edges / self.sqrt_s
        self.pivot = float(np.sqrt(x_edges[0] * x_edges[-1]) if pivot is None else pivot)
        nodes, weights = np.polynomial.legendre.leggauss(_QUAD)
        half = 0.5 * np.diff(x_edges)
        mid = 0.5 * (x_edges[1:] + x_edges[:-1])
        xq = mid[:, None] + half[:, None] * nodes[None, :]  # (nbins, K)
        self._w = half[:, None] * weights[None, :]  # (nbins, K)
        self._B = _basis(family, self.npar, xq, self.pivot)  # (nbins, K, npar)
        self.param_names: tuple[str, ...] = names[: self.npar]
        # exact linear map internal -> physical log-coefficients (basis spans are equal)
        xs = np.linspace(0.05, 0.9, 64)
        self._M = np.linalg.lstsq(
            _phys_basis(family, self.npar, xs), _basis(family, self.npar, xs, self.pivot), None
        )[0]
        self._sign = _phys_sign(family, self.npar)

    @property
    def nbins(self) -> int:
        """Number of bins."""
        return self.edges.size - 1

    def expected(self, theta: np.ndarray) -> np.ndarray:
        """Expected counts, shape ``(..., nbins)`` for ``theta`` of shape ``(..., npar)``."""
        return self.expected_and_jacobian(theta, jac=False)[0]

    def expected_and_jacobian(
        self, theta: np.ndarray, jac: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Expected counts ``(T, nbins)`` and Jacobian ``(T, nbins, npar)`` for ``(T, npar)``."""
        th = np.asarray(theta, dtype=float)
        single = th.ndim == 1
        th = np.atleast_2d(th)
        eta = np.einsum("bkp,tp->tbk", self._B, th, optimize=True)
        e = np.exp(np.minimum(eta, _EXP_MAX)) * self._w  # (T, nbins, K)
        nu = e.sum(-1)
        J = None
        if jac:
            # (nbins, T, K) @ (nbins, K, npar) -> (nbins, T, npar): one BLAS call per bin
            J = np.matmul(e.transpose(1, 0, 2), self._B).transpose(1, 0, 2)
        if single:
            return nu[0], (None if J is None else J[0])
        return nu, J

    def density(self, mjj: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``f(x)`` in events per GeV of mjj at ``mjj`` (GeV)."""
        x = np.asarray(mjj, dtype=float) / self.sqrt_s
        return np.exp(_basis(self.family, self.npar, x, self.pivot) @ theta) / self.sqrt_s

    def params_from_theta(self, theta: np.ndarray) -> np.ndarray:
        """Physical parameters (``p1..p5`` or ``p0..p3``) from internal ``theta``."""
        c = (self._M @ np.asarray(theta, dtype=float)) * self._sign
        c[0] = math.exp(min(c[0], _EXP_MAX))
        return c

    def theta_from_params(self, params: np.ndarray | list[float]) -> np.ndarray:
        """Internal ``theta`` from physical parameters (inverse of :meth:`params_from_theta`)."""
        p = np.asarray(params, dtype=float).copy()
        if p.shape != (self.npar,):
            raise InputError(f"{self.family} with {self.npar} parameters needs {self.npar} values")
        if p[0] <= 0:
            raise InputError("the normalisation parameter must be positive")
        p[0] = math.log(p[0])
        return np.linalg.solve(self._M, p * self._sign)

    def params_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """``d params / d theta`` (for error propagation)."""
        J = self._M * self._sign[:, None]
        J = J.copy()
        J[0] *= self.params_from_theta(theta)[0]
        return J


def _half_deviance(nu: np.ndarray, n: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """-ln L of the extended binned Poisson likelihood minus its saturated value (>= 0)."""
    # on tiny spectra nu can underflow and n / nu overflow: the value is then inf (refused
    # below), not a RuntimeWarning. (n ln(n / nu), not n (ln n - ln nu): the difference of
    # logs loses the precision MIGRAD needs at 1e6 events per bin.)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        nlogn = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)
        val = np.where(mask, nu - n + nlogn, 0.0)
    out = val.sum(-1)
    return np.where(np.all(nu[..., mask] > 0, axis=-1), out, np.inf)


def _inv_spd(a: np.ndarray) -> np.ndarray:
    """Inverse of a stack of SPD matrices, Jacobi-preconditioned (parameter scales differ)."""
    d = np.sqrt(np.abs(np.diagonal(a, axis1=-2, axis2=-1)))
    d = np.where(d > 0, d, 1.0)
    dd = d[..., :, None] * d[..., None, :]
    try:
        inv = np.linalg.inv(a / dd)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(a / dd)
    return inv / dd


def _fisher_scoring(
    fn: Any,
    n: np.ndarray,
    mask: np.ndarray,
    theta0: np.ndarray,
    max_iter: int = 40,
    tol: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batched Poisson maximum likelihood by Fisher scoring with per-toy step halving.

    ``fn(theta (T,p)) -> (nu (T,b), J (T,b,p))``. Returns ``theta``, ``converged``, the inverse
    Fisher information (covariance) and the half-deviance at the minimum, all per toy.
    """
    theta = np.array(theta0, dtype=float, copy=True)
    T, p = theta.shape
    w = mask.astype(float)
    nu, J = fn(theta)
    obj = _half_deviance(nu, n, mask)
    converged = np.zeros(T, dtype=bool)
    cov = np.full((T, p, p), np.nan)
    act = np.flatnonzero(np.isfinite(obj))
    for _ in range(max_iter):
        if act.size == 0:
            break
        nu_a, J_a, n_a = np.maximum(nu[act], _NU_MIN), J[act], n[act]
        g = np.einsum("tb,tbp->tp", w * (n_a / nu_a - 1.0), J_a)
        info = np.matmul(J_a.transpose(0, 2, 1), J_a * (w / nu_a)[..., None])
        inv = _inv_spd(info)
        step = np.einsum("tpq,tq->tp", inv, g)
        edm = 0.5 * np.einsum("tp,tp->t", g, step)
        done = edm < tol
        converged[act[done]] = True
        cov[act[done]] = inv[done]
        act, step = act[~done], step[~done]
        lam = np.ones(act.size)
        todo = np.arange(act.size)
        for _h in range(12):  # step halving until the objective does not increase
            if todo.size == 0:
                break
            idx = act[todo]
            trial = theta[idx] + lam[todo, None] * step[todo]
            nu_t, J_t = fn(trial)
            obj_t = _half_deviance(nu_t, n[idx], mask)
            ok = obj_t <= obj[idx] + 1e-10 * (1.0 + obj[idx])
            acc = idx[ok]
            theta[acc], nu[acc], J[acc], obj[acc] = trial[ok], nu_t[ok], J_t[ok], obj_t[ok]
            lam[todo[~ok]] *= 0.5
            todo = todo[~ok]
        if todo.size:  # no decrease along the Newton direction: at the numerical minimum
            stuck = act[todo]
            converged[stuck] = True
            nu_s, J_s = np.maximum(nu[stuck], _NU_MIN), J[stuck]
            info = np.matmul(J_s.transpose(0, 2, 1), J_s * (w / nu_s)[..., None])
            cov[stuck] = _inv_spd(info)
            act = np.setdiff1d(act, stuck)
    return theta, converged, cov, obj


@dataclass
class FitResult:
    """Result of a background fit (see :func:`fit_background`).

    ``theta``/``cov`` are the internal pivoted log-space parameters; ``params``/``param_errors``
    the physical ones. ``expected`` covers all bins (masked ones included) and
    ``expected_error`` is its ±1σ fit uncertainty.
    """

    family: str
    npar: int
    sqrt_s: float
    pivot: float
    edges: np.ndarray
    counts: np.ndarray
    fit_mask: np.ndarray
    theta: np.ndarray
    cov: np.ndarray
    params: np.ndarray
    param_errors: np.ndarray
    param_names: tuple[str, ...]
    expected: np.ndarray
    expected_error: np.ndarray
    deviance: float
    pearson_chi2: float
    ndf: int
    p_value: float
    converged: bool
    edm: float
    blind: tuple[float, float] | None = None
    selection: list[dict[str, Any]] = field(default_factory=list)
    #: background model: "function" (``expected`` is the function), "swift", "gp" or "control"
    method: str = "function"
    #: method details (SWiFt window, GP hyperparameters, spurious-signal gate), JSON-ready
    details: dict[str, Any] = field(default_factory=dict)
    #: (nbins, nbins) covariance of ``expected`` for swift/gp (``None``: from ``cov``)
    background_cov: np.ndarray | None = None
    #: method state needed to refit toys (SWiFt window fits, GP smoother); not serialised
    aux: Any = field(default=None, repr=False, compare=False)

    @property
    def model(self) -> BinnedModel:
        """The :class:`BinnedModel` of this fit."""
        return BinnedModel(self.edges, self.family, self.npar, self.sqrt_s, self.pivot)

    @property
    def chi2_ndf(self) -> float:
        """Deviance (likelihood-ratio χ²) per degree of freedom."""
        return self.deviance / self.ndf if self.ndf > 0 else float("nan")

    @property
    def pulls(self) -> np.ndarray:
        """(data - fit) / sqrt(fit) per bin."""
        return (self.counts - self.expected) / np.sqrt(np.maximum(self.expected, 1e-12))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "family": self.family,
            "npar": self.npar,
            "sqrt_s": self.sqrt_s,
            "pivot_x": self.pivot,
            "params": dict(zip(self.param_names, self.params.tolist(), strict=True)),
            "param_errors": dict(zip(self.param_names, self.param_errors.tolist(), strict=True)),
            "theta": self.theta.tolist(),
            "cov_theta": self.cov.tolist(),
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "fit_mask": self.fit_mask.tolist(),
            "expected": self.expected.tolist(),
            "expected_error": self.expected_error.tolist(),
            "deviance": self.deviance,
            "pearson_chi2": self.pearson_chi2,
            "ndf": self.ndf,
            "chi2_ndf": self.chi2_ndf,
            "p_value": self.p_value,
            "converged": self.converged,
            "edm": self.edm,
            "blind": list(self.blind) if self.blind else None,
            "selection": self.selection,
            "method": self.method,
            "details": self.details,
        }


def _fit_mask(edges: np.ndarray, blind: tuple[float, float] | None) -> np.ndarray:
    if blind is None:
        return np.ones(edges.size - 1, dtype=bool)
    lo, hi = blind
    return ~((edges[1:] > lo) & (edges[:-1] < hi))


def _start_theta(model: BinnedModel, n: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Weighted linear least squares of ln(counts / bin width) on the basis (log-linear)."""
    xc = 0.5 * (model.edges[1:] + model.edges[:-1]) / model.sqrt_s
    dx = np.diff(model.edges) / model.sqrt_s
    B = _basis(model.family, model.npar, xc, model.pivot)
    y = np.log(np.maximum(n, 0.5) / dx)
    sw = np.sqrt(np.where(mask, np.maximum(n, 0.5), 0.0))
    return np.linalg.lstsq(B * sw[:, None], y * sw, None)[0]


def _finish(
    model: BinnedModel,
    hist: Histogram,
    mask: np.ndarray,
    theta: np.ndarray,
    cov: np.ndarray,
    converged: bool,
    edm: float,
    blind: tuple[float, float] | None,
) -> FitResult:
    n = hist.counts
    nu, J = model.expected_and_jacobian(theta)
    assert J is not None  # jac=True
    dev = float(2.0 * _half_deviance(nu, n, mask))
    pear = float(np.sum(np.where(mask, (n - nu) ** 2 / nu, 0.0)))
    ndf = int(mask.sum()) - model.npar
    perr = _param_errors(model, theta, cov)
    nu_err = np.sqrt(np.maximum(np.einsum("bp,pq,bq->b", J, cov, J), 0.0))
    return FitResult(
        family=model.family,
        npar=model.npar,
        sqrt_s=model.sqrt_s,
        pivot=model.pivot,
        edges=model.edges.copy(),
        counts=n.copy(),
        fit_mask=mask.copy(),
        theta=theta,
        cov=cov,
        params=model.params_from_theta(theta),
        param_errors=perr,
        param_names=model.param_names,
        expected=nu,
        expected_error=nu_err,
        deviance=dev,
        pearson_chi2=pear,
        ndf=ndf,
        p_value=float(stats.chi2.sf(dev, ndf)) if ndf > 0 else float("nan"),
        converged=converged,
        edm=edm,
        blind=blind,
    )


def _finish_stats(res: FitResult, expected: np.ndarray, error: np.ndarray, ndof: float) -> None:
    """Set ``expected``/``expected_error`` and the goodness of fit of ``res`` (in place).

    ``ndof`` is the (effective) number of fitted degrees of freedom.
    """
    n, mask = res.counts, res.fit_mask
    nu = np.maximum(np.asarray(expected, float), 1e-12)
    res.expected, res.expected_error = nu, np.asarray(error, float)
    res.deviance = float(2.0 * _half_deviance(nu, n, mask))
    res.pearson_chi2 = float(np.sum(np.where(mask, (n - nu) ** 2 / nu, 0.0)))
    res.ndf = round(float(mask.sum()) - ndof)
    res.p_value = float(stats.chi2.sf(res.deviance, res.ndf)) if res.ndf > 0 else float("nan")


def _param_errors(model: BinnedModel, theta: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Errors of the physical parameters; the normalisation's via ``ln p`` (no overflow).

    ``p1 = exp(c0)`` can exceed 1e300 on steep, tiny spectra: propagating through the
    Jacobian scaled by ``p1`` overflowed (RuntimeWarning); ``σ(p1) = p1 σ(c0)`` does not.
    """
    lin = model._M * model._sign[:, None]  # d(c0, p2, ...) / d theta, bounded
    var = np.maximum(np.einsum("ip,pq,iq->i", lin, cov, lin), 0.0)
    err = np.sqrt(var)
    with np.errstate(over="ignore"):
        err[0] = model.params_from_theta(theta)[0] * err[0]
    return err


def _check_hist(hist: Histogram, mask: np.ndarray, npar: int, min_events: int) -> None:
    n = hist.counts
    total = float(n[mask].sum())
    if total < min_events:
        raise FitError(
            f"too few events to fit: {total:.0f} in the fitted bins (need >= {min_events})"
        )
    nonzero = int(np.count_nonzero(n[mask]))
    if nonzero < npar + 1:
        raise FitError(
            f"too few non-empty bins to fit {npar} parameters: {nonzero} (need >= {npar + 1})"
        )


def fit_background(
    hist: Histogram, config: FitConfig | None = None, npar: int | None = None
) -> FitResult:
    """Fit ``hist`` with a fixed number of parameters (``npar`` or ``config.npar``, else 4).

    Parameters
    ----------
    hist : Histogram
        Observed counts.
    config : FitConfig
    npar : int, optional
        Overrides ``config.npar``.

    Returns
    -------
    FitResult

    Raises
    ------
    FitError
        Too few events / non-empty bins, or MIGRAD/HESSE did not converge.
    """
    from iminuit import Minuit

    cfg = config or FitConfig()
    k = npar if npar is not None else (cfg.npar if cfg.npar is not None else 4)
    model = BinnedModel(hist.edges, cfg.family, k, cfg.sqrt_s)
    mask = _fit_mask(hist.edges, cfg.blind)
    if mask.sum() <= k:
        why = " after blinding" if cfg.blind else ""
        raise FitError(f"only {int(mask.sum())} bins to fit{why} for {k} parameters (need > {k})")
    _check_hist(hist, mask, k, cfg.min_events)
    n = hist.counts
    fn = model.expected_and_jacobian
    # polish the linear start with batched Fisher scoring, then MIGRAD + HESSE in whitened
    # coordinates phi = L^T (theta - theta0), I = L L^T: the dijet parameters are ~0.999
    # correlated over a TeV-wide range, which defeats MIGRAD/HESSE's numerical steps in theta.
    theta0, _, cov0, _ = _fisher_scoring(fn, n[None], mask, _start_theta(model, n, mask)[None])
    theta0, cov0 = theta0[0], cov0[0]
    if not np.all(np.isfinite(cov0)):
        raise FitError(f"{cfg.family} fit with {k} parameters: singular information matrix")
    try:
        U = np.linalg.cholesky(cov0)  # cov0 = U U^T, theta = theta0 + U phi
    except np.linalg.LinAlgError:
        raise FitError(f"{cfg.family} fit with {k} parameters: degenerate parameters") from None

    def cost(phi: np.ndarray) -> float:
        nu = model.expected(theta0 + U @ phi)
        return float(_half_deviance(nu, n, mask))

    def grad(phi: np.ndarray) -> np.ndarray:
        nu, J = fn(theta0 + U @ phi)
        assert J is not None  # jac=True
        g = -np.einsum("b,bp->p", np.where(mask, n / nu - 1.0, 0.0), J)
        return U.T @ g

    m = Minuit(cost, np.zeros(k), grad=grad, name=[f"phi{i}" for i in range(k)])
    m.errordef = Minuit.LIKELIHOOD
    m.errors = np.ones(k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.migrad(ncall=20000)
        if m.valid:
            m.hesse()
    fmin = m.fmin
    if not m.valid or fmin is None or not m.accurate:
        why = "covariance not accurate"
        if fmin is not None and fmin.has_reached_call_limit:
            why = "call limit reached"
        elif fmin is not None and fmin.is_above_max_edm:
            why = "EDM above maximum"
        raise FitError(f"{cfg.family} fit with {k} parameters did not converge ({why})")
    theta = theta0 + U @ np.array(m.values)
    cov = U @ np.array(m.covariance) @ U.T
    return _finish(model, hist, mask, theta, cov, True, float(fmin.edm), cfg.blind)


def fit_background_fast(hist: Histogram, config: FitConfig, npar: int) -> FitResult:
    """:func:`fit_background` by Fisher scoring only (no MIGRAD/HESSE), for many small fits.

    Used for the SWiFt windows (one fit per mass). The minimum and the covariance (inverse
    expected information) are those of :func:`fit_background` within its tolerance; falls
    back to it when the scoring does not converge.
    """
    model = BinnedModel(hist.edges, config.family, npar, config.sqrt_s)
    mask = _fit_mask(hist.edges, config.blind)
    if mask.sum() <= npar:
        return fit_background(hist, config, npar=npar)  # raises the FitError
    _check_hist(hist, mask, npar, config.min_events)
    n = hist.counts
    theta, ok, cov, _ = _fisher_scoring(
        model.expected_and_jacobian, n[None], mask, _start_theta(model, n, mask)[None]
    )
    if not ok[0] or not np.all(np.isfinite(cov[0])):
        return fit_background(hist, config, npar=npar)
    return _finish(model, hist, mask, theta[0], cov[0], True, 0.0, config.blind)


def _refit_function(
    fit: FitResult, counts: np.ndarray, max_iter: int = 40
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    model = fit.model
    n = np.asarray(counts, dtype=float)
    theta0 = np.broadcast_to(fit.theta, (n.shape[0], fit.npar))
    theta, ok, _, _ = _fisher_scoring(
        model.expected_and_jacobian, n, fit.fit_mask, theta0, max_iter=max_iter
    )
    return theta, model.expected(theta), ok


def gaussian_template(edges: np.ndarray, mass: float, sigma: float) -> np.ndarray:
    """Fraction of a Gaussian(mass, sigma) falling in each bin (sums to <= 1).

    Examples
    --------
    >>> t = gaussian_template(np.array([0.0, 1.0, 2.0, 3.0]), 1.5, 0.2)
    >>> [round(float(v), 4) for v in t]
    [0.0062, 0.9876, 0.0062]
    """
    z = (np.asarray(edges, dtype=float) - mass) / (sigma * math.sqrt(2.0))
    return 0.5 * np.diff(special.erf(z))


@dataclass
class SpuriousSignalResult:
    """Signal fitted on background-only toys at one mass.

    ``ratio = mean(s_hat) / mean(sigma_s)``; the background model passes when
    ``|ratio| < threshold`` (0.5 by default, the usual "spurious signal below half the
    statistical uncertainty" rule).
    """

    mass: float
    sigma: float
    n_toys: int
    mean_signal: float
    std_signal: float
    mean_signal_error: float
    ratio: float
    threshold: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


@dataclass
class SpuriousSignalConfig:
    """Options of the spurious-signal test (:func:`spurious_signal_tests`).

    Attributes
    ----------
    masses : list of float
        Test masses in GeV (none: no test).
    resolution : float
        Width of the Gaussian signal relative to its mass.
    n_toys : int
        Background-only toys per mass.
    seed : int
        Seed of the toys of the first mass; mass ``i`` uses ``seed + i``.
    threshold : float
        The test passes when ``|mean(s_hat) / mean(sigma_s)| < threshold``.

    Examples
    --------
    >>> SpuriousSignalConfig().n_toys
    500
    """

    masses: list[float] = field(default_factory=list)
    resolution: float = 0.05
    n_toys: int = 500
    seed: int = 0
    threshold: float = 0.5

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values."""
        if not 0 < self.resolution < 1:
            raise ConfigError("spurious.resolution: must be in (0, 1)")
        if self.n_toys < 2:
            raise ConfigError("spurious.n_toys: must be >= 2")
        if not self.threshold > 0:
            raise ConfigError("spurious.threshold: must be > 0")


def spurious_signal_tests(
    fit: FitResult, cfg: SpuriousSignalConfig | None = None
) -> list[SpuriousSignalResult]:
    """:func:`spurious_signal` at every mass of ``cfg`` (mass ``i`` seeded ``cfg.seed + i``)."""
    cfg = SpuriousSignalConfig() if cfg is None else cfg
    return [
        spurious_signal(fit, m, cfg.resolution, n_toys=cfg.n_toys, seed=cfg.seed + i,
                        threshold=cfg.threshold)
        for i, m in enumerate(cfg.masses)
    ]  # fmt: skip


def spurious_signal(
    fit: FitResult,
    mass: float,
    resolution: float = SpuriousSignalConfig.resolution,
    n_toys: int = SpuriousSignalConfig.n_toys,
    seed: int | np.random.Generator = SpuriousSignalConfig.seed,
    threshold: float = SpuriousSignalConfig.threshold,
) -> SpuriousSignalResult:
    """Spurious-signal test: fit background + Gaussian signal to background-only toys.

    Toys are Poisson fluctuations of ``fit.expected``; each is fitted (all bins, unblinded)
    with the background function plus a free (possibly negative) signal yield of a Gaussian at
    ``mass`` with width ``resolution * mass``.
    """
    rng = np.random.default_rng(seed)
    model = fit.model
    tmpl = gaussian_template(fit.edges, mass, resolution * mass)
    if tmpl.sum() < 1e-3:
        raise InputError(f"test mass {mass:g} GeV is outside the fitted range")
    toys = rng.poisson(fit.expected, size=(n_toys, fit.expected.size)).astype(float)
    mask = np.ones(fit.edges.size - 1, dtype=bool)

    def fn(par: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nu, J = model.expected_and_jacobian(par[:, :-1])
        nu = nu + par[:, -1:] * tmpl
        J = np.concatenate([J, np.broadcast_to(tmpl[None, :, None], (*nu.shape, 1))], axis=-1)
        return nu, J

    start = np.concatenate([fit.theta, [0.0]])
    par, ok, cov, _ = _fisher_scoring(
        fn, toys, mask, np.broadcast_to(start, (n_toys, fit.npar + 1))
    )
    if ok.sum() < 0.9 * n_toys:
        raise FitError(f"spurious-signal fits failed on {n_toys - int(ok.sum())} of {n_toys} toys")
    s, err = par[ok, -1], np.sqrt(cov[ok, -1, -1])
    ratio = float(s.mean() / err.mean())
    return SpuriousSignalResult(
        mass=float(mass),
        sigma=float(resolution * mass),
        n_toys=int(ok.sum()),
        mean_signal=float(s.mean()),
        std_signal=float(s.std(ddof=1)),
        mean_signal_error=float(err.mean()),
        ratio=ratio,
        threshold=threshold,
        passed=bool(abs(ratio) < threshold),
    )


def sample_mjj(
    model: BinnedModel, theta: np.ndarray, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """Draw an unbinned mjj sample (GeV) from the model: Poisson total, inverse-CDF in mjj.

    Examples
    --------
    >>> from adsearch.stats.binning import log_bins
    >>> m = BinnedModel(log_bins(2500.0, 6000.0, 0.05), "dijet", 3)
    >>> x = sample_mjj(m, m.theta_from_params([1e3, 10.0, -5.0]), seed=0)
    >>> bool(x.min() >= 2500.0 and x.max() <= 6000.0)
    True
    """
    rng = np.random.default_rng(seed)
    grid = np.linspace(model.edges[0], model.edges[-1], 4097)
    dens = model.density(grid, theta)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    total = float(model.expected(theta).sum())
    n = rng.poisson(total)
    return np.interp(rng.random(n) * cdf[-1], cdf, grid)
