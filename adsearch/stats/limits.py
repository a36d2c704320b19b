"""CLs upper limits and discovery significance with pyhf.

The pyhf model has one channel (the mjj bins of the fit) with two samples:

- ``signal``: a template (a Gaussian at the test mass with width ``resolution * mass``, or the
  normalised mjj histogram of a generated signal sample) scaled to ``n_ref`` events, with the
  normfactor ``mu``;
- ``background``: the fitted background, with its fit uncertainty as one ``histosys`` modifier
  per eigenvector of the fit covariance (``theta ± sqrt(λ_k) v_k``); for the SWiFt and GP
  backgrounds (``fit.background_cov``), per leading eigenvector of the covariance of the
  expected counts (``npar + 2`` of them by default). A known bias of the background in a mjj
  window (a score cut's sculpting of the signal region, measured on background-only
  simulation) enters as a per-bin ``scale`` of the background and its ``uncertainty`` as one
  more ``histosys`` (``sr_bias``: the background times ``1 ± uncertainty`` in those bins), the
  same correction BumpHunter applies (:class:`~adsearch.stats.bumphunter.BumpHunterConfig`).

Limits use :func:`pyhf.infer.intervals.upper_limits.upper_limit` (asymptotic ``q̃μ``, CLs) with
the Minuit optimizer, set locally and restored afterwards; discovery uses ``q0``. Limits are
reported on ``mu`` and on the number of signal events ``mu * n_ref``.

Examples
--------
>>> spec = counting_spec(n_obs=10, background=10.0, signal=5.0)
>>> res = cls_limit(spec)
>>> round(res.observed, 2), bool(res.expected[0] < res.expected[2] < res.expected[4])
(1.51, True)
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import stats

from adsearch.errors import ConfigError, FitError, InputError
from adsearch.io.jsonfile import write_json
from adsearch.stats.fit import gaussian_template

__all__ = [
    "LimitConfig",
    "LimitResult",
    "MassLimit",
    "cls_limit",
    "counting_spec",
    "discovery",
    "fit_spec",
    "limits_for_fit",
    "minuit_backend",
    "scan_masses",
]


@dataclass
class LimitConfig:
    """Options of the limit computation.

    Attributes
    ----------
    masses : list of float
        Test masses in GeV.
    resolution : float
        Relative mjj resolution ``σ/m`` of the Gaussian signal template.
    cl : float
        Confidence level of the upper limits.
    test_stat : {"qtilde", "q"}
    n_eigen : int or None
        Keep the largest ``n_eigen`` eigenvectors of the fit covariance (``None``: all).
    rtol : float
        Relative tolerance of the limit root finding.
    engine : {"pyhf", "asymptotic"}
        ``"pyhf"``: pyhf with Minuit; ``"asymptotic"``: the same model and asymptotic
        formulae in numpy (:mod:`adsearch.stats.asymptotic`, ~100× faster; for scans every
        ~100 GeV, see :func:`scan_masses`). The pyhf workspaces are written either way.
    scan_step : float or None
        When set, the pipeline tests masses every ``scan_step`` GeV inside its mjj range
        (:meth:`adsearch.stats.config.StatsConfig.limit_masses`) instead of ``masses``.
    """

    masses: list[float] = field(default_factory=lambda: [3000.0, 3500.0, 4000.0, 4500.0, 5000.0])
    resolution: float = 0.05
    cl: float = 0.95
    test_stat: Literal["qtilde", "q"] = "qtilde"
    n_eigen: int | None = None
    rtol: float = 1e-2
    engine: Literal["pyhf", "asymptotic"] = "pyhf"
    scan_step: float | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` for bad values."""
        if not self.masses or any(m <= 0 for m in self.masses):
            raise ConfigError("limits.masses: need a list of positive masses (GeV)")
        if not 0 < self.resolution < 1:
            raise ConfigError("limits.resolution: must be in (0, 1)")
        if not 0 < self.cl < 1:
            raise ConfigError("limits.cl: must be in (0, 1)")
        if self.test_stat not in ("qtilde", "q"):
            raise ConfigError("limits.test_stat: qtilde or q")
        if self.scan_step is not None and not self.scan_step > 0:
            raise ConfigError(f"limits.scan_step: must be > 0 GeV, got {self.scan_step}")
        if self.engine not in ("pyhf", "asymptotic"):
            raise ConfigError("limits.engine: pyhf or asymptotic")
        if self.n_eigen is not None and self.n_eigen < 0:
            raise ConfigError("limits.n_eigen: must be >= 0")

    def __post_init__(self) -> None:
        self.masses = [float(m) for m in self.masses]
        self.validate()


