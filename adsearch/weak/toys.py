"""Toy samples for the weakly supervised methods: a falling mjj spectrum and CATHODE-like features.

Background: mjj from 2.5 TeV with an exponential tail; the lighter jet mass (TeV, Gamma
distributed) drifts with mjj (10 % per TeV unless ``drift`` says otherwise), the mass
difference is Gamma distributed, τ21 of both jets are Beta distributed.
Signal (planted): mjj Gaussian inside the signal region, and a Gaussian bump in two
features — the lighter jet mass at 0.1 TeV and the mass difference at 0.4 TeV (the LHCO
W' → X(500 GeV) Y(100 GeV) kinematics) — with background-like τ21.

:func:`toy_table` turns a toy into an events table with the LHCO columns (back-to-back jets
whose invariant mass is the toy's mjj), for the table and file interfaces.

Examples
--------
>>> toy = planted_toy(n_background=1000, n_signal=50, seed=0)
>>> toy.x.shape, int(toy.label.sum())
((1050, 4), 50)
>>> t = toy_table(toy)
>>> bool(np.allclose(t["mjj"], toy.mjj))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["WeakToy", "planted_toy", "toy_table"]


@dataclass
class WeakToy:
    """Events of a toy: features ``x`` (CATHODE's four, TeV), ``mjj`` (GeV), 0/1 ``label``."""

    x: np.ndarray
    mjj: np.ndarray
    label: np.ndarray


def _background(n: int, rng: np.random.Generator, drift: float) -> tuple[np.ndarray, np.ndarray]:
    mjj = 2500.0 + rng.exponential(700.0, n)
    mj = rng.gamma(4.0, 0.02 * np.clip(1.0 + drift * (mjj / 1000.0 - 3.5), 0.05, None))
    dm = rng.gamma(2.0, 0.06, n)
    t1, t2 = rng.beta(6.0, 4.0, n), rng.beta(6.0, 4.0, n)
    return np.column_stack([mj, dm, t1, t2]), mjj


def _signal(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    mjj = rng.normal(3500.0, 70.0, n)
    mj = rng.normal(0.10, 0.01, n)
    dm = rng.normal(0.40, 0.02, n)
    t1, t2 = rng.beta(6.0, 4.0, n), rng.beta(6.0, 4.0, n)
    return np.column_stack([mj, dm, t1, t2]), mjj


def planted_toy(n_background: int, n_signal: int, seed: int, drift: float = 0.1) -> WeakToy:
    """``n_background`` background and ``n_signal`` signal events, shuffled (seeded).

    ``drift``: relative change of the background's lighter jet mass per TeV of mjj (its
    scale is ``1 + drift (mjj/TeV - 3.5)``, floored at 0.05): how strongly the features
    depend on mjj.

    >>> planted_toy(10, 0, seed=1).label.tolist() == [0] * 10
    True
    """
    rng = np.random.default_rng(seed)
    xb, mb = _background(n_background, rng, drift)
    xs, ms = _signal(n_signal, rng)
    x, mjj = np.r_[xb, xs], np.r_[mb, ms]
    label = np.r_[np.zeros(n_background, int), np.ones(n_signal, int)]
    order = rng.permutation(len(x))
    return WeakToy(x[order], mjj[order], label[order])


def toy_table(toy: WeakToy, with_label: bool = True) -> pd.DataFrame:
    """The toy as an events table (LHCO columns, ``mjj``; ``label`` if ``with_label``).

    Jet 1 is the lighter one; both fly back to back along ``x`` with the momentum that gives
    the toy's mjj; ``tau1 = 1`` so that ``tau21 = tau2``.
    """
    import pandas as pd

    m1 = toy.x[:, 0] * 1000.0
    m2 = m1 + toy.x[:, 1] * 1000.0
    big = toy.mjj
    p2 = (big**2 - (m1 + m2) ** 2) * (big**2 - (m1 - m2) ** 2) / (4.0 * big**2)
    p = np.sqrt(np.clip(p2, 0.0, None))
    zero = np.zeros(len(big))
    cols = {
        "pxj1": p, "pyj1": zero, "pzj1": zero, "mj1": m1,
        "tau1j1": zero + 1.0, "tau2j1": toy.x[:, 2], "tau3j1": toy.x[:, 2] * 0.7,
        "pxj2": -p, "pyj2": zero, "pzj2": zero, "mj2": m2,
        "tau1j2": zero + 1.0, "tau2j2": toy.x[:, 3], "tau3j2": toy.x[:, 3] * 0.7,
    }  # fmt: skip
    if with_label:
        cols["label"] = toy.label.astype(np.float64)
    cols["mjj"] = np.sqrt((np.sqrt(p**2 + m1**2) + np.sqrt(p**2 + m2**2)) ** 2)
    return pd.DataFrame(cols)
