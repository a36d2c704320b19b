"""Learning-curve plot of a training history."""

from __future__ import annotations

import matplotlib
import numpy as np

from adsearch.plot import plot_learning_curve
from adsearch.plot.stats import _style
from adsearch.plot.train import _learning_curve

PNG = b"\x89PNG"
HISTORY = [
    {"epoch": 1, "train_loss": 1.0, "val_loss": 0.9},
    {"epoch": 2, "train_loss": 0.3, "val_loss": 0.4},
    {"epoch": 3, "train_loss": 0.1, "val_loss": 0.5},
]


def test_learning_curve_lines_scale_and_best_epoch():
    with _style():
        _, ax = _learning_curve(HISTORY, "run")
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert np.array_equal(lines["training loss"].get_ydata(), [1.0, 0.3, 0.1])
    assert np.array_equal(lines["validation loss"].get_xdata(), [1, 2, 3])
    assert "best epoch 2" in lines  # smallest validation loss
    assert ax.get_yscale() == "log"
    # a loss that can be negative (e.g. a log-likelihood) keeps a linear axis
    neg = [{**h, "train_loss": h["train_loss"] - 1} for h in HISTORY]
    with _style():
        _, ax2 = _learning_curve(neg, None)
    assert ax2.get_yscale() == "linear"


def test_learning_curve_files_without_global_state(tmp_path):
    rc_before = dict(matplotlib.rcParams)
    p = plot_learning_curve(HISTORY, tmp_path / "lc.png")
    assert p.read_bytes()[:4] == PNG and p.stat().st_size > 5000
    empty = plot_learning_curve([], tmp_path / "empty.pdf")
    assert empty.read_bytes()[:4] == b"%PDF"
    assert dict(matplotlib.rcParams) == rc_before
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []
