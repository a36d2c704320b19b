"""Anti-kT clustering of whole batches of events with fastjet's awkward interface."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np
import vector

vector.register_awkward()
fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)

__all__ = ["Clustered", "cluster", "to_momentum4d"]


def to_momentum4d(particles: ak.Array) -> ak.Array:
    """Jagged (pt, eta, phi[, mass]) records -> jagged Momentum4D (px, py, pz, E) records."""
    mass = particles.mass if "mass" in ak.fields(particles) else particles.pt * 0.0
    p4 = ak.zip(
        {"pt": particles.pt, "eta": particles.eta, "phi": particles.phi, "mass": mass},
        with_name="Momentum4D",
    )
    return ak.zip({"px": p4.px, "py": p4.py, "pz": p4.pz, "E": p4.E}, with_name="Momentum4D")


@dataclass(frozen=True)
class Clustered:
    """Result of :func:`cluster` for a batch of events.

    Attributes
    ----------
    jets : ak.Array
        ``events * var * Momentum4D`` jets, sorted by decreasing pT.
    constituents : ak.Array
        ``events * var(jets) * var(constituents) * {pt, eta, phi[, mass]}`` in the same jet
        order, constituents sorted by decreasing pT (``mass`` only if the input has it).
    """

    jets: ak.Array
    constituents: ak.Array


def cluster(particles: ak.Array, r: float = 1.0, min_pt: float = 20.0) -> Clustered:
    """Cluster every event of ``particles`` with anti-kT of radius ``r``.

    Parameters
    ----------
    particles : ak.Array
        ``events * var * {pt, eta, phi[, mass]}`` (GeV, radians); massless if no ``mass``.
    r : float
        Jet radius (LHCO: 1.0).
    min_pt : float
        Inclusive-jet pT threshold in GeV.

    Examples
    --------
    >>> import awkward as ak
    >>> ev = ak.Array([[{"pt": 100.0, "eta": 0.0, "phi": 0.0},
    ...                 {"pt": 50.0, "eta": 0.1, "phi": 0.1},
    ...                 {"pt": 80.0, "eta": 0.0, "phi": 3.0}]])
    >>> c = cluster(ev, r=1.0, min_pt=10.0)
    >>> [round(float(x), 1) for x in c.jets.pt[0]], ak.num(c.constituents, axis=2).tolist()
    ([149.8, 80.0], [[2, 1]])
    """
    p4 = to_momentum4d(particles)
    seq = fastjet.ClusterSequence(p4, fastjet.JetDefinition(fastjet.antikt_algorithm, r))
    jets = seq.inclusive_jets(min_pt=min_pt)
    idx = seq.constituent_index(min_pt=min_pt)
    jets = ak.zip(
        {"px": jets.px, "py": jets.py, "pz": jets.pz, "E": jets.E}, with_name="Momentum4D"
    )
    order = ak.argsort(jets.pt, axis=1, ascending=False)
    jets = jets[order]
    idx = idx[order]
    fields = ["pt", "eta", "phi"] + (["mass"] if "mass" in ak.fields(particles) else [])
    base = ak.zip({f: particles[f] for f in fields})
    # constituents of jet j of event e: base[e][idx[e][j]] (broadcast over the jet axis)
    n_jets = ak.num(idx, axis=1)
    flat_idx = ak.flatten(idx, axis=1)
    ev_of_jet = np.repeat(np.arange(len(idx)), ak.to_numpy(n_jets))
    cons_flat = base[ev_of_jet][flat_idx]
    cons_flat = cons_flat[ak.argsort(cons_flat.pt, axis=1, ascending=False)]
    constituents = ak.unflatten(cons_flat, n_jets, axis=0)
    return Clustered(jets=jets, constituents=constituents)
