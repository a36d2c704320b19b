"""Contrastive loss of two views: NT-Xent (SimCLR).

For a batch of ``B`` jets with two views each, the projections ``z1, z2 [B, D]`` are
L2-normalised and stacked into ``u [2B, D]``; the similarity of views ``a, b`` is
``s_ab = u_a · u_b / τ``. View ``a``'s positive ``p(a)`` is the other view of the same jet,
its negatives are the other ``2B - 2`` views of the batch:

    L = 1 / (2B) Σ_a [ -s_{a p(a)} + ln Σ_{b ≠ a} exp(s_ab) ]

(Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020; used for jets by JetCLR: Dillon, Kasieczka, Olischlager, Plehn,
Thaler, Zhao, "Symmetries, safety, and self-supervision", SciPost Phys. 12, 188 (2022)).
With ``negatives`` (``[M, D]``, e.g. the projections of anomalous views of the batch's jets,
:func:`adsearch.pretrain.augment.add_prong`), every view's denominator also sums over them,
``ln (Σ_{b ≠ a} exp(s_ab) + Σ_m exp(u_a · n_m / τ))``: the AnomalyCLR loss (Dillon, Favaro,
Feiden, Modak, Plehn, SciPost Phys. Core 7, 056 (2024)) pushes every jet away from its
anomalous versions. A low temperature ``τ`` weights the hardest negatives most. The loss is
symmetric in ``z1, z2``; it is smallest (``ln(1 + (2B - 2) e^{-1/τ})`` for orthogonal jets)
when both views of every jet coincide and different jets point in different directions.

Examples
--------
>>> import torch
>>> z = torch.nn.functional.one_hot(torch.arange(4)).double()
>>> round(float(nt_xent(z, z, temperature=0.1)), 6)  # views agree, jets orthogonal
0.000272
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["nt_xent"]


def nt_xent(
    z1: Tensor, z2: Tensor, temperature: float = 0.1, negatives: Tensor | None = None
) -> Tensor:
    """NT-Xent loss (scalar) of the paired views ``z1 [B, D]`` and ``z2 [B, D]`` (row ``i`` of
    both is the same jet); ``temperature`` is ``τ`` of the module docstring, ``B >= 2``;
    ``negatives [M, D]``: extra negatives of every view (never anchors)."""
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(
            f"need z1, z2 of one shape [B, D], got {tuple(z1.shape)}, {tuple(z2.shape)}"
        )
    if z1.shape[0] < 2:
        raise ValueError("NT-Xent needs at least two jets (one positive, one negative)")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    b = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = u @ u.T / temperature  # [2B, 2B]
    self_pair = torch.eye(2 * b, dtype=torch.bool, device=u.device)
    sim = sim.masked_fill(self_pair, float("-inf"))
    if negatives is not None:
        if negatives.ndim != 2 or negatives.shape[1] != z1.shape[1]:
            raise ValueError(f"need negatives [M, {z1.shape[1]}], got {tuple(negatives.shape)}")
        sim = torch.cat([sim, u @ F.normalize(negatives, dim=1).T / temperature], dim=1)
    positive = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(u.device)
    return F.cross_entropy(sim, positive)
