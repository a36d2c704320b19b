"""Toy boosted jets for tests, benchmarks and examples (not a physics generator).

A toy jet has ``n_prongs`` hard subjets (1 = QCD-like, 2 or 3 = resonance-like) placed about a
random jet axis at opening angles ~ 2 m / pT (the boosted two-body angle), and constituents
scattered around each prong with a Gaussian angular spread and exponentially falling pT. The
defaults reproduce the graph sizes measured on real LHCO leading jets: ~56 constituents and
~25 Delta R < 0.2 neighbours per constituent. Use the real generator (``adsearch.generate``)
for physics; use this where only the shapes of the arrays matter.

:func:`toy_substructure_pair` makes a QCD-like and a two-prong sample with the same jet-mass
distribution, for tests that a score learns substructure and not the jet mass.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from adsearch.graphs.build import jet_axis

__all__ = ["toy_jets", "toy_substructure_pair"]


def toy_jets(
    n_jets: int,
    seed: int | np.random.Generator = 0,
    *,
    n_prongs: int = 1,
    mean_constituents: float = 56.0,
    jet_pt: float | np.ndarray = 1400.0,
    mass: float | np.ndarray = 150.0,
    spread: float | np.ndarray = 0.1,
) -> ak.Array:
    """``n_jets * var * {pt, eta, phi}`` toy constituents (float64), sorted by decreasing pT.

    Parameters
    ----------
    n_jets : int
        Number of jets.
    seed : int or numpy.random.Generator
        Randomness (same seed -> same jets).
    n_prongs : int
        Hard subjets per jet (1, 2 or 3).
    mean_constituents : float
        Poisson mean of the number of constituents (at least 3 per jet).
    jet_pt, mass : float or array of n_jets
        Scale (GeV) of the jet pT and of the prong opening angle ~ 2 mass / jet_pt.
    spread : float or array of n_jets
        Gaussian angular width of the constituents about their prong.

    Examples
    --------
    >>> j = toy_jets(3, seed=1)
    >>> len(j), bool(ak.all(j.pt[:, :-1] >= j.pt[:, 1:]))
    (3, True)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    jet_pt = np.broadcast_to(np.asarray(jet_pt, dtype=np.float64), (n_jets,))
    mass = np.broadcast_to(np.asarray(mass, dtype=np.float64), (n_jets,))
    spread = np.broadcast_to(np.asarray(spread, dtype=np.float64), (n_jets,))
    counts = np.maximum(rng.poisson(mean_constituents, n_jets), 3)
    tot = int(counts.sum())
    jet = np.repeat(np.arange(n_jets), counts)
    axis_eta = rng.uniform(-2.0, 2.0, n_jets)
    axis_phi = rng.uniform(-np.pi, np.pi, n_jets)
    # prong offsets from the axis: symmetric-ish splits at angle ~ 2 m / pT
    theta = (2.0 * mass / jet_pt)[:, None] * rng.uniform(0.7, 1.4, (n_jets, 1))
    ang = rng.uniform(0, 2 * np.pi, (n_jets, 1)) + 2 * np.pi * np.arange(n_prongs) / n_prongs
    pr_eta = 0.5 * theta * np.cos(ang) if n_prongs > 1 else np.zeros((n_jets, 1))
    pr_phi = 0.5 * theta * np.sin(ang) if n_prongs > 1 else np.zeros((n_jets, 1))
    prong = rng.integers(0, n_prongs, tot)
    pt = rng.exponential(1.0, tot) ** 1.5 + 1e-3
    width = spread[jet] * (1.0 + 0.5 * rng.exponential(1.0, tot))
    eta = axis_eta[jet] + pr_eta[jet, prong] + rng.normal(0.0, 1.0, tot) * width
    phi = axis_phi[jet] + pr_phi[jet, prong] + rng.normal(0.0, 1.0, tot) * width
    phi = np.mod(phi + np.pi, 2 * np.pi) - np.pi
    pt_sum = np.bincount(jet, pt, minlength=n_jets)
    pt = pt / pt_sum[jet] * (jet_pt * rng.uniform(0.9, 1.2, n_jets))[jet]
    order = np.lexsort((-pt, jet))
    cons = ak.zip({"pt": pt[order], "eta": eta[order], "phi": phi[order]})
    return ak.unflatten(cons, counts)


