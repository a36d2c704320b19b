from __future__ import annotations

import numpy as np
import pytest
import torch

from adsearch.pretrain.losses import nt_xent


def reference(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """NT-Xent written out pair by pair (SimCLR, Chen et al. 2020)."""
    u = np.concatenate([z1, z2])
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    n, b = len(u), len(z1)
    total = 0.0
    for a in range(n):
        p = (a + b) % n
        s = [u[a] @ u[k] / tau for k in range(n) if k != a]
        total += -u[a] @ u[p] / tau + np.log(np.sum(np.exp(s)))
    return total / n


def views(b=16, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn((b, d), generator=g, dtype=torch.float64)
    return z1, z1 + 0.1 * torch.randn((b, d), generator=g, dtype=torch.float64)


@pytest.mark.parametrize("tau", [0.05, 0.1, 0.5, 1.0])
def test_matches_the_numpy_reference(tau):
    z1, z2 = views()
    got = float(nt_xent(z1, z2, tau))
    assert got == pytest.approx(reference(z1.numpy(), z2.numpy(), tau), rel=1e-10)


def test_symmetric_in_the_views():
    z1, z2 = views()
    assert float(nt_xent(z1, z2, 0.1)) == pytest.approx(float(nt_xent(z2, z1, 0.1)), rel=1e-12)


def test_identical_views_beat_random_pairs():
    z1, z2 = views()
    g = torch.Generator().manual_seed(9)
    shuffled = z2[torch.randperm(len(z2), generator=g)]
    assert (
        float(nt_xent(z1, z1, 0.1))
        < float(nt_xent(z1, z2, 0.1))
        < float(nt_xent(z1, shuffled, 0.1))
    )


def test_gradient_and_bad_inputs():
    z1, z2 = views()
    z1.requires_grad_(True)
    nt_xent(z1, z2).backward()
    assert z1.grad is not None and torch.isfinite(z1.grad).all()
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z1, z2, 0.0)
    with pytest.raises(ValueError, match="two jets"):
        nt_xent(z1[:1], z2[:1])


def test_anomalous_negatives_enter_every_denominator():
    """AnomalyCLR: extra negatives add exp(u_a · n / τ) to every view's denominator (the
    numpy reference with the negatives as more columns); negatives equal to the views cost
    more than negatives orthogonal to them."""
    z1, z2 = views(b=6, d=8)
    g = torch.Generator().manual_seed(4)
    neg = torch.randn((6, 8), generator=g, dtype=torch.float64)
    tau = 0.2
    u = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1).numpy()
    nn = torch.nn.functional.normalize(neg, dim=1).numpy()
    total = 0.0
    for a in range(12):
        p = (a + 6) % 12
        s = [u[a] @ u[k] / tau for k in range(12) if k != a] + list(nn @ u[a] / tau)
        total += -u[a] @ u[p] / tau + np.log(np.sum(np.exp(s)))
    assert float(nt_xent(z1, z2, tau, negatives=neg)) == pytest.approx(total / 12, rel=1e-10)
    assert float(nt_xent(z1, z2, tau, negatives=z1)) > float(nt_xent(z1, z2, tau))
    with pytest.raises(ValueError, match="negatives"):
        nt_xent(z1, z2, tau, negatives=neg[:, :3])
