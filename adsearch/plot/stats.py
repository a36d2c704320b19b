"""Plots of the statistical analysis (mplhep style, Agg canvas, no pyplot global state).

- :func:`plot_fit`: mjj data with the background fit, its uncertainty band, the blinded
  window, optionally the BumpHunter window, and a pull panel;
- :func:`plot_bumphunt`: data vs background with the most significant window and the local
  p-value scan below;
- :func:`plot_tstat`: the BumpHunter test statistic of the toys and the observed value;
- :func:`plot_brazil`: observed and expected CLs limits with ±1σ/±2σ bands;
- :func:`plot_hunt`: the local significance of every CWoLa-hunting mass hypothesis.

Every function writes a PNG (or PDF by suffix) atomically and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from adsearch.io.atomic import atomic_path

__all__ = [
    "brazil_figure",
    "bumphunt_figure",
    "plot_brazil",
    "plot_bumphunt",
    "plot_fit",
    "plot_hunt",
    "plot_tstat",
]


def _figure(nrows: int = 1, ratios: tuple[float, ...] | None = None) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 7 if nrows > 1 else 5.5))
    FigureCanvasAgg(fig)
    if nrows == 1:
        return fig, fig.add_subplot(1, 1, 1)
    axes = fig.subplots(nrows, 1, sharex=True, gridspec_kw={"height_ratios": ratios or (3, 1)})
    fig.subplots_adjust(hspace=0.05)
    return fig, axes


def _style() -> Any:
    import matplotlib.style
    import mplhep

    return matplotlib.style.context(mplhep.style.ROOT)


def _save(fig: Any, path: str | Path) -> Path:
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower() or "png"
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight")
    return p


def _data(ax: Any, edges: np.ndarray, counts: np.ndarray) -> None:
    import mplhep

    mplhep.histplot(
        counts,
        edges,
        ax=ax,
        histtype="errorbar",
        yerr=np.sqrt(counts),
        color="k",
        label="data",
        markersize=4,
    )


def fit_label(fit: Any) -> str:
    """Legend text of a background fit: its model and size.

    >>> from types import SimpleNamespace as NS
    >>> fit_label(NS(method="function", family="dijet", npar=4, details={}))
    'dijet fit, 4 par.'
    >>> fit_label(NS(method="control", family="dijet", npar=2, details={}))
    'failing events × transfer factor (degree 1)'
    """
    method = getattr(fit, "method", "function")
    if method == "control":
        return f"failing events × transfer factor (degree {fit.npar - 1})"
    if method == "swift":
        hw = fit.details.get("swift", {}).get("half_width")
        return f"SWiFt, {fit.family} {fit.npar} par., ±{hw} bins"
    if method == "gp":
        return f"{fit.family} {fit.npar} par. + GP"
    return f"{fit.family} fit, {fit.npar} par."


def plot_fit(fit: Any, path: str | Path, bump: Any = None, title: str | None = None) -> Path:
    """mjj spectrum with the fit (top) and pulls ``(data - fit)/sqrt(fit)`` (bottom)."""
    with _style():
        fig, (ax, axp) = _figure(2)
        e, n, b, db = fit.edges, fit.counts, fit.expected, fit.expected_error
        _data(ax, e, n)
        ax.stairs(b, e, color="C3", lw=1.5, label=fit_label(fit))
        ax.stairs(b + db, e, baseline=np.maximum(b - db, 1e-3), fill=True, color="C3", alpha=0.3)
        for a in (ax, axp):
            if fit.blind:
                a.axvspan(*fit.blind, color="0.85", zorder=0, label="blinded" if a is ax else None)
            if bump is not None:
                a.axvspan(
                    *bump.window_mjj,
                    color="C0",
                    alpha=0.2,
                    zorder=0,
                    label="BumpHunter window" if a is ax else None,
                )
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(0.3, 0.3 * float(np.min(b))))
        ax.set_ylabel("events / bin")
        ax.legend(
            title=f"χ²/ndf = {fit.deviance:.1f}/{fit.ndf}, p = {fit.p_value:.2f}", fontsize=11
        )
        if title:
            ax.set_title(title)
        pulls = np.where(fit.fit_mask, fit.pulls, 0.0)
        axp.stairs(pulls, e, fill=True, color="C3", alpha=0.7)
        axp.axhline(0, color="k", lw=0.8)
        lim = max(3.0, float(np.max(np.abs(pulls))) * 1.1)
        axp.set_ylim(-lim, lim)
        axp.set_ylabel("pull")
        axp.set_xlabel(r"$m_{jj}$ [GeV]")
        return _save(fig, path)


def _bin_pscan(bh: Any) -> np.ndarray:
    """Per bin: the smallest local p-value of the windows covering it."""
    nb = bh.counts.size
    out = np.ones(nb)
    for lo, w, p in zip(bh.window_lo, bh.window_widths, bh.p_local, strict=True):
        out[lo : lo + w] = np.minimum(out[lo : lo + w], p)
    return out


def bumphunt_figure(bh: Any, title: str | None = None) -> tuple[Any, Any, Any]:
    """Figure of :func:`plot_bumphunt`: returns ``(fig, (ax, axp), note)``.

    The "local Z / global Z" note is drawn *above* the axes (outside the data area), so it
    can never cover data points whatever the spectrum looks like.
    """
    fig, (ax, axp) = _figure(2, (2, 1.3))
    e = bh.edges
    _data(ax, e, bh.counts)
    ax.stairs(bh.background, e, color="C3", lw=1.5, label="background")
    for a in (ax, axp):
        a.axvspan(
            *bh.window_mjj,
            color="C0",
            alpha=0.25,
            zorder=0,
            label="most significant window" if a is ax else None,
        )
    ax.set_yscale("log")
    ax.set_ylabel("events / bin")
    ax.legend(fontsize=11, loc="best")
    sign = "≥" if bh.global_p_is_bound else "="
    note = ax.text(
        1.0,
        1.02,
        f"local Z = {bh.z_local:.2f}, global Z {sign} {bh.z_global:.2f} "
        f"({bh.n_toys} toys, {'refit' if bh.refit else 'no refit'})",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=12,
    )
    if title:
        ax.set_title(title, loc="left", pad=24)
    axp.stairs(_bin_pscan(bh), e, color="C0", lw=1.5, baseline=None)
    axp.set_yscale("log")
    axp.set_ylim(top=1.5)
    axp.set_ylabel("local p-value")
    axp.set_xlabel(r"$m_{jj}$ [GeV]")
    return fig, (ax, axp), note


def plot_bumphunt(bh: Any, path: str | Path, title: str | None = None) -> Path:
    """Data and background with the most significant window; local p-value scan below."""
    with _style():
        fig, _, _ = bumphunt_figure(bh, title)
        return _save(fig, path)


def plot_tstat(bh: Any, path: str | Path) -> Path:
    """Distribution of the BumpHunter statistic ``t`` of the toys, with the observed value."""
    with _style():
        fig, ax = _figure(1)
        t = bh.t_toys
        hi = max(float(np.max(t)), bh.t_obs) * 1.05
        ax.hist(
            t,
            bins=np.linspace(0, hi, 60),
            histtype="step",
            color="C0",
            lw=1.5,
            label=f"{t.size} background-only toys",
        )
        ax.axvline(bh.t_obs, color="C3", lw=2, label=f"data, global p = {bh.global_p:.3g}")
        ax.set_yscale("log")
        ax.set_xlabel(r"$t = -\ln(\min p)$")
        ax.set_ylabel("toys")
        ax.legend(fontsize=11)
        return _save(fig, path)


def brazil_figure(limits: Any, events: bool = True) -> tuple[Any, Any]:
    """Figure of :func:`plot_brazil`: returns ``(fig, ax)``.

    The y label is on two lines and the layout engine keeps every label inside the figure
    (the one-line label was longer than the axes and was cut at the bottom of the image).
    """
    rows = [m.to_dict() for m in limits.limits]
    mass = np.array([r["mass"] for r in rows])
    key = "events" if events else "mu"
    exp = np.array([r[f"{key}_expected"] for r in rows])
    obs = np.array([r[f"{key}_observed"] for r in rows])
    fig, ax = _figure(1)
    ax.fill_between(mass, exp[:, 0], exp[:, 4], color="#ffcc00", label=r"expected $\pm 2\sigma$")
    ax.fill_between(mass, exp[:, 1], exp[:, 3], color="#00cc00", label=r"expected $\pm 1\sigma$")
    ax.plot(mass, exp[:, 2], "k--", label="expected")
    ax.plot(mass, obs, "k-", marker="o" if mass.size <= 12 else None, ms=4, label="observed")
    ax.set_yscale("log")
    ax.set_xlabel("signal mass [GeV]")
    cl = round(100 * limits.cl)
    ax.set_ylabel(f"{cl} % CL upper limit\non " + ("signal events" if events else r"$\mu$"))
    ax.legend(fontsize=11)
    fig.set_layout_engine("constrained")
    return fig, ax


def plot_brazil(limits: Any, path: str | Path, events: bool = True) -> Path:
    """Brazil plot: expected median, ±1σ (green) and ±2σ (yellow) bands, observed limit.

    Meant for a scan every ~100 GeV (:func:`adsearch.stats.spurious.scan_masses`); markers
    are drawn only for coarse scans (≤ 12 masses).
    """
    with _style():
        fig, _ = brazil_figure(limits, events)
        return _save(fig, path)


def plot_hunt(hunt: Any, path: str | Path, title: str | None = None) -> Path:
    """Local Z of every mass hypothesis of a CWoLa hunt (:class:`~adsearch.stats.hunt.HuntResult`),
    one line per score-cut efficiency; horizontal bars show each window's extent."""
    with _style():
        fig, ax = _figure(1)
        for k, eps in enumerate(hunt.config.efficiencies):
            key = f"{eps:g}"
            rows = [r for r in hunt.rows if r["cuts"][key].get("z_local") is not None]
            lo = np.array([r["window"][0] for r in rows])
            hi = np.array([r["window"][1] for r in rows])
            z = np.array([r["cuts"][key]["z_local"] for r in rows])
            c = np.sqrt(lo * hi)
            ax.errorbar(c, z, xerr=[c - lo, hi - c], fmt="o-", color=f"C{k}", ms=4, lw=1,
                        capsize=0, label=f"score cut ε = {eps:g}")  # fmt: skip
        for level in (3.0, 5.0):
            ax.axhline(level, color="grey", lw=0.8, ls="--")
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_xlabel(r"mass hypothesis $m_{jj}$ window [GeV]")
        ax.set_ylabel("local significance Z")
        if title:
            ax.set_title(title, fontsize=12)
        ax.legend(fontsize=11, loc="best")
        return _save(fig, path)
