"""Mass-decorrelating transformations of jet constituents (data augmentation).

An anomaly score trained on jets learns whatever separates typical from atypical jets, and
the jet mass is the strongest such feature: a score correlated with m_j sculpts the dijet
mass spectrum after a cut (background bumps appear where there is no signal). These
transforms change the jet mass while keeping the substructure *pattern*, so a model trained
on augmented jets cannot use the mass itself (A. D'Avanzo for ATLAS, EuCAIFCon 2025: "data
augmented for mass decorrelation (transformed constituents)"). All are vectorised over jets,
leave constituent pT untouched unless stated, and return new constituents plus the recomputed
jet axis.

Physics. For a boosted jet (small opening angles) of massless constituents,

    m^2 = 2 sum_{i<j} pT_i pT_j (cosh Delta eta_ij - cos Delta phi_ij)
        ~ sum_{i<j} pT_i pT_j Delta R_ij^2 ,

so scaling every constituent's angular offset from the jet axis by a factor s scales the mass
by ~s (exactly s in the small-angle limit) at fixed pT and fixed pT fractions. The prong
pattern in units of the jet's own angular size, and hence scale-free substructure such as
tau21 and tau32, is unchanged; what changes is the overall angular scale m / pT, which is
precisely the mass information.

- :func:`scale_angles` — the primitive: offsets (Delta eta, wrapped Delta phi) from the axis
  times a per-jet factor.
- :func:`rescale_to_mass` — every jet to a reference mass m_ref (s ~ m_ref / m, refined by
  fixed-point iterations to the exact mass): a deterministic standardisation that removes
  the mass from the inputs entirely.
- :func:`random_mass_rescale` — a random log-uniform s per jet (seeded): an augmentation
  that spreads each training jet over a range of masses, so the mass stops being a
  feature of "typical" jets.
- :func:`boost_along_axis` — the exact Lorentz boost of every jet along its axis by a given
  rapidity (mass invariant); the symmetry augmentation (:mod:`adsearch.graphs.symmetry`)
  draws small random ones.
- :func:`boost_to_pt` — an exact Lorentz boost of every jet along its axis to a reference pT
  (mass invariant; angles shrink ~ pT / pT_ref): removes the pT (and so the m_jj)
  dependence of the angular scale, leaving m / pT_ref.
- :func:`standardise` — both: every jet boosted to pT_ref and rescaled to m_ref, so all jets
  have the same angular scale m / pT. Apply it to training *and* scored jets.

Which to use (measured, benchmarks/bench_graphs.py ``--sculpting``, toy QCD-like jets,
DeepSVDD GIN, top-10 % score cut, two seeds): :func:`standardise` on training and test jets
brought |Spearman(score, m_j)| from 0.20-0.31 down to 0.01-0.05 and the m_j-shape JS
divergence from 0.09-0.15 to 0.01-0.02. :func:`random_mass_rescale` on the training jets
only did *not* decorrelate a DeepSVDD score (|rho| 0.40-0.44): the one-class objective
learns the density of the angular scale, which random rescaling broadens but keeps peaked,
so the score still tracks the distance from the typical mass. Random rescaling suits
classifier-style training (CWoLa, supervised) where both classes are rescaled alike.
Decorrelating is not finding: on the LHCO-like benchmark (benchmarks/bench_auc.py, 100k QCD
jets, W' signals) GIN DeepSVDD with :func:`rescale_to_mass` reached event AUC 57.3 / 56.9 %
(2- / 3-prong) and with :func:`standardise` 62.5 / 62.3 %, against 62.6 / 63.0 % without: the
mass correlation fell (Spearman 0.31 to 0.18-0.21), the prong structure was not learned.
The jet mass also depends on how the pT is shared among constituents, which none of these
transforms change: they remove the angular-scale part of the mass information only.

Caveats: scaling by s > 1 can move soft wide-angle constituents beyond the jet radius or the
detector acceptance (nothing is clipped); single-constituent (massless) jets are left as they
are by the mass transforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
from numpy.typing import ArrayLike

from adsearch.errors import InputError
from adsearch.graphs.build import JetAxis, _flatten_jets, flat_constituents, jet_axis, wrap_phi

__all__ = [
    "Augmented",
    "boost_along_axis",
    "boost_to_pt",
    "random_mass_rescale",
    "rescale_to_mass",
    "scale_angles",
    "standardise",
]


@dataclass(frozen=True)
class Augmented:
    """Transformed constituents (``jets * var * {pt, eta, phi}``) and their jet axis/mass."""

    constituents: ak.Array
    axis: JetAxis
    factor: np.ndarray  # per-jet angular scale factor applied (boost_to_pt: boost rapidity)


def _pack(counts: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> ak.Array:
    return ak.unflatten(ak.zip({"pt": pt, "eta": eta, "phi": phi}), counts)


def _mass(jet: np.ndarray, n: int, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    px = np.bincount(jet, pt * np.cos(phi), minlength=n)
    py = np.bincount(jet, pt * np.sin(phi), minlength=n)
    pz = np.bincount(jet, pt * np.sinh(eta), minlength=n)
    e = np.bincount(jet, pt * np.cosh(eta), minlength=n)
    return np.sqrt(np.clip(e * e - px * px - py * py - pz * pz, 0.0, None))


def _axis_of(constituents: ak.Array, axis: JetAxis | None) -> JetAxis:
    if axis is None:
        return jet_axis(constituents)
    return axis


def scale_angles(
    constituents: ak.Array,
    factor: ArrayLike,
    jet_eta: ArrayLike | None = None,
    jet_phi: ArrayLike | None = None,
) -> ak.Array:
    """Scale every constituent's (Delta eta, wrapped Delta phi) from the jet axis by ``factor``.

    ``factor`` is a scalar or one value per jet; the axis defaults to :func:`jet_axis`.

    >>> c = ak.Array([[{"pt": 1.0, "eta": 0.1, "phi": 3.1}, {"pt": 1.0, "eta": -0.1, "phi": -3.1}]])
    >>> s = scale_angles(c, 2.0, [0.0], [np.pi])
    >>> np.round(ak.to_list(s.eta[0]), 3).tolist(), np.round(ak.to_list(s.phi[0]), 3).tolist()
    ([0.2, -0.2], [3.058, -3.058])
    """
    counts, pt, eta, phi = flat_constituents(constituents)
    n = len(counts)
    if jet_eta is None or jet_phi is None:
        ax = jet_axis(constituents)
        jeta, jphi = ax.eta, ax.phi
    else:
        jeta, jphi = _flatten_jets(jet_eta, "jet_eta"), _flatten_jets(jet_phi, "jet_phi")
    s = np.broadcast_to(np.asarray(factor, dtype=np.float64), (n,))
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise InputError("scale_angles: factor must be finite and positive")
    jet = np.repeat(np.arange(n), counts)
    new_eta = jeta[jet] + s[jet] * (eta - jeta[jet])
    new_phi = wrap_phi(jphi[jet] + s[jet] * wrap_phi(phi - jphi[jet]))
    return _pack(counts, pt, new_eta, new_phi)


def _rescale(
    constituents: ak.Array,
    target_or_factor: ArrayLike,
    axis: JetAxis | None,
    iterations: int,
    exact_target: bool,
) -> Augmented:
    counts, pt, eta, phi = flat_constituents(constituents)
    n = len(counts)
    ax = _axis_of(constituents, axis)
    jet = np.repeat(np.arange(n), counts)
    d_eta = eta - ax.eta[jet]
    d_phi = wrap_phi(phi - ax.phi[jet])
    m0 = _mass(jet, n, pt, eta, phi)
    ok = m0 > 1e-9 * np.maximum(ax.pt, 1e-300)  # massless (single-constituent) jets: keep
    if exact_target:
        m_ref = np.broadcast_to(np.asarray(target_or_factor, dtype=np.float64), (n,))
        s = np.where(ok, m_ref / np.where(ok, m0, 1.0), 1.0)
        for _ in range(iterations):  # fixed point s <- s * m_ref / m(s): m(s) ~ s m0
            m = _mass(jet, n, pt, ax.eta[jet] + s[jet] * d_eta, ax.phi[jet] + s[jet] * d_phi)
            s = np.where(ok & (m > 0), s * m_ref / np.where(m > 0, m, 1.0), s)
    else:
        s = np.where(ok, target_or_factor, 1.0)
    new_eta = ax.eta[jet] + s[jet] * d_eta
    new_phi = wrap_phi(ax.phi[jet] + s[jet] * d_phi)
    out = _pack(counts, pt, new_eta, new_phi)
    return Augmented(out, jet_axis(out), s)


def rescale_to_mass(
    constituents: ak.Array, m_ref: float, axis: JetAxis | None = None, iterations: int = 3
) -> Augmented:
    """Scale each jet's angular offsets so that its mass becomes ``m_ref`` (GeV).

    ``iterations`` fixed-point refinements make the mass exact beyond the small-angle
    approximation (3 give < 1e-4 relative error for R = 1 jets).

    >>> from adsearch.graphs.toy import toy_jets
    >>> a = rescale_to_mass(toy_jets(4, seed=0), 100.0)
    >>> np.round(a.axis.mass, 2).tolist()
    [100.0, 100.0, 100.0, 100.0]
    """
    if not np.all(np.isfinite(m_ref)) or np.any(np.asarray(m_ref) <= 0):
        raise InputError(f"rescale_to_mass: m_ref must be positive and finite, got {m_ref}")
    return _rescale(constituents, m_ref, axis, iterations, exact_target=True)


def random_mass_rescale(
    constituents: ak.Array,
    seed: int | np.random.Generator,
    low: float = 0.5,
    high: float = 2.0,
    axis: JetAxis | None = None,
) -> Augmented:
    """Scale each jet's angular offsets by a random factor, log-uniform in [low, high].

    The jet mass scales by about the same factor (small-angle limit); the pT fractions and
    the prong pattern are unchanged. Same seed -> identical output.

    >>> from adsearch.graphs.toy import toy_jets
    >>> j = toy_jets(3, seed=0)
    >>> a, b = random_mass_rescale(j, 7), random_mass_rescale(j, 7)
    >>> bool(np.all(a.factor == b.factor)), bool(np.all((a.factor >= 0.5) & (a.factor <= 2)))
    (True, True)
    """
    if not (0 < low <= high) or not np.isfinite(high):
        raise InputError(f"random_mass_rescale: need 0 < low <= high, got {low}, {high}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = len(constituents) if constituents.ndim == 2 else int(ak.sum(ak.num(constituents)))
    s = np.exp(rng.uniform(np.log(low), np.log(high), n))
    return _rescale(constituents, s, axis, 0, exact_target=False)


#: (x, y, z, E) components, each one array
FourVectors = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _momenta(constituents: ak.Array) -> tuple[np.ndarray, np.ndarray, FourVectors, FourVectors]:
    """Flat constituent four-momenta and per-jet 3-momentum sums (massless constituents)."""
    counts, pt, eta, phi = flat_constituents(constituents)
    n = len(counts)
    jet = np.repeat(np.arange(n), counts)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = pt * np.cosh(eta)
    jpx, jpy, jpz, je = (np.bincount(jet, v, minlength=n) for v in (px, py, pz, e))
    return counts, jet, (px, py, pz, e), (jpx, jpy, jpz, je)


def _boost(
    counts: np.ndarray,
    jet: np.ndarray,
    p: FourVectors,
    jp3: tuple[np.ndarray, np.ndarray, np.ndarray],
    dy: np.ndarray,
) -> ak.Array:
    """Boost every constituent along its jet's 3-momentum direction by rapidity ``dy[jet]``."""
    px, py, pz, e = p
    jpx, jpy, jpz = jp3
    jp = np.sqrt(jpx**2 + jpy**2 + jpz**2)
    ux, uy, uz = jpx / jp, jpy / jp, jpz / jp
    beta, gamma = np.tanh(dy)[jet], np.cosh(dy)[jet]
    p_par = px * ux[jet] + py * uy[jet] + pz * uz[jet]
    new_par = gamma * (p_par + beta * e)
    add = new_par - p_par
    px2, py2, pz2 = px + add * ux[jet], py + add * uy[jet], pz + add * uz[jet]
    pt2 = np.hypot(px2, py2)
    return _pack(counts, pt2, np.arcsinh(pz2 / pt2), np.arctan2(py2, px2))


