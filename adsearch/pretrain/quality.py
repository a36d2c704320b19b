"""Alignment and uniformity of an embedding (Wang & Isola 2020).

For L2-normalised embeddings ``f`` (Wang & Isola, "Understanding Contrastive Representation
Learning through Alignment and Uniformity on the Hypersphere", ICML 2020):

    alignment  = E_{(x, y) positive} ||f(x) - f(y)||²            (lower: views agree)
    uniformity = ln E_{x ≠ y} exp(-2 ||f(x) - f(y)||²)            (lower: spread out)

Alignment lies in [0, 4]; uniformity is 0 when all jets map to one point (collapse) and
negative otherwise (about -4 for points spread uniformly on a high-dimensional sphere).

Examples
--------
>>> import torch
>>> z = torch.eye(3)
>>> float(alignment(z, z)), round(float(uniformity(z)), 4)
(0.0, -4.0)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["alignment", "uniformity"]


def alignment(h1: Tensor, h2: Tensor) -> Tensor:
    """Mean squared distance of the normalised paired embeddings ``h1, h2 [B, D]`` (scalar)."""
    u1, u2 = F.normalize(h1, dim=1), F.normalize(h2, dim=1)
    return (u1 - u2).pow(2).sum(1).mean()


def uniformity(h: Tensor, t: float = 2.0) -> Tensor:
    """``ln`` of the mean Gaussian potential ``exp(-t d²)`` over distinct pairs of the
    normalised embeddings ``h [B, D]`` (``B >= 2``; scalar)."""
    if h.shape[0] < 2:
        raise ValueError("uniformity needs at least two embeddings")
    d2 = torch.pdist(F.normalize(h, dim=1)).pow(2)
    return torch.logsumexp(-t * d2, dim=0) - math.log(d2.numel())
