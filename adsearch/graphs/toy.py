"""Toy boosted jets for tests, benchmarks and examples (not a physics generator).

A toy jet has ``n_prongs`` hard subjets (1 = QCD-like, 2 or 3 = resonance-like) placed about a
random jet axis at opening angles ~ 2 m / pT (the boosted two-body angle), and constituents
scattered around each prong with a Gaussian angular spread and exponentially falling pT. The
defaults reproduce the graph sizes measured on real LHCO leading jets (design.md 2b): ~56
constituents and ~25 Delta R < 0.2 neighbours per constituent. Use the real generator
(``adsearch.generate``) for physics; use this where only the shapes of the arrays matter.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

__all__ = ["toy_jets"]


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
