"""Signal and control regions: score working points and mjj windows.

A working point is a cut ``score > threshold`` on the event anomaly score, defined by its
background efficiency (10 %, 1 %, 0.1 %, ...). The threshold is the ``1 - eff`` quantile of the
scores of events *outside* the mjj signal-region window, so it is fixed without looking at the
signal region. Events passing the cut form the signal-region (SR) selection, the complement the
control region (CR).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> mjj, score = rng.uniform(2500, 6000, 10000), rng.random(10000)
>>> wp = working_points(score, [0.1, 0.01], mjj=mjj, window=MjjWindow(3300, 3700))
>>> [round(w.threshold, 2) for w in wp]
[0.9, 0.99]
>>> sel = select(mjj, score, wp[0])
>>> round(float(sel.signal.size / mjj.size), 2)
0.1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adsearch.errors import InputError

__all__ = [
    "SIGNAL_REGION",
    "MjjWindow",
    "Selection",
    "WorkingPoint",
    "region_summary",
    "select",
    "selection_name",
    "working_points",
]

#: default mjj signal region (GeV): the LHCO W' -> X Y window, 3.3-3.7 TeV
SIGNAL_REGION: tuple[float, float] = (3300.0, 3700.0)


@dataclass(frozen=True)
class MjjWindow:
    """An mjj window ``[lo, hi)`` in GeV (e.g. the LHCO signal region 3.3–3.7 TeV).

    Examples
    --------
    >>> w = MjjWindow(3300.0, 3700.0)
    >>> w.contains(np.array([3200.0, 3500.0])).tolist(), w.sidebands(200.0)
    ([False, True], (MjjWindow(lo=3100.0, hi=3300.0), MjjWindow(lo=3700.0, hi=3900.0)))
    """

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lo) and np.isfinite(self.hi) and self.lo < self.hi):
            raise InputError(f"bad mjj window ({self.lo}, {self.hi}): need lo < hi")

    def contains(self, mjj: np.ndarray) -> np.ndarray:
        """Boolean mask of ``lo <= mjj < hi``."""
        m = np.asarray(mjj, dtype=float)
        return (m >= self.lo) & (m < self.hi)

    def sidebands(self, width: float) -> tuple[MjjWindow, MjjWindow]:
        """The windows of ``width`` GeV just below and just above."""
        return MjjWindow(self.lo - width, self.lo), MjjWindow(self.hi, self.hi + width)

    @property
    def center(self) -> float:
        """Window centre."""
        return 0.5 * (self.lo + self.hi)


@dataclass(frozen=True)
class WorkingPoint:
    """Cut ``score > threshold`` with background efficiency ``efficiency`` (measured on CR).

    ``n_reference`` is the number of events the threshold was derived from.
    """

    efficiency: float
    threshold: float
    n_reference: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "efficiency": self.efficiency,
            "threshold": self.threshold,
            "n_reference": self.n_reference,
        }


def _check(name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float).ravel()
    if a.size == 0:
        raise InputError(f"{name} is empty")
    bad = int(np.sum(~np.isfinite(a)))
    if bad:
        raise InputError(f"{name} has {bad} NaN/inf values")
    return a


def working_points(
    scores: np.ndarray,
    efficiencies: list[float] | tuple[float, ...] = (0.1, 0.01, 0.001),
    mjj: np.ndarray | None = None,
    window: MjjWindow | None = None,
) -> list[WorkingPoint]:
    """Score thresholds with the given background efficiencies.

    Parameters
    ----------
    scores : array
        Event scores (higher = more anomalous), of background-dominated data or a reference
        background sample.
    efficiencies : list of float
        Target fractions passing ``score > threshold``, each in (0, 1).
    mjj, window : array and MjjWindow, optional
        If given, events with mjj inside ``window`` are excluded before taking quantiles
        (thresholds fixed without looking at the signal region).

    Raises
    ------
    InputError
        Empty/NaN inputs, efficiencies outside (0, 1), or fewer than ``1 / eff`` reference
        events for some efficiency.
    """
    s = _check("score", scores)
    if window is not None:
        if mjj is None:
            raise InputError("a signal-region window needs the mjj values")
        m = _check("mjj", mjj)
        if m.size != s.size:
            raise InputError(f"mjj has {m.size} values but score has {s.size}")
        s = s[~window.contains(m)]
    out = []
    for eff in efficiencies:
        if not 0 < eff < 1:
            raise InputError(f"working point {eff}: background efficiency must be in (0, 1)")
        if s.size * eff < 1:
            need = int(np.ceil(1 / eff))
            raise InputError(f"working point {eff}: only {s.size} reference events, need >= {need}")
        thr = float(np.quantile(s, 1.0 - eff, method="higher"))
        out.append(WorkingPoint(float(eff), thr, int(s.size)))
    return out


@dataclass
class Selection:
    """mjj of events passing (``signal``) and failing (``control``) a working point."""

    working_point: WorkingPoint
    signal: np.ndarray
    control: np.ndarray


def select(mjj: np.ndarray, scores: np.ndarray, wp: WorkingPoint | float) -> Selection:
    """Split ``mjj`` by ``score > threshold`` (a :class:`WorkingPoint` or a threshold)."""
    m, s = _check("mjj", mjj), _check("score", scores)
    if m.size != s.size:
        raise InputError(f"mjj has {m.size} values but score has {s.size}")
    if not isinstance(wp, WorkingPoint):
        wp = WorkingPoint(float("nan"), float(wp), int(s.size))
    passed = s > wp.threshold
    return Selection(wp, m[passed], m[~passed])


def selection_name(efficiency: float | None) -> str:
    """File-name safe label of a selection: ``inclusive`` or ``eff<efficiency>``.

    >>> selection_name(None), selection_name(0.01)
    ('inclusive', 'eff0.01')
    """
    return "inclusive" if efficiency is None else f"eff{efficiency:g}"


def region_summary(
    mjj: np.ndarray,
    scores: np.ndarray,
    efficiencies: list[float] | tuple[float, ...],
    signal_region: tuple[float, float] = SIGNAL_REGION,
) -> dict[str, Any]:
    """Working points fixed outside the signal region, and what each selects.

    Parameters
    ----------
    mjj, scores : array
        Dijet mass (GeV) and event score of the (test) events.
    efficiencies : list of float
        Background efficiencies of the working points.
    signal_region : (lo, hi)
        mjj window left out when the thresholds are set.

    Returns
    -------
    dict
        ``signal_region``, ``n_test_events``, ``n_test_sr`` and one row per working point
        (:meth:`WorkingPoint.to_dict` plus ``name``, ``n_selected``, ``n_selected_sr``,
        ``n_selected_outside_sr``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = region_summary(rng.uniform(2500, 6000, 1000), rng.random(1000), [0.1])
    >>> s["n_test_events"], s["working_points"][0]["name"], s["working_points"][0]["n_selected"]
    (1000, 'eff0.1', 100)
    """
    sr = MjjWindow(*signal_region)
    m = _check("mjj", mjj)
    rows = []
    for wp in working_points(scores, list(efficiencies), mjj=m, window=sr):
        passed = select(m, scores, wp).signal
        n_sr = int(sr.contains(passed).sum())
        rows.append(
            {
                **wp.to_dict(),
                "name": selection_name(wp.efficiency),
                "n_selected": int(passed.size),
                "n_selected_sr": n_sr,
                "n_selected_outside_sr": int(passed.size) - n_sr,
            }
        )
    return {
        "signal_region": list(signal_region),
        "n_test_events": int(m.size),
        "n_test_sr": int(sr.contains(m).sum()),
        "working_points": rows,
    }
