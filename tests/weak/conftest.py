"""Shared small configurations and toys of the weak-supervision tests (2 shared CPU cores)."""

from __future__ import annotations

import pytest

from adsearch.weak import planted_toy


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def planted():
    """10k background + 200 signal events (S/B ≈ 13 % in the signal region)."""
    return planted_toy(n_background=10000, n_signal=200, seed=0)


@pytest.fixture(scope="session")
def background_only():
    return planted_toy(n_background=10000, n_signal=0, seed=3)


@pytest.fixture(scope="session")
def labelled_test():
    """A separate labelled test set inside the signal region (as CATHODE evaluates)."""
    toy = planted_toy(n_background=20000, n_signal=1000, seed=1)
    sr = (toy.mjj >= 3300) & (toy.mjj < 3700)
    return toy.x[sr], toy.label[sr]