@contextlib.contextmanager
def minuit_backend(minuit: bool = True) -> Iterator[Any]:
    """Use pyhf's numpy backend with the Minuit optimizer inside the block, then restore.

    ``minuit=False`` selects SciPy instead: pyhf 0.7's Minuit wrapper fails on models whose
    only parameter is the POI (the fixed-POI fit has no free parameter, so no covariance).

    Examples
    --------
    >>> import pyhf
    >>> before = pyhf.get_backend()[1].name
    >>> with minuit_backend() as pyhf_:
    ...     pyhf_.get_backend()[1].name
    'minuit'
    >>> pyhf.get_backend()[1].name == before
    True
    """
    import pyhf

    old = pyhf.get_backend()
    if minuit:  # strategy 0: same limits (checked) in ~2/3 of the time of strategy 1
        opt = pyhf.optimize.minuit_optimizer(tolerance=0.1, strategy=0)
    else:
        opt = pyhf.optimize.scipy_optimizer()
    pyhf.set_backend("numpy", opt)
    try:
        yield pyhf
    finally:
        pyhf.set_backend(*old)


def _spec(
    observed: np.ndarray,
    background: np.ndarray,
    signal: np.ndarray,
    histosys: list[tuple[np.ndarray, np.ndarray]] | None = None,
    poi_max: float = 20.0,
    named: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Any]:
    mods = [(f"bkgfit_eig{k}", hl) for k, hl in enumerate(histosys or [])]
    bkg_mods: list[dict[str, Any]] = [
        {
            "name": name,
            "type": "histosys",
            "data": {"hi_data": np.asarray(hi).tolist(), "lo_data": np.asarray(lo).tolist()},
        }
        for name, (hi, lo) in mods + list((named or {}).items())
    ]
    return {
        "version": "1.0.0",
        "channels": [
            {
                "name": "mjj",
                "samples": [
                    {
                        "name": "signal",
                        "data": np.asarray(signal, float).tolist(),
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {
                        "name": "background",
                        "data": np.asarray(background, float).tolist(),
                        "modifiers": bkg_mods,
                    },
                ],
            }
        ],
        "observations": [{"name": "mjj", "data": np.asarray(observed, float).tolist()}],
        "measurements": [
            {
                "name": "search",
                "config": {
                    "poi": "mu",
                    "parameters": [{"name": "mu", "bounds": [[0.0, float(poi_max)]]}],
                },
            }
        ],
    }


def counting_spec(n_obs: float, background: float, signal: float) -> dict[str, Any]:
    """pyhf workspace spec of a one-bin counting experiment without uncertainties."""
    return _spec(np.array([n_obs]), np.array([background]), np.array([signal]))


def _has_nuisance(spec: dict[str, Any]) -> bool:
    mods = [
        m
        for c in spec.get("channels", [])
        for s in c.get("samples", [])
        for m in s.get("modifiers", [])
    ]
    return any(m.get("type") != "normfactor" for m in mods)


@dataclass
class MassLimit:
    """Limits at one test mass (``observed``/``expected`` on ``mu``; ``n_ref`` events at mu=1).

    ``expected`` is ``[-2σ, -1σ, median, +1σ, +2σ]``.
    """

    mass: float
    observed: float
    expected: list[float]
    n_ref: float = 1.0
    p0: float = float("nan")
    z0: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with limits also in signal events."""
        return {
            "mass": self.mass,
            "n_ref": self.n_ref,
            "mu_observed": self.observed,
            "mu_expected": self.expected,
            "events_observed": self.observed * self.n_ref,
            "events_expected": [e * self.n_ref for e in self.expected],
            "p0": self.p0,
            "z0": self.z0,
        }


def cls_limit(
    spec: dict[str, Any], cl: float = 0.95, test_stat: str = "qtilde", rtol: float = 1e-2
) -> MassLimit:
    """Observed and expected CLs upper limits on ``mu`` for a workspace ``spec`` (asymptotic)."""
    with minuit_backend(_has_nuisance(spec)) as pyhf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyhf's schema validator: jsonschema deprecations
        try:
            ws = pyhf.Workspace(spec)
        except pyhf.exceptions.InvalidSpecification as e:
            raise InputError(f"invalid pyhf workspace: {str(e).splitlines()[0]}") from None
        model = ws.model()
        data = ws.data(model)
        try:
            obs, exp = pyhf.infer.intervals.upper_limits.upper_limit(
                data, model, level=1.0 - cl, test_stat=test_stat, rtol=rtol
            )
        except (ValueError, RuntimeError, pyhf.exceptions.FailedMinimization) as e:
            raise FitError(f"CLs limit failed: {str(e).splitlines()[0]}") from None
    return MassLimit(float("nan"), float(obs), [float(e) for e in exp])


def discovery(spec: dict[str, Any]) -> tuple[float, float]:
    """Discovery p-value ``p0`` (q0, asymptotic) and its significance ``Z``."""
    with minuit_backend(_has_nuisance(spec)) as pyhf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = (ws := pyhf.Workspace(spec)).model()
        try:
            p0 = float(pyhf.infer.hypotest(0.0, ws.data(model), model, test_stat="q0"))
        except (ValueError, RuntimeError, pyhf.exceptions.FailedMinimization) as e:
            raise FitError(f"discovery fit failed: {str(e).splitlines()[0]}") from None
    return p0, max(float(stats.norm.isf(p0)), 0.0)


def _bin_array(v: np.ndarray | None, n: int, what: str, default: float) -> np.ndarray:
    if v is None:
        return np.full(n, default)
    a = np.asarray(v, dtype=float)
    if a.shape != (n,) or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InputError(f"background {what}: need {n} finite non-negative values, one per bin")
    return a


def fit_spec(
    fit: Any,
    template: np.ndarray,
    n_eigen: int | None = None,
    scale: np.ndarray | None = None,
    uncertainty: np.ndarray | None = None,
) -> tuple[dict[str, Any], float]:
    """pyhf spec of ``fit`` (a :class:`~adsearch.stats.fit.FitResult`) and a signal ``template``.

    ``template`` is the signal fraction per bin. It is scaled to ``n_ref`` events, chosen so
    that ``mu ~ 1`` near the expected limit; returns ``(spec, n_ref)``. ``scale`` (per bin,
    default 1) multiplies the fitted background and its fit variations; ``uncertainty`` (per
    bin, relative, fully correlated) adds the ``sr_bias`` histosys ``b × (1 ± uncertainty)``.

    Examples
    --------
    >>> from adsearch.stats.binning import Histogram, log_bins
    >>> from adsearch.stats.fit import FitConfig, fit_background
    >>> e = log_bins(2800.0, 6000.0)
    >>> fit = fit_background(Histogram(e, np.round(1e4 * (e[:-1] / 2800.0) ** -8)), FitConfig())
    >>> t = gaussian_template(e, 3500.0, 175.0)
    >>> sr = np.where((e[:-1] >= 3300.0) & (e[1:] <= 3700.0), 1.0, 0.0)
    >>> spec, _ = fit_spec(fit, t, scale=1 + 0.05 * sr, uncertainty=0.02 * sr)
    >>> [m["name"] for m in spec["channels"][0]["samples"][1]["modifiers"]][-1]
    'sr_bias'
    """
    t = np.asarray(template, dtype=float)
    if t.shape != fit.expected.shape or np.any(t < 0) or not np.all(np.isfinite(t)):
        raise InputError("signal template must be non-negative with one value per bin")
    if t.sum() < 1e-3:
        raise InputError("signal template has no weight inside the fitted mjj range")
    k_b = _bin_array(scale, t.size, "scale", 1.0)
    u_b = _bin_array(uncertainty, t.size, "uncertainty", 0.0)
    b = fit.expected * k_b
    named = {}
    if np.any(u_b > 0):
        named["sr_bias"] = (b * (1.0 + u_b), np.maximum(b * (1.0 - u_b), 1e-6))
    b_eff = t.sum() ** 2 / np.sum(t**2 / np.maximum(b, 1e-9))  # background of the optimal sum
    n_ref = (2.0 * math.sqrt(b_eff) + 3.0) / t.sum()
    histosys = []
    bcov = getattr(fit, "background_cov", None)
    if bcov is None and getattr(fit, "method", "function") == "swift":
        from adsearch.stats.swift import swift_background_cov

        bcov = fit.background_cov = swift_background_cov(fit)
    if bcov is not None:  # swift / gp / control: eigenvectors of the background covariance
        lam, vec = np.linalg.eigh(0.5 * (bcov + bcov.T))
        # (the control method's covariance also holds the failing events' Poisson noise, one
        # term per bin: only its leading directions enter; keeping all 16+ made the limit
        # scan 5x slower for a ~5 % effect on the background error at a 10 % cut)
        order = np.argsort(lam)[::-1][: (fit.npar + 2 if n_eigen is None else n_eigen)]
        for k in order:
            d = math.sqrt(max(lam[k], 0.0)) * vec[:, k] * k_b
            histosys.append((np.maximum(b + d, 1e-6), np.maximum(b - d, 1e-6)))
        return _spec(fit.counts, b, n_ref * t, histosys, named=named), float(n_ref)
    lam, vec = np.linalg.eigh(fit.cov)
    order = np.argsort(lam)[::-1][: (fit.npar if n_eigen is None else n_eigen)]
    model = fit.model
    for k in order:
        d = math.sqrt(max(lam[k], 0.0)) * vec[:, k]
        histosys.append((k_b * model.expected(fit.theta + d), k_b * model.expected(fit.theta - d)))
    return _spec(fit.counts, b, n_ref * t, histosys, named=named), float(n_ref)


def _spec_arrays(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """``(observed, background, signal, histosys)`` of a :func:`fit_spec` workspace."""
    ch = spec["channels"][0]
    samples = {smp["name"]: smp for smp in ch["samples"]}
    hs = [
        (np.asarray(m["data"]["hi_data"]), np.asarray(m["data"]["lo_data"]))
        for m in samples["background"]["modifiers"]
        if m["type"] == "histosys"
    ]
    return (
        np.asarray(spec["observations"][0]["data"], float),
        np.asarray(samples["background"]["data"], float),
        np.asarray(samples["signal"]["data"], float),
        hs,
    )


def scan_masses(lo: float, hi: float, resolution: float = 0.05, step: float = 100.0) -> list[float]:
    """Test masses every ``step`` GeV (~ the mass resolution) inside ``[lo, hi]``.

    See :func:`adsearch.stats.spurious.scan_masses`; use with ``LimitConfig(masses=...,
    engine="asymptotic")`` for a smooth Brazil plot.

    Examples
    --------
    >>> scan_masses(2800.0, 6000.0)[:2]
    [3100.0, 3200.0]
    """
    from adsearch.stats.spurious import scan_masses as _scan

    return _scan(lo, hi, resolution, step)


@dataclass
class LimitResult:
    """Limits at every test mass (Brazil band) plus the workspaces used."""

    limits: list[MassLimit]
    cl: float
    resolution: float
    signal: str
    workspaces: dict[float, dict[str, Any]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (workspaces are written separately)."""
        return {
            "cl": self.cl,
            "resolution": self.resolution,
            "signal": self.signal,
            "limits": [m.to_dict() for m in self.limits],
        }

    def write_workspaces(self, directory: str | Path) -> list[Path]:
        """Write one pyhf JSON workspace per mass (``workspace_m<mass>.json``), atomically."""

        return [
            write_json(Path(directory) / f"workspace_m{m:.0f}.json", spec)
            for m, spec in self.workspaces.items()
        ]


def limits_for_fit(
    fit: Any,
    config: LimitConfig | None = None,
    signal_mjj: np.ndarray | None = None,
    with_discovery: bool = True,
    scale: np.ndarray | None = None,
    uncertainty: np.ndarray | None = None,
) -> LimitResult:
    """CLs limits (and discovery p0) at every test mass of ``config`` for a background fit.

    Parameters
    ----------
    fit : FitResult
    config : LimitConfig
    signal_mjj : array, optional
        mjj of a generated signal sample; its normalised histogram is the template (used for
        every test mass, shifted by ``mass / median(signal_mjj)``). Default: Gaussian templates.
    scale, uncertainty : array, optional
        Per-bin factor on the fitted background and its relative, fully correlated
        uncertainty (a known bias of a mjj window: ``BumpHunterConfig.bin_scale`` /
        ``bin_uncertainty``); see :func:`fit_spec`.
    """

    cfg = config or LimitConfig()
    lo, hi = float(fit.edges[0]), float(fit.edges[-1])
    for mass in cfg.masses:
        if not lo < mass < hi:
            raise InputError(f"test mass {mass:g} GeV outside the fitted range {lo:g}-{hi:g}")
    if signal_mjj is not None and (np.size(signal_mjj) == 0 or np.median(signal_mjj) <= 0):
        raise InputError("the signal sample is empty or has non-positive mjj")
    out, specs = [], {}
    for mass in cfg.masses:
        if signal_mjj is None:
            tmpl = gaussian_template(fit.edges, mass, cfg.resolution * mass)
        else:
            s = np.asarray(signal_mjj, float) * (mass / float(np.median(signal_mjj)))
            tmpl = np.histogram(s, bins=fit.edges)[0] / s.size
        spec, n_ref = fit_spec(fit, tmpl, cfg.n_eigen, scale, uncertainty)
        if cfg.engine == "asymptotic":
            from adsearch.stats.asymptotic import cls_limits, discovery_p0

            arrays = _spec_arrays(spec)
            r = cls_limits(*arrays, cl=cfg.cl)
            lim = MassLimit(float(mass), r["observed"], r["expected"], n_ref)
            if with_discovery:
                lim.p0, lim.z0 = discovery_p0(*arrays)
        else:
            lim = cls_limit(spec, cfg.cl, cfg.test_stat, cfg.rtol)
            lim.mass, lim.n_ref = float(mass), n_ref
            if with_discovery:
                lim.p0, lim.z0 = discovery(spec)
        out.append(lim)
        specs[float(mass)] = spec
    return LimitResult(
        out, cfg.cl, cfg.resolution, "gaussian" if signal_mjj is None else "sample", specs
    )
