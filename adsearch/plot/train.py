"""Plots of a training run (mplhep style, Agg canvas, no pyplot global state).

- :func:`plot_learning_curve`: training and validation loss per epoch from the training's
  ``metrics.json`` history, log-scaled y when every loss is positive, best epoch marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.plot.stats import _figure, _save, _style

__all__ = ["plot_learning_curve"]


def _series(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([float(h.get(key, np.nan)) for h in history], dtype=np.float64)


def plot_learning_curve(
    history: Sequence[Mapping[str, Any]], path: str | Path, title: str | None = None
) -> Path:
    """Training and validation loss vs epoch; writes ``path`` (PNG, or PDF/SVG by suffix).

    Parameters
    ----------
    history : list of per-epoch dicts with ``epoch``, ``train_loss``, ``val_loss`` (the
        trainer's ``metrics.json``); missing values are left out of the lines. An empty
        history gives a plot saying so.
    path : output file.
    title : optional axes title.

    Returns
    -------
    Path of the written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> h = [{"epoch": 1, "train_loss": 1.0, "val_loss": 0.9},
    ...      {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6}]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = plot_learning_curve(h, pathlib.Path(d) / "lc.png")
    ...     p.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    with _style():
        fig, _ = _learning_curve(history, title)
        return _save(fig, path)


def _learning_curve(history: Sequence[Mapping[str, Any]], title: str | None) -> tuple[Any, Any]:
    """The learning-curve figure and its axes (call inside :func:`_style`)."""
    fig, ax = _figure()
    if not history:
        ax.text(0.5, 0.5, "no training history", ha="center", va="center")
        ax.set_axis_off()
        return fig, ax
    ep = _series(history, "epoch")
    if np.isnan(ep).any():
        ep = np.arange(1, len(history) + 1, dtype=np.float64)
    tr, va = _series(history, "train_loss"), _series(history, "val_loss")
    marker = "o" if len(history) < 30 else None
    ax.plot(ep, tr, marker=marker, label="training loss")
    ax.plot(ep, va, marker=marker, label="validation loss")
    if np.isfinite(va).any():
        best = int(np.nanargmin(va))
        ax.axvline(ep[best], ls=":", color="0.5", label=f"best epoch {ep[best]:g}")
    vals = np.r_[tr, va]
    vals = vals[np.isfinite(vals)]
    if vals.size and np.all(vals > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title)
    ax.legend()
    return fig, ax
