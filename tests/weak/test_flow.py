"""The conditional flow reproduces a known conditional density; seeded; normalised."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from adsearch.errors import InputError
from adsearch.weak import ConditionalFlow, FlowConfig


def _gaussian(n, seed):
    """x | m ~ N((m, -m/2), diag(0.1 + 0.2 m, 0.3)): mean and width change with m."""
    rng = np.random.default_rng(seed)
    m = rng.uniform(0.0, 1.0, n)
    mu = np.c_[m, -0.5 * m]
    sd = np.c_[0.1 + 0.2 * m, np.full(n, 0.3)]
    return rng.normal(mu, sd), m, mu, sd


@pytest.fixture(scope="module")
def gauss_flow():
    x, m, _, _ = _gaussian(4000, 0)
    cfg = FlowConfig(transforms=3, hidden=[32, 32], max_epochs=60, patience=8, logit=False,
                     batch_size=256)  # fmt: skip
    return ConditionalFlow(cfg).fit(x, m, seed=0)


def test_flow_reproduces_a_conditional_gaussian_density(gauss_flow):
    x, m, mu, sd = _gaussian(2000, 1)
    true = norm.logpdf(x, mu, sd).sum(axis=1)
    kl = float(np.mean(true - gauss_flow.log_prob(x, m)))  # KL(true || flow) estimate
    assert abs(kl) < 0.03
    for m0 in (0.2, 0.8):
        s = gauss_flow.sample(np.full(4000, m0), seed=1)
        np.testing.assert_allclose(s.mean(axis=0), [m0, -0.5 * m0], atol=0.03)
        np.testing.assert_allclose(s.std(axis=0), [0.1 + 0.2 * m0, 0.3], rtol=0.1)


def test_sampling_is_seeded(gauss_flow):
    m = np.linspace(0, 1, 50)
    a, b = gauss_flow.sample(m, seed=4), gauss_flow.sample(m, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, gauss_flow.sample(m, seed=5))


def test_latent_is_standard_normal_at_every_mass_and_inverts_sampling(gauss_flow):
    """LaCATHODE's map: the background's z is N(0, 1) whatever m (x itself moves with m),
    and it undoes the flow's own sampling (the fixture keeps n_best kept epochs; a flow with
    one kept epoch maps its samples back exactly onto standard-normal draws)."""
    for m0 in (0.2, 0.8):
        rng = np.random.default_rng(6)
        x = rng.normal([m0, -0.5 * m0], [0.1 + 0.2 * m0, 0.3], (8000, 2))
        z = gauss_flow.latent(x, np.full(len(x), m0))
        np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.06)
        np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.06)
    x, m, _, _ = _gaussian(3000, 7)
    one = ConditionalFlow(FlowConfig(transforms=2, hidden=[16], max_epochs=3, n_best=1))
    one.fit(x, m, seed=0)
    s = one.sample(m, seed=2)
    z = one.latent(s, m)
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        draws = torch.randn(len(m), 2).numpy()  # zuko draws the base sample the same way
    np.testing.assert_allclose(z, draws, atol=2e-3)


def test_training_is_seeded():
    x, m, _, _ = _gaussian(600, 2)
    cfg = FlowConfig(transforms=1, hidden=[8], max_epochs=3)
    a = ConditionalFlow(cfg).fit(x, m, seed=3)
    b = ConditionalFlow(cfg).fit(x, m, seed=3)
    assert a.history == b.history
    np.testing.assert_array_equal(a.sample(m[:10], 0), b.sample(m[:10], 0))


def test_logit_density_includes_the_jacobian():
    """With CATHODE's logit preprocessing, p(x | m) still integrates to 1 over x."""
    rng = np.random.default_rng(0)
    m = rng.uniform(0, 1, 3000)
    x = rng.beta(2 + 3 * m, 3)[:, None]
    flow = ConditionalFlow(FlowConfig(transforms=2, hidden=[16, 16], max_epochs=15)).fit(x, m, 0)
    grid = np.linspace(flow.pre.lo[0], flow.pre.hi[0], 4001)[1:-1]
    for m0 in (0.3, 0.7):
        p = np.exp(flow.log_prob(grid[:, None], np.full(grid.size, m0)))
        assert np.trapezoid(p, grid) == pytest.approx(1.0, abs=0.03)


