"""Padded toy jets for the image tests: ``(x [B, N, 3] float64, mask [B, N])``."""

from __future__ import annotations

import numpy as np
import torch

from adsearch.graphs import to_dense, toy_jets


def dense_jets(n: int = 16, seed: int = 0, n_prongs: int = 2, max_n: int = 80):
    """Two-prong toy jets (graphs.toy_jets) as a padded float64 batch, real jets' axes."""
    cons = toy_jets(n, seed, n_prongs=n_prongs, mean_constituents=30.0)
    x, mask = to_dense(cons, max_n=max_n)
    return torch.from_numpy(x.astype(np.float64)), torch.from_numpy(mask)


def rotated(x: torch.Tensor, alpha: float, reflect: bool = False) -> torch.Tensor:
    """``x`` with (Δη, Δφ) rotated by ``alpha`` about the jet axis (then Δη reflected)."""
    y = x.clone()
    c, s = np.cos(alpha), np.sin(alpha)
    y[..., 1] = x[..., 1] * c - x[..., 2] * s
    y[..., 2] = x[..., 1] * s + x[..., 2] * c
    if reflect:
        y[..., 1] = -y[..., 1]
    return y
