"""Summary plots of a pipeline run (Agg canvas, no pyplot global state).

- :func:`plot_scores`: event-score distributions (signal / background when the truth is
  known) with the working-point cuts;
- :func:`plot_mjj_selections`: the mjj spectrum of all test events and after each cut;
- :func:`plot_roc_sic`: ROC curve and significance improvement;
- :func:`plot_message`: a small figure holding one sentence, written where a plot cannot be
  made (a failed fit), so a step's list of products stays fixed.

Every function writes its file atomically (format from the suffix) and returns its path.

Examples
--------
>>> import tempfile, pathlib
>>> p = plot_message(pathlib.Path(tempfile.mkdtemp()) / "fit.png", "no fit")
>>> p.name, p.stat().st_size > 0
('fit.png', True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adsearch.io.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_message", "plot_mjj_selections", "plot_roc_sic", "plot_scores"]


def _figure(size: tuple[float, float]) -> Figure:
    # matplotlib is imported when a plot is made: `adsearch --help` stays fast
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format=p.suffix.lstrip("."), dpi=110, bbox_inches="tight")
    return p


def plot_scores(
    scores: np.ndarray,
    truth: np.ndarray | None,
    thresholds: Sequence[tuple[str, float]],
    path: str | os.PathLike[str],
    xlabel: str = "event anomaly score",
) -> Path:
    """Histogram of ``scores`` (per class if ``truth`` is given) with the cuts marked.

    Positive, heavy-tailed scores (DeepSVDD distances, reconstruction errors) get a log x axis.
    """
    s = scores
    fig = _figure((6.5, 4.5))
    ax = fig.add_subplot()
    lo, hi = np.quantile(s, [0.001, 1.0])
    q_lo, q_hi = np.quantile(s, [0.001, 0.999])
    # (nearly) constant scores, e.g. a classifier that learned nothing: one unit around them
    bins: Any = np.linspace(hi - 0.5, hi + 0.5, 41)
    spread = hi - lo > 1e-9 * max(1.0, abs(hi))
    if (
        spread and lo > 0 and hi > 50 * lo
    ):  # positive, heavy-tailed (DeepSVDD distances, MSE): log x
        bins = np.geomspace(lo, hi, 61)
        ax.set_xscale("log")
    elif spread:
        bins = np.linspace(q_lo, q_hi, 61) if q_hi > q_lo else np.linspace(lo, hi, 61)
    if truth is None:
        ax.hist(s, bins=bins, histtype="step", label="test events")
    else:
        for k, name in ((0, "background"), (1, "signal")):
            v = s[truth == k]
            inside = v.size and np.histogram(v, bins=bins)[0].sum() > 0
            ax.hist(v, bins=bins, histtype="step", density=bool(inside), label=name)
    for k, (name, thr) in enumerate(thresholds):
        ax.axvline(thr, ls="--", lw=1, color=f"C{k + 2}", label=f"cut {name}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("events" if truth is None else "density")
    ax.set_yscale("log")
    ax.legend()
    return _save(fig, path)


def plot_mjj_selections(
    mjj: np.ndarray,
    scores: np.ndarray,
    thresholds: Sequence[tuple[str, float]],
    truth: np.ndarray | None,
    edges: np.ndarray,
    path: str | os.PathLike[str],
) -> Path:
    """The mjj spectrum of all events and of those passing each ``score > threshold`` cut."""
    fig = _figure((6.5, 4.5))
    ax = fig.add_subplot()
    bins: Any = edges  # matplotlib's stubs want a Sequence[float]
    ax.hist(mjj, bins=bins, histtype="step", label="all test events")
    for name, thr in thresholds:
        ax.hist(mjj[scores > thr], bins=bins, histtype="step", label=f"score cut {name}")
    if truth is not None and truth.any():
        ax.hist(
            mjj[truth == 1], bins=bins, histtype="stepfilled", alpha=0.3, label="signal (truth)"
        )
    ax.set_xlabel(r"$m_{jj}$ [GeV]")
    ax.set_ylabel("events per bin")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_roc_sic(
    eff_b: np.ndarray, eff_s: np.ndarray, auc: float, path: str | os.PathLike[str]
) -> Path:
    """ROC curve (signal vs background efficiency) and SIC = eff_s / sqrt(eff_b) vs eff_s."""
    fig = _figure((9, 4))
    a1, a2 = fig.subplots(1, 2)
    a1.plot(eff_b, eff_s)
    a1.plot([0, 1], [0, 1], ls=":", color="gray")
    a1.set_xlabel("background efficiency")
    a1.set_ylabel("signal efficiency")
    a1.set_title(f"ROC, AUC = {auc:.3f}")
    ok = eff_b > 0
    a2.plot(eff_s[ok], eff_s[ok] / np.sqrt(eff_b[ok]))
    a2.set_xlabel("signal efficiency")
    a2.set_ylabel(r"SIC = $\epsilon_S/\sqrt{\epsilon_B}$")
    return _save(fig, path)


def plot_message(path: str | os.PathLike[str], text: str) -> Path:
    """A plot file holding ``text`` (why there is no plot), so the product list stays fixed."""
    fig = _figure((6, 2))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format=p.suffix.lstrip("."))
    return p