def test_mixture_of_best_epochs_is_normalised_and_seeded():
    """n_best keeps the best epochs (lowest validation loss first); their mixture is a density."""
    rng = np.random.default_rng(0)
    m = rng.uniform(0, 1, 2000)
    x = rng.beta(2 + 3 * m, 3)[:, None]
    cfg = FlowConfig(transforms=2, hidden=[16, 16], max_epochs=10, n_best=3, lr_schedule="cosine",
                     batch_size=128, patience=1)  # fmt: skip
    flow = ConditionalFlow(cfg).fit(x, m, 0)
    assert len(flow.history) == 10  # cosine: the whole budget runs, whatever the patience
    assert len(flow.states) == 3 and flow.state is flow.states[0]
    grid = np.linspace(flow.pre.lo[0], flow.pre.hi[0], 4001)[1:-1]
    p = np.exp(flow.log_prob(grid[:, None], np.full(grid.size, 0.5)))
    assert np.trapezoid(p, grid) == pytest.approx(1.0, abs=0.03)
    # the mixture density lies between its members' densities
    one = ConditionalFlow(flow.cfg, flow.n_features, flow.pre, flow.states[0])
    assert not np.allclose(one.log_prob(grid[:, None], np.full(grid.size, 0.5)), np.log(p))
    a, b = flow.sample(np.full(500, 0.5), 3), flow.sample(np.full(500, 0.5), 3)
    np.testing.assert_array_equal(a, b)
    assert a.mean() == pytest.approx(3.5 / 6.5, abs=0.03)  # mean of Beta(3.5, 3)


def test_n_flows_pools_independent_trainings_into_one_mixture():
    """n_flows trains differently seeded flows on the same split; the first is the single
    flow of the same seed, and their pooled kept epochs form one normalised mixture."""
    rng = np.random.default_rng(1)
    m = rng.uniform(0, 1, 1500)
    x = rng.beta(2 + 3 * m, 3)[:, None]
    base = dict(transforms=2, hidden=[16, 16], max_epochs=6, n_best=2, batch_size=128)
    single = ConditionalFlow(FlowConfig(**base)).fit(x, m, 5)
    pooled = ConditionalFlow(FlowConfig(**base, n_flows=3)).fit(x, m, 5)
    assert len(pooled.states) == 6 and len(pooled.histories) == 3
    assert len(pooled.history) == 18  # the three cosine budgets, joined
    # training 0 is the single flow of the same seed, bit for bit
    assert pooled.histories[0] == single.history
    for k, v in single.states[0].items():
        np.testing.assert_array_equal(pooled.states[0][k], v)
    # the others start elsewhere: different losses
    assert pooled.histories[1] != pooled.histories[0] != pooled.histories[2]
    np.testing.assert_array_equal(pooled.pre.lo, single.pre.lo)  # one shared preprocessing
    grid = np.linspace(pooled.pre.lo[0], pooled.pre.hi[0], 4001)[1:-1]
    p = np.exp(pooled.log_prob(grid[:, None], np.full(grid.size, 0.5)))
    assert np.trapezoid(p, grid) == pytest.approx(1.0, abs=0.03)
    a = pooled.sample(np.full(400, 0.5), 2)
    np.testing.assert_array_equal(a, pooled.sample(np.full(400, 0.5), 2))


def test_plateau_schedule_lowers_the_rate_and_stops_early():
    x, m, _, _ = _gaussian(600, 2)
    cfg = FlowConfig(transforms=1, hidden=[8], max_epochs=200, patience=4, lr_schedule="plateau",
                     lr=0.05)  # fmt: skip
    flow = ConditionalFlow(cfg).fit(x, m, seed=3)
    assert len(flow.history) < 200
    best = int(np.argmin(flow.history))
    assert len(flow.history) == best + 1 + 4  # patience epochs after the best, then stop
    # every rate reduction restarted from the best epoch so far (3 epochs without a better loss)
    assert flow.restarts and all(r > 0 for r in flow.restarts)
    for r in flow.restarts:  # (the scheduler's relative threshold: 1e-4)
        best = min(flow.history[: r - 2])
        assert min(flow.history[r - 2 : r + 1]) > best - 1e-4 * abs(best) - 1e-6


def test_flow_errors():
    flow = ConditionalFlow(FlowConfig())
    with pytest.raises(InputError, match="not trained"):
        flow.sample(np.zeros(3), seed=0)
    with pytest.raises(InputError, match="NaN"):
        flow.fit(np.array([[np.nan], [1.0], [2.0]]), np.zeros(3), seed=0)
