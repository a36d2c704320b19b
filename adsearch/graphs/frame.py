"""A canonical frame for jet constituents: centred, rotated onto the principal axis, flipped.

:func:`principal_frame` removes the jet-orientation degrees of freedom that carry no
physics (where the jet points, and how its radiation pattern is turned and mirrored in the
(η, φ) plane), the preprocessing of jet images (de Oliveira, Kagan, Mackey, Nachman &
Schwartzman, "Jet-images — deep learning edition", JHEP 2016; Macaluso & Shih, "Pulling
out all the tops with computer vision and deep learning", JHEP 2018), done on the
constituents themselves so every view (graphs, dense sets, images) can be built from it:

1. centre: Δη, Δφ about the jet axis, then (``centre="centroid"``, default) shifted so the
   pT-weighted centroid is at the origin;
2. rotate: the principal axis (largest eigenvalue) of the pT-weighted inertia tensor
   ``Σ pT (Δη², ΔηΔφ; ΔηΔφ, Δφ²)`` is turned onto the η direction;
3. flip: η' -> -η' if the pT-weighted third moment ``Σ pT η'³`` is negative (skew > 0),
   φ' -> -φ' if less pT lies at φ' > 0 than at φ' < 0 (the harder half up).

So a jet and any copy of it rotated and/or reflected about its centre give the same output
(up to round-off and the measure-zero ties of the sign rules). Rotations in the (η, φ) plane
are not Lorentz transformations: the pT of every constituent is kept exactly, the jet mass
only up to relative terms of order ΔR² (``cosh Δη - cos Δφ`` is rotation invariant only at
leading order). For R = 1 toy jets of 1.5 TeV the median change is 0.3 %, 90 % of jets
change by < 1.3 %, the widest by up to ~8 %.

Computed on flat numpy arrays with per-jet sums by ``np.bincount``; no loop over jets.
"""

from __future__ import annotations

from typing import Literal

import awkward as ak
import numpy as np
from numpy.typing import ArrayLike

from adsearch.graphs.build import constituents_and_axes, wrap_phi

__all__ = ["principal_frame"]


def principal_frame(
    constituents: ak.Array,
    jet_pt: ArrayLike | None = None,
    jet_eta: ArrayLike | None = None,
    jet_phi: ArrayLike | None = None,
    *,
    centre: Literal["centroid", "axis"] = "centroid",
) -> ak.Array:
    """Constituents in the jet's principal frame, in the input layout.

    Parameters
    ----------
    constituents : ak.Array
        ``n_jets * var * {pt, eta, phi, ...}``.
    jet_pt, jet_eta, jet_phi : array-like of n_jets, optional
        Jet axis (all or none; computed from the constituents when omitted, as in
        :func:`~adsearch.graphs.build.build_graphs`). Only ``jet_eta``, ``jet_phi`` are used.
    centre : {"centroid", "axis"}
        Origin of the frame: the pT-weighted (Δη, Δφ) centroid, or the jet axis itself.

    Returns
    -------
    ak.Array
        Same jets, constituents, order and fields; ``pt`` (and any other field) unchanged,
        ``eta`` = ``jet_eta`` + η', ``phi`` = wrap(``jet_phi`` + φ') with (η', φ') the frame
        coordinates. Building graphs or dense views with the same jet axis therefore gives
        the frame coordinates as node features (when the axis was omitted here, pass
        ``jet_axis(constituents)`` of the original constituents explicitly).

    Examples
    --------
    >>> c = ak.Array([[{"pt": 1.0, "eta": 0.0, "phi": 0.3}, {"pt": 1.0, "eta": 0.0, "phi": -0.3},
    ...                {"pt": 2.0, "eta": 0.0, "phi": 0.0}]])
    >>> f = principal_frame(c, [4.0], [0.0], [0.0])
    >>> np.round(f.eta, 6).tolist(), np.round(f.phi, 6).tolist()  # turned onto η
    ([[0.3, -0.3, 0.0]], [[0.0, 0.0, 0.0]])
    """
    if centre not in ("centroid", "axis"):
        raise ValueError(f"centre: 'centroid' or 'axis', got {centre!r}")
    counts, pt, eta, phi, _jpt, jeta, jphi = constituents_and_axes(
        constituents, jet_pt, jet_eta, jet_phi, "principal_frame"
    )
    nested = constituents.ndim == 3  # events * jets * var: work on the jets, re-nest at the end
    jets = ak.flatten(constituents, axis=1) if nested else constituents
    n_jets = len(counts)
    jet = np.repeat(np.arange(n_jets, dtype=np.int64), counts)

    def per_jet(v: np.ndarray) -> np.ndarray:
        return np.bincount(jet, v, minlength=n_jets)

    w = pt / np.where((tot := per_jet(pt)) > 0, tot, 1.0)[jet]  # pT fractions
    de = eta - jeta[jet]
    dp = wrap_phi(phi - jphi[jet])
    if centre == "centroid":
        de = de - per_jet(w * de)[jet]
        dp = dp - per_jet(w * dp)[jet]
    # principal axis of the 2x2 tensor [[a, b], [b, c]] at angle θ = atan2(2b, a - c) / 2
    a, b, c = per_jet(w * de * de), per_jet(w * de * dp), per_jet(w * dp * dp)
    theta = 0.5 * np.arctan2(2.0 * b, a - c)
    cos, sin = np.cos(theta)[jet], np.sin(theta)[jet]
    u = cos * de + sin * dp
    v = -sin * de + cos * dp
    u = u * np.where(per_jet(w * u**3) < 0, -1.0, 1.0)[jet]
    v = v * np.where(per_jet(w * (v > 0)) < per_jet(w * (v < 0)), -1.0, 1.0)[jet]
    out_eta = ak.unflatten(jeta[jet] + u, counts)
    out_phi = ak.unflatten(wrap_phi(jphi[jet] + v), counts)
    out = ak.with_field(ak.with_field(jets, out_eta, "eta"), out_phi, "phi")
    return ak.unflatten(out, ak.num(constituents, axis=1)) if nested else out
