"""Binned mjj spectra: log-spaced binning and a small histogram container.

The default binning follows the dijet-resonance searches: bins whose relative width is about
the detector mjj resolution (~5 %), log-spaced, over 2.5–6 TeV.

Examples
--------
>>> edges = log_bins(2500.0, 6000.0, 0.05)
>>> len(edges) - 1, float(edges[0]), float(edges[-1])
(18, 2500.0, 6000.0)
>>> h = histogram([2600.0, 2700.0, 5900.0, 7000.0], edges)
>>> int(h.counts.sum()), h.n_overflow
(3, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adsearch.errors import InputError

__all__ = [
    "BIN_WIDTH",
    "MJJ_RANGE",
    "Histogram",
    "histogram",
    "log_bins",
    "window_bounds",
    "window_overlap",
]

#: default mjj range of the spectra (GeV) and relative bin width (the dijet-search binning)
MJJ_RANGE: tuple[float, float] = (2500.0, 6000.0)
BIN_WIDTH: float = 0.05


def log_bins(
    lo: float = MJJ_RANGE[0], hi: float = MJJ_RANGE[1], rel_width: float = BIN_WIDTH
) -> np.ndarray:
    """Log-spaced bin edges from ``lo`` to ``hi`` with relative bin width ~``rel_width``.

    Parameters
    ----------
    lo, hi : float
        Range in GeV, ``0 < lo < hi``.
    rel_width : float
        Target ``Δm / m`` of each bin (the number of bins is rounded to an integer).

    Returns
    -------
    numpy.ndarray
        ``n + 1`` edges, ``edges[0] == lo`` and ``edges[-1] == hi``.

    Examples
    --------
    >>> e = log_bins(1000.0, 2000.0, 0.1)
    >>> len(e), bool(np.allclose(e[1:] / e[:-1], e[1] / e[0]))
    (8, True)
    """
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise InputError(f"bad mjj range ({lo}, {hi}): need 0 < lo < hi")
    if not (0 < rel_width < 1):
        raise InputError(f"bad relative bin width {rel_width}: need 0 < width < 1")
    n = max(1, round(np.log(hi / lo) / np.log1p(rel_width)))
    edges = np.geomspace(lo, hi, n + 1)
    edges[0], edges[-1] = lo, hi
    return edges


@dataclass
class Histogram:
    """Counts of a 1-D spectrum with bin ``edges`` (GeV).

    Attributes
    ----------
    edges : numpy.ndarray
        Increasing bin edges, shape ``(n + 1,)``.
    counts : numpy.ndarray
        Non-negative counts per bin, shape ``(n,)`` (float; integers for data).
    n_underflow, n_overflow : int
        Entries outside the edges (kept for bookkeeping only).
    """

    edges: np.ndarray
    counts: np.ndarray
    n_underflow: int = 0
    n_overflow: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.edges = np.asarray(self.edges, dtype=float)
        self.counts = np.asarray(self.counts, dtype=float)
        if self.edges.ndim != 1 or self.edges.size < 2:
            raise InputError("histogram edges must be a 1-D array of at least 2 values")
        if not np.all(np.isfinite(self.edges)) or np.any(np.diff(self.edges) <= 0):
            raise InputError("histogram edges must be finite and strictly increasing")
        if self.counts.shape != (self.edges.size - 1,):
            raise InputError(
                f"histogram has {self.counts.size} counts for {self.edges.size - 1} bins"
            )
        if not np.all(np.isfinite(self.counts)) or np.any(self.counts < 0):
            raise InputError("histogram counts must be finite and non-negative")

    @property
    def centers(self) -> np.ndarray:
        """Bin centres (arithmetic)."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def widths(self) -> np.ndarray:
        """Bin widths."""
        return np.diff(self.edges)

    @property
    def nbins(self) -> int:
        """Number of bins."""
        return self.counts.size

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``edges``, ``counts``, under/overflow; ``meta`` if not empty)."""
        out: dict[str, Any] = {
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "n_underflow": int(self.n_underflow),
            "n_overflow": int(self.n_overflow),
        }
        if self.meta:
            out["meta"] = {
                k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.meta.items()
            }
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "histogram") -> Histogram:
        """Inverse of :meth:`to_dict`; ``source`` names the origin in error messages."""
        if not isinstance(d, dict) or "edges" not in d or "counts" not in d:
            raise InputError(f"{source}: a histogram needs 'edges' and 'counts'")
        meta = d.get("meta") or {}
        if not isinstance(meta, dict):
            raise InputError(f"{source}: 'meta' must be a mapping")
        try:
            return cls(
                np.asarray(d["edges"], dtype=float),
                np.asarray(d["counts"], dtype=float),
                int(d.get("n_underflow", 0)),
                int(d.get("n_overflow", 0)),
                dict(meta),
            )
        except (TypeError, ValueError):
            raise InputError(f"{source}: 'edges'/'counts' must be lists of numbers") from None
        except InputError as e:
            raise InputError(f"{source}: {e}") from None


def histogram(mjj: np.ndarray | list[float], edges: np.ndarray) -> Histogram:
    """Histogram ``mjj`` (GeV) into ``edges``; NaN/inf values are refused.

    Examples
    --------
    >>> histogram([1.0, 2.5], [0.0, 2.0, 3.0]).counts.tolist()
    [1.0, 1.0]
    """
    m = np.asarray(mjj, dtype=float).ravel()
    if not np.all(np.isfinite(m)):
        raise InputError(f"mjj has {int(np.sum(~np.isfinite(m)))} NaN/inf values")
    e = np.asarray(edges, dtype=float)
    counts, _ = np.histogram(m, bins=e)
    return Histogram(e, counts.astype(float), int(np.sum(m < e[0])), int(np.sum(m > e[-1])))


def window_bounds(centre: int, nbins: int, half_width: int) -> tuple[int, int]:
    """``[lo, hi)`` bins of the window of ``2 * half_width + 1`` bins centred on ``centre``.

    Shifted to stay inside ``[0, nbins)``; the whole range when it is not wider.

    Examples
    --------
    >>> window_bounds(0, 10, 2), window_bounds(5, 10, 2), window_bounds(9, 10, 2)
    ((0, 5), (3, 8), (5, 10))
    >>> window_bounds(3, 10, 7)
    (0, 10)
    """
    size = 2 * half_width + 1
    if size >= nbins:
        return 0, nbins
    lo = int(np.clip(centre - half_width, 0, nbins - size))
    return lo, lo + size


def window_overlap(edges: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """Fraction of each bin of ``edges`` inside the mjj ``window`` (zeros for ``None``).

    Examples
    --------
    >>> window_overlap(np.array([0.0, 1.0, 2.0, 3.0]), (1.0, 2.5)).tolist()
    [0.0, 1.0, 0.5]
    """
    e = np.asarray(edges, dtype=float)
    if window is None:
        return np.zeros(e.size - 1)
    lo, hi = window
    return np.clip(np.minimum(e[1:], hi) - np.maximum(e[:-1], lo), 0.0, None) / np.diff(e)