def boost_along_axis(constituents: ak.Array, rapidity: ArrayLike) -> Augmented:
    """Lorentz-boost every jet along its own 3-momentum direction by ``rapidity`` (per jet).

    Exact special relativity on the massless constituents (momenta ``p_i``, energies
    ``E_i``), with the unit jet direction ``u = P / |P|``, ``β = tanh y``, ``γ = cosh y``::

        p_i∥' = γ (p_i∥ + β E_i),   p_i⊥' = p_i⊥,   p_i∥ = p_i · u

    The jet mass and direction are invariant; the jet rapidity along its axis grows by
    ``y``, so ``|P'| = m sinh(Y + y)`` (``|P| = m sinh Y``) ~ ``e^y |P|`` for ``|P| >> m``.
    To leading order in the angles, every constituent's pT scales by ``e^y`` and its
    (Δη, Δφ) offset from the axis by ``e^-y``, so ``pT · ΔR`` (~ the mass) is kept. Any
    jet with ``|P| > 0`` can be boosted (single-constituent jets too); for ``y < 0`` a
    constituent at an angle ``> arccos(tanh |y|)`` to the axis would turn backwards
    (> 62° for ``|y| = 0.5``: beyond R = 1 jets). ``factor`` holds ``y``.

    >>> from adsearch.graphs.toy import toy_jets
    >>> j = toy_jets(2, seed=0)
    >>> a, ax = boost_along_axis(j, 0.1), jet_axis(j)
    >>> bool(np.allclose(a.axis.mass, ax.mass)), bool(np.allclose(a.axis.eta, ax.eta))
    (True, True)
    """
    counts, jet, p, jsum = _momenta(constituents)
    y = np.broadcast_to(np.asarray(rapidity, dtype=np.float64), (len(counts),))
    if not np.all(np.isfinite(y)):
        raise InputError("boost_along_axis: rapidity must be finite")
    out = _boost(counts, jet, p, jsum[:3], y)
    return Augmented(out, jet_axis(out), np.array(y))


