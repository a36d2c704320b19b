"""Padded toy jets and jet observables for the pretraining tests."""

from __future__ import annotations

import torch


def toy_batch(b: int = 64, n: int = 20, seed: int = 0, width: float = 0.1):
    """``(x [b, n, 3], mask [b, n])``: 3..n-4 constituents per jet (so some slots are free),
    pT fractions summing to 1, angles ~ N(0, width²); padding zero."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(3, n - 3, (b,), generator=g)
    mask = torch.arange(n)[None, :] < counts[:, None]
    w = torch.rand((b, n), generator=g, dtype=torch.float64) * mask
    z = w / w.sum(1, keepdim=True)
    ang = width * torch.randn((b, n, 2), generator=g, dtype=torch.float64)
    x = torch.cat([z.unsqueeze(-1), ang], dim=-1) * mask.unsqueeze(-1)
    return x, mask


def four_momentum(x, mask):
    """Sum of massless constituents (pT = z, η = Δη, φ = Δφ): (E, px, py, pz) [B, 4]."""
    m = mask.to(x.dtype)
    pt, eta, phi = x[..., 0] * m, x[..., 1], x[..., 2]
    p = torch.stack(
        [pt * torch.cosh(eta), pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)],
        dim=-1,
    )
    return p.sum(1)


def jet_mass(x, mask):
    e, px, py, pz = four_momentum(x, mask).unbind(-1)
    return torch.sqrt((e * e - px * px - py * py - pz * pz).clamp(min=0))


def jet_pt(x, mask):
    _, px, py, _ = four_momentum(x, mask).unbind(-1)
    return torch.hypot(px, py)


def girth(x, mask):
    """pT-weighted mean distance from the axis, ``Σ z_i ΔR_i / Σ z_i`` [B]."""
    z = x[..., 0] * mask
    dr = torch.hypot(x[..., 1], x[..., 2])
    return (z * dr).sum(1) / z.sum(1)
