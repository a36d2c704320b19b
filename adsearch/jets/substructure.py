"""Jet substructure observables computed from the constituents kept in features files.

:func:`jet_girth` is the girth (the pT-weighted mean angular distance of the constituents
from the jet axis, also called the linear radial moment or jet width):

``g = sum_i pT_i dR_i / pT_jet`` over the jet's constituents, with
``dR_i^2 = (eta_i - eta_jet)^2 + (phi_i - phi_jet)^2`` and the phi difference wrapped into
``[-pi, pi)`` (J. Gallicchio, M. D. Schwartz, "Quark and gluon tagging at the LHC",
Phys. Rev. Lett. 107 (2011) 172001). A one-prong (QCD-like) jet has its pT concentrated at
the axis and a small girth; a two-prong jet of the same pT has its pT in two subjets away
from the axis and a larger girth, so girth is a simple baseline for any substructure-based
anomaly score.

Everything is vectorised over all jets at once (flat constituent arrays + ``np.bincount``).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from adsearch.errors import InputError

__all__ = ["jet_girth"]


def _flat(constituents: ak.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(counts, pt, eta, phi)`` of ``jets * var`` (or ``events * jets * var``) constituents."""
    if not isinstance(constituents, ak.Array):
        raise InputError("constituents: expected an awkward Array jets * var * {pt, eta, phi}")
    missing = [f for f in ("pt", "eta", "phi") if f not in ak.fields(constituents)]
    if missing:
        raise InputError(f"constituents: missing field(s) {', '.join(missing)}")
    cons = constituents
    if cons.ndim == 3:  # events * jets * var: jets in event order
        cons = ak.flatten(cons, axis=1)
    elif cons.ndim != 2:
        raise InputError(f"constituents: expected jets * var * {{pt, eta, phi}}, ndim={cons.ndim}")
    counts = np.asarray(ak.to_numpy(ak.num(cons, axis=1)), dtype=np.int64)
    flat = [
        np.asarray(ak.to_numpy(ak.flatten(cons[f], axis=1)), dtype=np.float64)
        for f in ("pt", "eta", "phi")
    ]
    for f, v in zip(("pt", "eta", "phi"), flat, strict=True):
        if not np.all(np.isfinite(v)):
            raise InputError(f"constituents.{f}: contains NaN or infinite values")
    return counts, flat[0], flat[1], flat[2]


def _per_jet(a: np.ndarray | ak.Array, name: str, n_jets: int) -> np.ndarray:
    if isinstance(a, ak.Array):
        a = ak.to_numpy(ak.flatten(a, axis=None)) if a.ndim > 1 else ak.to_numpy(a)
    out = np.asarray(a, dtype=np.float64).reshape(-1)
    if out.size != n_jets:
        raise InputError(f"{name}: has {out.size} entries for {n_jets} jets")
    if not np.all(np.isfinite(out)):
        raise InputError(f"{name}: contains NaN or infinite values")
    return out


def jet_girth(
    constituents: ak.Array,
    jet_pt: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
) -> np.ndarray:
    """Girth ``sum_i pT_i dR_i / pT_jet`` of every jet (float64 ``[n_jets]``).

    Parameters
    ----------
    constituents : awkward Array
        ``jets * var * {pt, eta, phi}``; an ``events * jets * var`` layout (e.g.
        ``Features.constituents``) is taken jet by jet in event order.
    jet_pt, jet_eta, jet_phi : arrays of one entry per jet (``[events, 2]`` is flattened)
        The jet axis the distances are measured to, and the pT normalisation.

    Returns
    -------
    numpy.ndarray
        Girth per jet; 0 for a jet without constituents.

    Raises
    ------
    InputError
        Missing fields, NaN/inf values, axis arrays of the wrong length, non-positive jet pT.

    Examples
    --------
    >>> c = ak.Array([[{"pt": 30.0, "eta": 0.1, "phi": 0.0},
    ...                {"pt": 10.0, "eta": 0.0, "phi": 0.2}]])
    >>> jet_girth(c, np.array([40.0]), np.array([0.0]), np.array([0.0])).round(4).tolist()
    [0.125]
    """
    counts, pt, eta, phi = _flat(constituents)
    n = counts.size
    jpt = _per_jet(jet_pt, "jet_pt", n)
    jeta = _per_jet(jet_eta, "jet_eta", n)
    jphi = _per_jet(jet_phi, "jet_phi", n)
    if np.any(jpt <= 0):
        raise InputError("jet_pt: contains non-positive values")
    jet = np.repeat(np.arange(n), counts)
    deta = eta - jeta[jet]
    dphi = np.mod(phi - jphi[jet] + np.pi, 2.0 * np.pi) - np.pi
    dr = np.hypot(deta, dphi)
    return np.bincount(jet, pt * dr, minlength=n) / jpt
