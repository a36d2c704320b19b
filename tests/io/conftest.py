"""Shared helpers for the adsearch.io tests: small LHCO-like random events."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from adsearch.io.events import make_particles

DATA = Path(__file__).parent.parent / "data" / "io"


def random_particles(
    n: int, seed: int, low: int = 1, high: int = 300, float32: bool = False
) -> ak.Array:
    """``n`` events of ``low..high-1`` massless objects, unsorted, LHCO-like ranges."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(low, high, size=n)
    total = int(counts.sum())
    pt = rng.exponential(5.0, total) + 0.05
    eta = rng.uniform(-4.9, 4.9, total)
    phi = rng.uniform(-np.pi, np.pi, total)
    if float32:
        pt, eta, phi = (x.astype(np.float32).astype(np.float64) for x in (pt, eta, phi))
    return make_particles(
        ak.unflatten(pt, counts), ak.unflatten(eta, counts), ak.unflatten(phi, counts)
    )


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def rand_particles():
    """The :func:`random_particles` factory (tests have no package to import it from)."""
    return random_particles
