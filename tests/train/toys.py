"""Toy dijet events for model/training tests: one-prong-ish QCD vs two-prong signal jets."""

from __future__ import annotations

import awkward as ak
import numpy as np

from adsearch.train.data import JetSample


def toy_jets(n_events: int, signal_fraction: float = 0.5, seed: int = 0, nmax: int = 12):
    """(constituents events*2*var*{pt,eta,phi}, pt [E,2], eta [E,2], phi [E,2], label [E]).

    Background jets: constituents spread around the axis (width 0.15), pT falling;
    signal jets: two hard prongs 0.4 apart (an easy toy for supervised separation).
    """
    rng = np.random.default_rng(seed)
    label = (rng.random(n_events) < signal_fraction).astype(np.int64)
    n_jets = 2 * n_events
    counts = rng.integers(3, nmax + 1, n_jets)
    jl = np.repeat(label, 2)
    tot = int(counts.sum())
    jet = np.repeat(np.arange(n_jets), counts)
    pos = np.arange(tot) - np.repeat(np.cumsum(counts) - counts, counts)
    pt = 100.0 * np.exp(-0.5 * pos) * rng.uniform(0.8, 1.2, tot)
    spread = np.where(jl[jet] == 1, 0.03, 0.15)
    prong = np.where((jl[jet] == 1) & (pos % 2 == 1), 0.4, 0.0)
    eta_axis = rng.uniform(-1, 1, n_jets)
    phi_axis = rng.uniform(-np.pi, np.pi, n_jets)
    eta = eta_axis[jet] + prong + rng.normal(0, 1, tot) * spread
    phi = phi_axis[jet] + rng.normal(0, 1, tot) * spread
    phi = np.mod(phi + np.pi, 2 * np.pi) - np.pi
    flat = ak.zip({"pt": pt, "eta": eta, "phi": phi})
    jets = ak.unflatten(flat, counts)
    events = ak.unflatten(jets, np.full(n_events, 2))
    jpt = np.bincount(jet, pt, minlength=n_jets).reshape(n_events, 2)
    return events, jpt, eta_axis.reshape(n_events, 2), phi_axis.reshape(n_events, 2), label


def toy_sample(n_events: int, signal_fraction: float = 0.5, seed: int = 0, nmax: int = 12):
    ev, pt, eta, phi, label = toy_jets(n_events, signal_fraction, seed, nmax)
    return JetSample.from_arrays(ev, pt, eta, phi, label=label)


def toy_features(n_events: int, signal_fraction: float = 0.5, seed: int = 0, labelled=True):
    """A :class:`adsearch.jets.features.Features` of toy events (jet columns filled)."""
    from adsearch.jets.features import COLUMNS, Features

    ev, pt, eta, phi, label = toy_jets(n_events, signal_fraction, seed)
    table = {c: np.zeros(n_events) for c in COLUMNS}
    table["event_index"] = np.arange(n_events, dtype=np.int64)
    table["label"] = label.astype(np.float64) if labelled else np.full(n_events, -1.0)
    for k in (0, 1):
        table[f"ptj{k + 1}"] = pt[:, k]
        table[f"etaj{k + 1}"] = eta[:, k]
        table[f"phij{k + 1}"] = phi[:, k]
    table["mjj"] = 2.0 * np.sqrt(pt[:, 0] * pt[:, 1])
    regular = ak.Array(ak.contents.RegularArray(ak.flatten(ev, axis=1).layout, 2, zeros_length=0))
    return Features(table, regular, n_events, 0)
