"""Symmetry augmentation of jet constituents: rotations about the jet axis, η reflections
and small boosts along it (training-time data augmentation, ``data.symmetry``).

A jet's radiation pattern is, to a good approximation, symmetric under turning it about
its own axis and under mirroring it in η, and a boost along the axis changes only its
energy scale (opening angles ~ m / pT). A model shown randomly turned, mirrored and boosted
copies of each training jet (a new draw every epoch) learns features invariant under
those operations; the jets it scores are left as they are. The image backbone has the same
rotation and reflection for its pixelisation (:func:`adsearch.images.random_symmetry`);
these act on the constituents, so every backbone (graphs, padded sets, images) can use them.

Coordinates: the offsets of constituent ``i`` of jet ``b`` from the jet axis
``(η_b, φ_b)``, ``Δη_i = η_i - η_b`` and ``Δφ_i = wrap(φ_i - φ_b)`` (``wrap`` into
[-π, π)). Per jet ``b``, in this order:

1. boost (``boost = ε_max > 0``): an exact Lorentz boost along the jet's 3-momentum by
   rapidity ``y_b ~ U[-ε_max, ε_max]`` (:func:`adsearch.graphs.augment.boost_along_axis`).
   The jet mass and direction are invariant; to leading order in the angles

       pT_i -> e^{y_b} pT_i ,   (Δη_i, Δφ_i) -> e^{-y_b} (Δη_i, Δφ_i) ,

   so the pT fractions are kept and ``pT · ΔR`` (~ m) too, while m / pT scales by
   ``e^{-y_b}``. The jet axis (pT, η, φ) is then recomputed from the boosted constituents.
2. rotation (``rotate``): ``θ_b ~ U[0, 2π)``,

       Δη_i' = Δη_i cos θ_b - Δφ_i sin θ_b ,   Δφ_i' = Δη_i sin θ_b + Δφ_i cos θ_b ,

   then ``η_i = η_b + Δη_i'``, ``φ_i = wrap(φ_b + Δφ_i')``.
3. η reflection (``reflect``): ``Δη_i' = s_b Δη_i``, ``s_b = ±1`` with probability 1/2.

Rotations and reflections keep every constituent's pT, hence the scalar pT sum, and the jet
axis passed in (returned unchanged: the transformation acts on the model's node features
``(pT_i / pT_b, Δη_i, Δφ_i)`` exactly as written above). For massless constituents

    m² = 2 Σ_{i<j} pT_i pT_j (cosh Δη_ij - cos Δφ_ij) ,

so a reflection keeps the mass exactly (``|Δη_ij|`` and ``Δφ_ij`` are unchanged) and a
rotation, which keeps ``ΔR_ij² = Δη_ij² + Δφ_ij²``, keeps it to leading order only: the
relative change of m² is ~ (Δη_ij² - Δφ_ij²) / 12, e.g. ~0.3 % for ΔR ~ 0.3. They are not
Lorentz transformations; the pT of the constituents' vector sum changes at O(ΔR²) too.

With ``graph.frame: principal`` every jet is turned and mirrored into its principal frame
after these steps, which undoes the rotation and the reflection (only the boost is left).

Vectorised over jets (``np.bincount`` / ``np.repeat``, no loop over jets); the random
numbers come from the numpy ``Generator`` passed in (one array of ``n_jets`` per active
operation, in the order boost, rotation, reflection), so equal seeds give equal jets.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
from numpy.typing import ArrayLike

from adsearch.errors import InputError
from adsearch.graphs.augment import boost_along_axis
from adsearch.graphs.build import _flatten_jets, flat_constituents, wrap_phi

__all__ = [
    "MAX_BOOST",
    "SymmetryDraws",
    "apply_symmetry",
    "augment_symmetry",
    "reflect_eta",
    "rotate_about_axis",
]

#: the largest boost rapidity range allowed: angles change by at most e^0.5 ~ 1.65
MAX_BOOST = 0.5

Jets = tuple[ak.Array, np.ndarray, np.ndarray, np.ndarray]


def _offsets_transformed(
    constituents: ak.Array,
    jet_eta: ArrayLike,
    jet_phi: ArrayLike,
    angle: np.ndarray | None,
    sign: np.ndarray | None,
) -> ak.Array:
    """Rotate (``angle``) and/or reflect (``sign`` = ±1) the offsets from the given axes."""
    counts, _pt, eta, phi = flat_constituents(constituents)
    n = len(counts)
    jeta, jphi = _flatten_jets(jet_eta, "jet_eta"), _flatten_jets(jet_phi, "jet_phi")
    for name, arr in (("jet_eta", jeta), ("jet_phi", jphi)):
        if len(arr) != n:
            raise InputError(f"{name}: has {len(arr)} entries for {n} jets")
    jet = np.repeat(np.arange(n, dtype=np.int64), counts)
    de = eta - jeta[jet]
    new_phi = phi
    if angle is not None:
        dp = wrap_phi(phi - jphi[jet])
        cos, sin = np.cos(angle)[jet], np.sin(angle)[jet]
        de, dp = de * cos - dp * sin, de * sin + dp * cos
        new_phi = wrap_phi(jphi[jet] + dp)
    if sign is not None:
        de = de * sign[jet]
    new_eta = jeta[jet] + de
    if angle is None and sign is not None:  # jets not reflected keep their η bit for bit
        new_eta = np.where(sign[jet] < 0, new_eta, eta)
    nested = constituents.ndim == 3
    jets = ak.flatten(constituents, axis=1) if nested else constituents
    out = ak.with_field(jets, ak.unflatten(new_eta, counts), "eta")
    out = ak.with_field(out, ak.unflatten(new_phi, counts), "phi")
    return ak.unflatten(out, ak.num(constituents, axis=1)) if nested else out


def _per_jet(values: ArrayLike, n: int, name: str) -> np.ndarray:
    v = np.broadcast_to(np.asarray(values, dtype=np.float64), (n,))
    if not np.all(np.isfinite(v)):
        raise InputError(f"{name}: must be finite")
    return v


def _n_jets(constituents: ak.Array) -> int:
    return len(flat_constituents(constituents)[0])


def rotate_about_axis(
    constituents: ak.Array, angle: ArrayLike, jet_eta: ArrayLike, jet_phi: ArrayLike
) -> ak.Array:
    """Rotate every jet's constituent offsets (Δη, Δφ) about its axis by ``angle`` (rad).

    ``angle`` is a scalar or one value per jet; pT (and any other field) is kept. Shapes:
    ``constituents`` ``jets * var * {pt, eta, phi, ...}`` (or ``events * jets * var``),
    ``angle``, ``jet_eta``, ``jet_phi`` ``[n_jets]``.

    >>> c = ak.Array([[{"pt": 1.0, "eta": 0.2, "phi": 3.1}]])
    >>> r = rotate_about_axis(c, np.pi / 2, [0.0], [3.1])
    >>> np.round(ak.to_list(r.eta[0]), 6).tolist(), np.round(ak.to_list(r.phi[0]), 4).tolist()
    ([0.0], [-2.9832])
    """
    n = _n_jets(constituents)
    return _offsets_transformed(
        constituents, jet_eta, jet_phi, _per_jet(angle, n, "rotate_about_axis: angle"), None
    )


def reflect_eta(constituents: ak.Array, flip: ArrayLike, jet_eta: ArrayLike) -> ak.Array:
    """Mirror the η offsets of the jets where ``flip`` is true: Δη -> -Δη about ``jet_eta``.

    ``flip`` is a boolean per jet (or a scalar); φ and pT are kept, and jets not flipped
    keep their constituents bit for bit.

    >>> c = ak.Array([[{"pt": 1.0, "eta": 0.7, "phi": 0.0}], [{"pt": 1.0, "eta": 0.7, "phi": 0.0}]])
    >>> np.round(ak.to_list(reflect_eta(c, [True, False], [0.5, 0.5]).eta), 6).tolist()
    [[0.3], [0.7]]
    """
    n = _n_jets(constituents)
    f = np.broadcast_to(np.asarray(flip, dtype=bool), (n,))
    sign = np.where(f, -1.0, 1.0)
    return _offsets_transformed(constituents, jet_eta, np.zeros(n), None, sign)


@dataclass(frozen=True)
class SymmetryDraws:
    """The random parameters of one symmetry augmentation, one entry per jet (None: off).

    Attributes
    ----------
    rapidity : ndarray [n_jets] or None
        Boost rapidity ``y ~ U[-boost, boost]``.
    angle : ndarray [n_jets] or None
        Rotation angle ``θ ~ U[0, 2π)`` (rad).
    flip : ndarray bool [n_jets] or None
        η reflection (probability 1/2).
    """

    rapidity: np.ndarray | None
    angle: np.ndarray | None
    flip: np.ndarray | None

    @classmethod
    def draw(
        cls,
        rng: np.random.Generator,
        n_jets: int,
        *,
        rotate: bool = False,
        reflect: bool = False,
        boost: float = 0.0,
    ) -> SymmetryDraws:
        """Draw from ``rng``: boost, then rotation, then reflection (each only when on).

        >>> d = SymmetryDraws.draw(np.random.default_rng(0), 3, rotate=True)
        >>> d.angle.shape, d.flip is None, d.rapidity is None
        ((3,), True, True)
        """
        if not 0.0 <= boost <= MAX_BOOST:
            raise InputError(f"boost: must be in [0, {MAX_BOOST}], got {boost}")
        y = rng.uniform(-boost, boost, n_jets) if boost > 0 else None
        angle = rng.uniform(0.0, 2.0 * np.pi, n_jets) if rotate else None
        flip = rng.random(n_jets) < 0.5 if reflect else None
        return cls(y, angle, flip)


def apply_symmetry(
    constituents: ak.Array,
    jet_pt: ArrayLike,
    jet_eta: ArrayLike,
    jet_phi: ArrayLike,
    draws: SymmetryDraws,
) -> Jets:
    """Apply drawn symmetry transformations (module docstring: boost, rotation, reflection).

    Parameters
    ----------
    constituents : ak.Array
        ``n_jets * var * {pt, eta, phi}``.
    jet_pt, jet_eta, jet_phi : array-like [n_jets]
        The jet axis; rotations and reflections act about it and keep it.
    draws : :class:`SymmetryDraws` with arrays of length ``n_jets``.

    Returns
    -------
    (constituents, jet_pt, jet_eta, jet_phi)
        Transformed constituents (same jets and order) and the jet axis: the one given,
        or, after a boost, the boosted constituents' (:func:`adsearch.graphs.jet_axis`).
    """
    nested = constituents.ndim == 3  # events * jets * var: work on the jets, re-nest at the end
    cons = ak.flatten(constituents, axis=1) if nested else constituents
    pt = _flatten_jets(jet_pt, "jet_pt")
    eta = _flatten_jets(jet_eta, "jet_eta")
    phi = _flatten_jets(jet_phi, "jet_phi")
    if draws.rapidity is not None:
        a = boost_along_axis(cons, draws.rapidity)
        for f in ("pt", "eta", "phi"):  # other fields (if any) are kept
            cons = ak.with_field(cons, a.constituents[f], f)
        pt, eta, phi = a.axis.pt, a.axis.eta, a.axis.phi
    if draws.angle is not None or draws.flip is not None:
        sign = None if draws.flip is None else np.where(draws.flip, -1.0, 1.0)
        cons = _offsets_transformed(cons, eta, phi, draws.angle, sign)
    if nested:
        cons = ak.unflatten(cons, ak.num(constituents, axis=1))
    return cons, pt, eta, phi


def augment_symmetry(
    constituents: ak.Array,
    jet_pt: ArrayLike,
    jet_eta: ArrayLike,
    jet_phi: ArrayLike,
    rng: np.random.Generator,
    *,
    rotate: bool = False,
    reflect: bool = False,
    boost: float = 0.0,
) -> Jets:
    """Randomly boost, rotate and η-reflect every jet (:class:`SymmetryDraws` from ``rng``,
    then :func:`apply_symmetry`). With everything off the inputs are returned as they are.

    >>> from adsearch.graphs import jet_axis, toy_jets
    >>> j = toy_jets(4, seed=0)
    >>> ax = jet_axis(j)
    >>> c, pt, eta, phi = augment_symmetry(j, ax.pt, ax.eta, ax.phi, np.random.default_rng(1),
    ...                                    rotate=True, reflect=True)
    >>> bool(np.all(pt == ax.pt)), bool(np.allclose(jet_axis(c).mass, ax.mass, rtol=0.05))
    (True, True)
    """
    if not (rotate or reflect or boost > 0):
        axes = (
            _flatten_jets(a, n)
            for a, n in ((jet_pt, "jet_pt"), (jet_eta, "jet_eta"), (jet_phi, "jet_phi"))
        )
        return (constituents, *axes)
    draws = SymmetryDraws.draw(
        rng, _n_jets(constituents), rotate=rotate, reflect=reflect, boost=boost
    )
    return apply_symmetry(constituents, jet_pt, jet_eta, jet_phi, draws)