def _two_subjet_jets(
    rng: np.random.Generator,
    z: np.ndarray,
    mass: np.ndarray,
    jet_pt: float,
    mean_constituents: float,
    spread: float,
) -> ak.Array:
    """Jets of two subjets with pT fractions ``1 - z`` and ``z`` and mass ~ ``mass``.

    The opening angle is ``theta = mass / (jet_pt sqrt(z (1 - z)))`` (the two-body mass
    ``m^2 ~ z (1 - z) pT^2 theta^2``); the subjets sit at ``z theta`` and ``(1 - z) theta``
    on either side of the jet axis, so the pT-weighted centroid is the axis.
    """
    n = z.size
    counts = np.maximum(rng.poisson(mean_constituents, n), 4)
    tot = int(counts.sum())
    jet = np.repeat(np.arange(n), counts)
    start = np.r_[0, np.cumsum(counts)[:-1]]
    # constituents per subjet roughly follow the pT share (at least 1 each, soft ones fewer)
    sub = (rng.random(tot) < np.maximum(z, 0.15)[jet]).astype(np.int64)
    sub[start], sub[start + 1] = 0, 1
    theta = mass / (jet_pt * np.sqrt(z * (1.0 - z)))
    ang = rng.uniform(0, 2 * np.pi, n)
    off = np.stack([z * theta, -(1.0 - z) * theta], axis=1)  # signed distance along ``ang``
    axis_eta = rng.uniform(-2.0, 2.0, n)
    axis_phi = rng.uniform(-np.pi, np.pi, n)
    d = off[jet, sub]
    eta = axis_eta[jet] + d * np.cos(ang)[jet] + rng.normal(0.0, spread, tot)
    phi = axis_phi[jet] + d * np.sin(ang)[jet] + rng.normal(0.0, spread, tot)
    phi = np.mod(phi + np.pi, 2 * np.pi) - np.pi
    pt = rng.exponential(1.0, tot) ** 1.5 + 1e-3
    key = 2 * jet + sub
    share = np.stack([1.0 - z, z], axis=1).reshape(-1)[key]
    pt = pt / np.bincount(key, pt, minlength=2 * n)[key] * share * jet_pt
    order = np.lexsort((-pt, jet))
    cons = ak.zip({"pt": pt[order], "eta": eta[order], "phi": phi[order]})
    return ak.unflatten(cons, counts)


def _mass_matched(
    m_b: np.ndarray, m_a: np.ndarray, n: int, rng: np.random.Generator, n_bins: int = 40
) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices of ``n`` jets of each pool with equal counts in every mass bin (or None)."""
    edges = np.quantile(np.r_[m_b, m_a], np.linspace(0, 1, n_bins + 1))
    bb = np.clip(np.searchsorted(edges, m_b, side="right") - 1, 0, n_bins - 1)
    ba = np.clip(np.searchsorted(edges, m_a, side="right") - 1, 0, n_bins - 1)
    cap = np.minimum(np.bincount(bb, minlength=n_bins), np.bincount(ba, minlength=n_bins))
    if cap.sum() < n:
        return None
    want = n * cap / cap.sum()
    take = np.floor(want).astype(np.int64)
    rest = np.argsort(-(want - take), kind="stable")[: n - int(take.sum())]
    take[rest] += 1  # largest remainders (never above cap: want <= cap)
    pick_b, pick_a = [], []
    for k in np.flatnonzero(take):
        pick_b.append(rng.choice(np.flatnonzero(bb == k), take[k], replace=False))
        pick_a.append(rng.choice(np.flatnonzero(ba == k), take[k], replace=False))
    return rng.permutation(np.concatenate(pick_b)), rng.permutation(np.concatenate(pick_a))


def toy_substructure_pair(
    n: int,
    seed: int | np.random.Generator = 0,
    *,
    mean_constituents: float = 40.0,
    jet_pt: float = 1400.0,
    mass_range: tuple[float, float] = (60.0, 250.0),
) -> tuple[ak.Array, ak.Array]:
    """QCD-like and two-prong toy jets with matched jet-mass distributions.

    Both kinds are a hard subjet plus a second one (pT fraction ``z``) at an angle set by a
    target mass drawn uniformly from ``mass_range``:

    * background (QCD-like, one hard prong): ``z`` ~ 1/z in [0.03, 0.15], the jet mass made
      by a soft wide-angle emission, as in a parton shower;
    * anomaly (two-prong, a boosted two-body decay): ``z`` uniform in [0.3, 0.5].

    Both pools are oversampled and then subsampled to the same counts in 40 mass bins, so the
    jet mass alone does not separate them (AUC ~ 0.5), while the pT balance of the prongs
    does: the girth ``~ 2 sqrt(z (1 - z)) m / pT`` at fixed mass and tau21 are far from
    chance (a one-prong jet of mass m has the smaller girth and the larger tau21).

    Parameters
    ----------
    n : number of jets of each kind.
    seed : int or numpy.random.Generator (same seed -> same jets).
    mean_constituents : Poisson mean of the constituents per jet (at least 4).
    jet_pt : jet pT in GeV.
    mass_range : range of the target jet masses (GeV).

    Returns
    -------
    (background, anomaly)
        Two ``n * var * {pt, eta, phi}`` arrays, constituents by decreasing pT.

    >>> b, a = toy_substructure_pair(50, seed=1)
    >>> len(b), len(a), sorted(b.fields)
    (50, 50, ['eta', 'phi', 'pt'])
    """

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    pool = max(2 * n, 50)
    for _ in range(6):
        lo, hi = np.log(0.03), np.log(0.15)
        z_b = np.exp(rng.uniform(lo, hi, pool))  # density ~ 1/z
        z_a = rng.uniform(0.3, 0.5, pool)
        kw = {"jet_pt": jet_pt, "mean_constituents": mean_constituents, "spread": 0.02}
        b = _two_subjet_jets(rng, z_b, rng.uniform(*mass_range, pool), **kw)
        a = _two_subjet_jets(rng, z_a, rng.uniform(*mass_range, pool), **kw)
        picked = _mass_matched(jet_axis(b).mass, jet_axis(a).mass, n, rng)
        if picked is not None:
            return b[picked[0]], a[picked[1]]
        pool *= 2
    raise RuntimeError("toy_substructure_pair: could not match the mass distributions")
