"""N-subjettiness tau_1..tau_N of many jets at once, with fastjet-contrib's ``Njettiness``.

The LHCO 2020 samples were made with fastjet-contrib ``Nsubjettiness`` using
``OnePass_KT_Axes`` and ``NormalizedMeasure(beta=1, R0=R)``:

    tau_N = sum_k pT_k min_j dR(k, axis_j)^beta / (sum_k pT_k R0^beta),

dR in (rapidity, phi), the N axes being the exclusive-kT (E-scheme) subjets of the jet, then
moved by one pass of the measure's iterative minimisation (Weiszfeld-like for beta = 1).

scikit-hep ``fastjet`` (>= 3.4.2) exposes that same C++ routine on its multi-event
``ClusterSequence`` as ``njettiness``. It computes tau over *all input particles of each
event*, so every jet's constituents are fed as one "event" of their own; the clustering that
ClusterSequence does on the way is not used. Its C++ side silently falls back to KT_Axes /
NormalizedMeasure for unknown names, so names are checked here first.

Conventions (those of fastjet-contrib):

* a jet with at most N constituents has tau_N = 0 (N axes can sit on N particles); in
  particular a single-constituent jet has tau_1 = tau_2 = tau_3 = 0;
* :func:`tau_ratio` defines tau_{N}/tau_{N-1} as 1 where tau_{N-1} = 0 (then tau_N = 0 too:
  0/0). 1 is the "no evidence for an extra prong" end of the scale, so degenerate jets
  never look like multi-prong signal. Count them (``n_constituents <= 1``) if it matters.
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from adsearch.errors import InputError
from adsearch.jets.cluster import to_momentum4d

__all__ = ["AXES", "nsubjettiness", "tau_ratio"]

#: Axes definitions accepted by :func:`nsubjettiness` (fastjet-contrib names). The
#: ``AntiKT``, ``Manual`` and ``MultiPass`` variants (extra parameters, random seeds) are
#: left out on purpose.
AXES: tuple[str, ...] = (
    "OnePass_KT_Axes",
    "KT_Axes",
    "CA_Axes",
    "WTA_KT_Axes",
    "WTA_CA_Axes",
    "OnePass_CA_Axes",
    "OnePass_WTA_KT_Axes",
    "OnePass_WTA_CA_Axes",
)


def nsubjettiness(
    constituents: ak.Array,
    n_max: int = 3,
    beta: float = 1.0,
    r: float = 1.0,
    axes: str = "OnePass_KT_Axes",
) -> np.ndarray:
    """tau_1 .. tau_{n_max} of every jet in a flat list of jets.

    Parameters
    ----------
    constituents : ak.Array
        ``jets * var * {pt, eta, phi[, mass]}`` (GeV, radians); massless if no ``mass``.
    n_max : int
        Highest N computed (LHCO: 3).
    beta : float
        Angular exponent of the measure (LHCO: 1).
    r : float
        R0 of ``NormalizedMeasure``: the jet radius (LHCO: 1.0). tau_N is normalised by
        ``sum pT * r**beta``.
    axes : str
        One of :data:`AXES` (LHCO: ``OnePass_KT_Axes``).

    Returns
    -------
    np.ndarray
        ``(n_jets, n_max)`` float64; column ``N-1`` holds tau_N.

    Examples
    --------
    >>> import awkward as ak
    >>> jets = ak.Array([[{"pt": 100.0, "eta": 0.0, "phi": 0.0},
    ...                   {"pt": 100.0, "eta": 0.0, "phi": 0.4}]])
    >>> nsubjettiness(jets, n_max=2).round(6).tolist()  # axis midway: 0.2 * 200 / 200
    [[0.2, 0.0]]
    """
    if axes not in AXES:
        raise InputError(f"nsubjettiness: unknown axes {axes!r} (choose from {', '.join(AXES)})")
    if int(n_max) != n_max or n_max < 1:
        raise InputError(f"nsubjettiness: n_max must be a positive integer, got {n_max!r}")
    if not (np.isfinite(beta) and beta > 0):
        raise InputError(f"nsubjettiness: beta must be > 0, got {beta!r}")
    if not (np.isfinite(r) and r > 0):
        raise InputError(f"nsubjettiness: r must be > 0, got {r!r}")
    missing = [f for f in ("pt", "eta", "phi") if f not in ak.fields(constituents)]
    if missing or constituents.ndim != 2:
        raise InputError(
            "nsubjettiness: expected jets * var * {pt, eta, phi[, mass]}, got "
            f"{constituents.type}"
        )
    n_jets = len(constituents)
    if n_jets == 0:
        return np.zeros((0, int(n_max)), dtype=np.float64)
    # fastjet's multi-event interface wants plain 64-bit list offsets (no IndexedArray /
    # ListArray views left over from slicing).
    packed = ak.to_packed(constituents)
    # njettiness works on each "event"'s input particles, not on this clustering, which the
    # multi-event ClusterSequence cannot skip; a tiny radius makes it about 2x cheaper than
    # R = 1 (every particle ends as its own jet at once).
    seq = fastjet.ClusterSequence(
        to_momentum4d(packed), fastjet.JetDefinition(fastjet.kt_algorithm, 1e-3)
    )
    taus = seq.njettiness(
        measure_definition="NormalizedMeasure",
        axes_definition=axes,
        njets=list(range(1, int(n_max) + 1)),
        beta=float(beta),
        R0=float(r),
    )
    return np.asarray(ak.to_numpy(taus), dtype=np.float64).reshape(n_jets, int(n_max))


def tau_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """tau_N / tau_{N-1}, defined as 1 where ``denominator == 0`` (0/0: degenerate jets).

    Examples
    --------
    >>> tau_ratio(np.array([0.1, 0.0]), np.array([0.4, 0.0])).tolist()
    [0.25, 1.0]
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.ones_like(numerator), where=denominator > 0)
