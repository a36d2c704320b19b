"""CWoLa hunting over mass hypotheses: slide the signal region, classify, cut, fit, test.

CWoLa hunting (Collins, Howe, Nachman, "Anomaly detection for resonant new physics with
machine learning", PRL 121, 241803; "Extending the search for new resonances with machine
learning", PRD 99, 014038) does not assume where the resonance is. For every mass hypothesis
a window of ``window_bins`` mjj bins is the signal region and ``sideband_bins`` bins on each
side are its sidebands; a k-fold classifier ensemble learns signal region vs sidebands
(:func:`adsearch.weak.cwola`, out-of-fold scores), the events of the whole spectrum whose
score passes the threshold keeping a fraction ``ε`` of the events *outside* the window are
selected, the selected spectrum is fitted with the dijet function with the window blinded,
and the observed count in the window is compared with the fit's prediction. The local
significance includes the fit's uncertainty on the prediction (Cowan's formula for a
Poisson count with an uncertain background).

The global significance over the hypotheses is given by the Šidák correction over the
number of independent windows (hypotheses × step / window width): an approximation that
assumes independent, calibrated local p-values; calibrate it with background-only samples
(``benchmarks/bench_hunt.py`` with ``--keep-signal 0``).

Examples
--------
>>> edges = np.geomspace(2800.0, 6000.0, 17)
>>> hypotheses(edges, HuntConfig(window_bins=2, step_bins=2, sideband_bins=2))[:2]
[(2, 4), (4, 6)]
>>> round(significance(130.0, 100.0, 0.0), 2), round(significance(130.0, 100.0, 10.0), 2)
(2.87, 1.98)
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special, stats

from adsearch.errors import ConfigError, FitError, InputError
from adsearch.io.atomic import atomic_path
from adsearch.io.jsonfile import write_json
from adsearch.stats.binning import histogram, log_bins
from adsearch.stats.fit import FitConfig, fit_background
from adsearch.stats.metrics import roc_auc
from adsearch.weak.config import WeakConfig
from adsearch.weak.methods import cwola, regions

__all__ = ["HuntConfig", "HuntResult", "cwola_hunt", "hunt_markdown", "hypotheses", "significance"]


@dataclass
class HuntConfig:
    """Options of :func:`cwola_hunt`.

    Attributes
    ----------
    mjj_range : ``(lo, hi)`` GeV of the fitted spectrum.
    bin_width : relative width of the log-spaced mjj bins (the mass resolution, ~5 %).
    window_bins : bins of each signal-region hypothesis (2 bins of 5 %: ~10 % of the mass).
    step_bins : bins between consecutive hypotheses.
    sideband_bins : bins on each side of the window used as the classifier's sidebands
        (CWoLa hunting's adjacent sidebands); the window and its lower sideband must lie in
        ``mjj_range``, the upper sideband may extend above it only if the data do.
    efficiencies : fractions of the events outside the window kept by the score cut.
    npar : parameters of the dijet function fitted to each cut spectrum (4: the choice that
        stayed calibrated after score cuts in this package's null studies).
    """

    mjj_range: tuple[float, float] = (2800.0, 6000.0)
    bin_width: float = 0.05
    window_bins: int = 2
    step_bins: int = 1
    sideband_bins: int = 2
    efficiencies: tuple[float, ...] = (0.1, 0.01)
    npar: int = 4

    def __post_init__(self) -> None:
        self.mjj_range = (float(self.mjj_range[0]), float(self.mjj_range[1]))
        self.efficiencies = tuple(float(e) for e in self.efficiencies)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        lo, hi = self.mjj_range
        if not 0 < lo < hi:
            raise ConfigError(f"hunt:mjj_range: need 0 < lo < hi, got {lo}, {hi}")
        if not 0 < self.bin_width < 1:
            raise ConfigError(f"hunt:bin_width: must be in (0, 1), got {self.bin_width}")
        for name in ("window_bins", "step_bins", "sideband_bins"):
            if getattr(self, name) < 1:
                raise ConfigError(f"hunt:{name}: must be >= 1, got {getattr(self, name)}")
        if not self.efficiencies or not all(0 < e < 1 for e in self.efficiencies):
            raise ConfigError(f"hunt:efficiencies: need values in (0, 1), got {self.efficiencies}")
        if not 3 <= self.npar <= 5:
            raise ConfigError(f"hunt:npar: the dijet function takes 3..5, got {self.npar}")


def hypotheses(edges: np.ndarray, config: HuntConfig) -> list[tuple[int, int]]:
    """Bin ranges ``(i0, i1)`` of the windows: ``step_bins`` apart, each with
    ``sideband_bins`` bins of the spectrum on both sides."""
    n = len(edges) - 1
    s, w = config.sideband_bins, config.window_bins
    return [(i, i + w) for i in range(s, n - w - s + 1, config.step_bins)]


def significance(n: float, b: float, sigma_b: float) -> float:
    """Signed local significance of ``n`` observed events over ``b ± sigma_b`` expected.

    The profile-likelihood significance of a Poisson count with a Gaussian-constrained
    background (G. Cowan, "Discovery sensitivity for a counting experiment with background
    uncertainty", 2012), evaluated at the observed ``n``; ``sigma_b = 0`` gives
    ``sqrt(2 (n ln(n/b) - n + b))``. Negative for a deficit.
    """
    if b <= 0:
        raise InputError(f"significance: expected background must be positive, got {b}")
    if sigma_b <= 0:
        q = 2.0 * (special.xlogy(n, n / b) - n + b)
    else:
        s2 = sigma_b * sigma_b
        q = 2.0 * (
            special.xlogy(n, n * (b + s2) / (b * b + n * s2))
            - (b * b / s2) * np.log1p(s2 * (n - b) / (b * (b + s2)))
        )
    return float(np.sign(n - b) * np.sqrt(max(q, 0.0)))


@dataclass
class HuntResult:
    """Per-hypothesis results of :func:`cwola_hunt`.

    Attributes
    ----------
    edges : bin edges of the spectra (GeV).
    rows : one dict per hypothesis: ``window`` (GeV), ``n_signal_region``, ``n_sidebands``,
        ``auc_sr_vs_sb`` (out-of-fold; 0.5 without signal), and per efficiency
        (``cuts[eps]``) ``observed``, ``expected``, ``expected_error``, ``z_local``,
        ``fit_p`` (the fit's goodness of fit) or ``error`` when the fit failed.
    scores : the out-of-fold scores of every event, per hypothesis (``(n_hyp, n)``).
    config : the hunt's configuration; info : timings.
    """

    edges: np.ndarray
    rows: list[dict[str, Any]]
    scores: np.ndarray
    config: HuntConfig
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_independent(self) -> float:
        """Independent windows of the scan (hypotheses × step / window width, ≥ 1)."""
        c = self.config
        return max(1.0, len(self.rows) * c.step_bins / c.window_bins)

    def best(self, eps: float) -> dict[str, Any]:
        """The hypothesis with the largest local Z at efficiency ``eps``, with its Šidák
        global p-value and Z over :attr:`n_independent` windows."""
        key = f"{eps:g}"
        ok = [r for r in self.rows if r["cuts"][key].get("z_local") is not None]
        if not ok:
            return {"efficiency": eps, "window": None}
        r = max(ok, key=lambda r: r["cuts"][key]["z_local"])
        z = r["cuts"][key]["z_local"]
        p_local = float(stats.norm.sf(z))
        p_global = float(-np.expm1(self.n_independent * np.log1p(-p_local))) if p_local < 1 else 1.0
        return {
            "efficiency": eps,
            "window": r["window"],
            "z_local": z,
            "p_local": p_local,
            "p_global_sidak": p_global,
            "z_global_sidak": max(0.0, float(stats.norm.isf(p_global))),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the per-event scores)."""
        return {
            "config": dataclasses.asdict(self.config),
            "edges": self.edges.tolist(),
            "n_independent_windows": self.n_independent,
            "hypotheses": self.rows,
            "best": [self.best(e) for e in self.config.efficiencies],
            "info": self.info,
        }

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``hunt.json`` (:meth:`to_dict`) and ``hunt.md`` (:meth:`markdown`) into
        ``out_dir``, atomically; returns their paths."""
        out = Path(out_dir)
        paths = {"json": write_json(out / "hunt.json", self.to_dict())}
        with atomic_path(out / "hunt.md") as tmp:
            tmp.write_text(self.markdown())
        paths["md"] = out / "hunt.md"
        return paths

    def markdown(self) -> str:
        """The scan as a Markdown table (one row per hypothesis): :func:`hunt_markdown`."""
        return hunt_markdown(self.to_dict())


def hunt_markdown(hunt: dict[str, Any]) -> str:
    """Markdown table of a hunt from its JSON dict (:meth:`HuntResult.to_dict`, or a read
    ``hunt.json``): one row per hypothesis, then the largest local Z per efficiency."""
    effs = [f"{e:g}" for e in hunt["config"]["efficiencies"]]
    head = "| window (GeV) | SR / SB events | AUC SR vs SB | " + " | ".join(
        f"ε = {e}: obs / exp ± err, Z" for e in effs
    )
    lines = [head + " |", "|---" * (3 + len(effs)) + "|"]
    for r in hunt["hypotheses"]:
        cells = []
        for e in effs:
            c = r["cuts"][e]
            if c.get("z_local") is None:
                cells.append(f"fit failed: {c.get('error')}")
            else:
                cells.append(
                    f"{c['observed']:.0f} / {c['expected']:.1f} ± {c['expected_error']:.1f}, "
                    f"{c['z_local']:+.2f}"
                )
        lo, hi = r["window"]
        lines.append(
            f"| {lo:.0f}–{hi:.0f} | {r['n_signal_region']} / {r['n_sidebands']} "
            f"| {r['auc_sr_vs_sb']:.3f} | " + " | ".join(cells) + " |"
        )
    for b in hunt["best"]:
        if b.get("window") is not None:
            lines.append("")
            lines.append(
                f"ε = {b['efficiency']:g}: largest local Z {b['z_local']:.2f} in "
                f"{b['window'][0]:.0f}–{b['window'][1]:.0f} GeV; Šidák global "
                f"p {b['p_global_sidak']:.3g} (Z {b['z_global_sidak']:.2f}) over "
                f"{hunt['n_independent_windows']:.1f} independent windows"
            )
    return "\n".join(lines) + "\n"


def _window_cut(
    mjj: np.ndarray, s: np.ndarray, edges: np.ndarray, i0: int, i1: int, eps: float, npar: int
) -> dict[str, Any]:
    """Cut at efficiency ``eps`` outside window bins ``[i0, i1)``, fit blinded, test the window."""
    lo, hi = edges[i0], edges[i1]
    in_range = (mjj >= edges[0]) & (mjj < edges[-1])
    window = (mjj >= lo) & (mjj < hi)
    outside = in_range & ~window
    thr = float(np.quantile(s[outside], 1.0 - eps))
    h = histogram(mjj[in_range & (s > thr)], edges)
    out: dict[str, Any] = {"threshold": thr, "observed": float(h.counts[i0:i1].sum())}
    try:
        fit = fit_background(h, FitConfig(npar=npar, blind=(float(lo), float(hi))))
    except (FitError, InputError) as err:
        out.update(z_local=None, error=str(err))
        return out
    nu, jac = fit.model.expected_and_jacobian(fit.theta)
    assert jac is not None
    b = float(nu[i0:i1].sum())
    g = jac[i0:i1].sum(axis=0)
    sigma = float(np.sqrt(max(g @ fit.cov @ g, 0.0)))
    out.update(
        expected=b,
        expected_error=sigma,
        z_local=significance(out["observed"], b, sigma),
        fit_p=fit.p_value,
    )
    return out


def cwola_hunt(
    x: np.ndarray,
    mjj: np.ndarray,
    weak: WeakConfig,
    config: HuntConfig | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> HuntResult:
    """Slide CWoLa hunting over the mass hypotheses of ``config`` (see the module doc).

    Parameters
    ----------
    x : ``(n, d)`` features of the events (``weak.features``, in order).
    mjj : ``(n,)`` dijet invariant mass in GeV.
    weak : classifier, folds, seed and threads of every hypothesis (its ``method``,
        ``signal_region`` and ``sideband_width`` are set per hypothesis).
    config : the scan.
    progress : classifier progress bars; log : called with one line per hypothesis.

    Returns
    -------
    HuntResult
    """
    cfg = config or HuntConfig()
    x = np.asarray(x, dtype=np.float64)
    mjj = np.asarray(mjj, dtype=np.float64)
    edges = log_bins(*cfg.mjj_range, cfg.bin_width)
    hyps = hypotheses(edges, cfg)
    if not hyps:
        raise InputError(
            f"hunt: {len(edges) - 1} bins in {cfg.mjj_range} cannot hold a window of "
            f"{cfg.window_bins} bins with {cfg.sideband_bins} sideband bins on each side"
        )
    rows: list[dict[str, Any]] = []
    all_scores = np.empty((len(hyps), len(mjj)))
    t0 = time.perf_counter()
    for k, (i0, i1) in enumerate(hyps):
        lo, hi = float(edges[i0]), float(edges[i1])
        width = lo - float(edges[i0 - cfg.sideband_bins])
        wcfg = dataclasses.replace(
            weak, method="cwola", signal_region=(lo, hi), sideband_width=width
        )
        t1 = time.perf_counter()
        res = cwola(x, mjj, wcfg, progress=progress)
        s = res.scores
        all_scores[k] = s
        sr, sb = regions(mjj, wcfg)  # the masks cwola trained on
        row: dict[str, Any] = {
            "window": [lo, hi],
            "n_signal_region": int(sr.sum()),
            "n_sidebands": int(sb.sum()),
            "auc_sr_vs_sb": roc_auc(
                np.r_[np.ones(sr.sum()), np.zeros(sb.sum())], np.r_[s[sr], s[sb]]
            ),
            "cuts": {
                f"{e:g}": _window_cut(mjj, s, edges, i0, i1, e, cfg.npar) for e in cfg.efficiencies
            },
            "seconds": round(time.perf_counter() - t1, 2),
        }
        rows.append(row)
        if log is not None:
            zs = ", ".join(
                f"ε {e}: Z {c['z_local']:+.2f}" if c.get("z_local") is not None else f"ε {e}: -"
                for e, c in row["cuts"].items()
            )
            log(f"{lo:.0f}-{hi:.0f} GeV: AUC SR vs SB {row['auc_sr_vs_sb']:.3f}, {zs}")
    info = {"seconds": round(time.perf_counter() - t0, 2), "n_events": len(mjj)}
    return HuntResult(edges, rows, all_scores, cfg, info)
