import numpy as np
import pytest

from adsearch.stats.binning import log_bins
from adsearch.stats.fit import BinnedModel


@pytest.fixture(scope="session")
def edges():
    return log_bins(2500.0, 6000.0, 0.05)


@pytest.fixture(scope="session")
def truth3(edges):
    """A 3-parameter dijet spectrum with ~25k events over 2.5-6 TeV."""
    m = BinnedModel(edges, "dijet", 3)
    return m, m.theta_from_params([2.0e3, 10.0, -5.0])


@pytest.fixture(scope="session")
def truth4(edges):
    m = BinnedModel(edges, "dijet", 4)
    return m, m.theta_from_params([1.0e4, 8.0, -6.0, 0.3])


@pytest.fixture(scope="session")
def poisson():
    """Poisson counts of ``model`` at ``theta`` with ``seed``."""

    def draw(model, theta, seed):
        return np.random.default_rng(seed).poisson(model.expected(theta)).astype(float)

    return draw