def boost_to_pt(constituents: ak.Array, pt_ref: float) -> Augmented:
    """Lorentz-boost every jet along its own axis so that its pT becomes ``pt_ref`` (GeV).

    Exact special relativity on the massless constituents: the jet mass is invariant, the
    jet direction is kept, opening angles shrink (grow) ~ pT / pt_ref. ``factor`` holds the
    boost rapidity of each jet (:func:`boost_along_axis`).

    >>> from adsearch.graphs.toy import toy_jets
    >>> j = toy_jets(2, seed=0)
    >>> a = boost_to_pt(j, 3000.0)
    >>> np.round(a.axis.pt, 3).tolist(), bool(np.allclose(a.axis.mass, jet_axis(j).mass))
    ([3000.0, 3000.0], True)
    """
    if not np.isfinite(pt_ref) or pt_ref <= 0:
        raise InputError(f"boost_to_pt: pt_ref must be positive and finite, got {pt_ref}")
    counts, jet, p, (jpx, jpy, jpz, je) = _momenta(constituents)
    jp = np.sqrt(jpx**2 + jpy**2 + jpz**2)
    m = np.sqrt(np.clip(je**2 - jp**2, 0.0, None))
    jpt = np.hypot(jpx, jpy)
    # massless (single-constituent) jets have no rest frame: they are left as they are,
    # as rescale_to_mass leaves them (real LHCO-like data has a few)
    ok = m > 1e-9 * np.maximum(jp, 1e-300)
    msafe = np.where(ok, m, 1.0)
    # target |p| at fixed direction: pT_ref / pT = |p'| / |p|; rapidity along the axis
    p_target = jp * pt_ref / jpt
    dy = np.where(ok, np.arcsinh(p_target / msafe) - np.arcsinh(jp / msafe), 0.0)
    out = _boost(counts, jet, p, (jpx, jpy, jpz), dy)
    return Augmented(out, jet_axis(out), dy)


def standardise(
    constituents: ak.Array, pt_ref: float = 1500.0, m_ref: float = 100.0, iterations: int = 3
) -> Augmented:
    """Boost every jet to ``pt_ref`` and rescale its angles to mass ``m_ref`` (GeV).

    All jets then share the angular scale m / pT = m_ref / pt_ref; what is left is the jet's
    shape (pT sharing, prong pattern). ``factor`` is the angular scale factor of the second
    step. Single-constituent (massless) jets have no rest frame and are left unchanged.

    >>> from adsearch.graphs.toy import toy_jets
    >>> a = standardise(toy_jets(3, seed=0), 1500.0, 100.0)
    >>> np.round(a.axis.mass, 2).tolist(), bool(np.allclose(a.axis.pt, 1500.0, rtol=0.05))
    ([100.0, 100.0, 100.0], True)
    """
    boosted = boost_to_pt(constituents, pt_ref)
    return rescale_to_mass(boosted.constituents, m_ref, boosted.axis, iterations)
