"""The EdgeConv block of ParticleNet on padded jets: :class:`EdgeConvBlock`.

EdgeConv (Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", ACM TOG 38 (2019)
146) as used by ParticleNet (Qu & Gouskos, "ParticleNet: Jet Tagging via Particle Clouds",
PRD 101 (2020) 056019): for every constituent ``i`` with its ``k`` nearest neighbours
``N(i)`` (:func:`~adsearch.models.knn.knn`, in a coordinate space given by the caller)

    e_ij = Θ(h_i, h_j - h_i)                                          [B, N, k, C_L]
    h_i' = ReLU( S(h_i) + (1 / |N(i)|) Σ_{j ∈ N(i)} e_ij )           [B, N, C_L]

with ``Θ`` = ``L`` x (linear -> batch norm -> ReLU) of channels ``(C_1, .., C_L)`` shared by
all edges, and the shortcut ``S`` = linear -> batch norm (the identity when ``C_in = C_L``).
The mean runs over the real neighbours only (fewer than ``k`` in a jet with ``n <= k``
constituents; an isolated constituent keeps its shortcut); padded constituents are neither
neighbours nor batch-norm entries and their outputs are 0, so extra padding changes nothing.

The first linear map of ``Θ`` acts on ``[h_i, h_j - h_i]``; with its weight split as
``[W_a, W_b]`` it equals ``(W_a - W_b) h_i + W_b h_j``, which is computed per constituent and
then gathered, not per edge (k times fewer operations in the widest layer; same parameters).

``norm="batch"`` is :class:`~adsearch.models.batchnorm.MaskedBatchNorm` (the linear maps then
have no bias: the norm's shift is the bias); ``norm="none"`` drops the norms (linear maps
with biases if ``bias``). ``bias=False`` with ``norm="none"`` has no additive parameter at
all, as DeepSVDD requires.

Examples
--------
>>> import torch
>>> block = EdgeConvBlock(3, (8, 8, 8), k=4)
>>> h, mask = torch.randn(2, 6, 3), torch.ones(2, 6, dtype=torch.bool)
>>> block(h, h[..., 1:3], mask).shape
torch.Size([2, 6, 8])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from adsearch.models.batchnorm import MaskedBatchNorm
from adsearch.models.knn import gather_neighbours, knn

__all__ = ["EdgeConvBlock"]

NORMS = ("batch", "none")


class EdgeConvBlock(nn.Module):
    """One EdgeConv block (kNN in ``points``, edge MLP, mean over neighbours, shortcut).

    Parameters
    ----------
    in_dim : input channels ``C_in`` of ``h``.
    channels : output channels of the edge MLP's layers, e.g. ``(64, 64, 64)``.
    k : neighbours per constituent.
    bias : additive terms (linear biases when ``norm="none"``, the norms' shifts).
    norm : ``"batch"`` (masked batch norm after every linear map) or ``"none"``.

    ``forward(h [B, N, C_in], points [B, N, D], mask [B, N]) -> [B, N, C_L]``.
    """

    def __init__(
        self,
        in_dim: int,
        channels: Sequence[int],
        k: int = 16,
        bias: bool = True,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r} (allowed: {', '.join(NORMS)})")
        if not channels or min(channels) < 1:
            raise ValueError(f"EdgeConv channels must be >= 1, got {tuple(channels)}")
        if k < 1:
            raise ValueError(f"EdgeConv k must be >= 1, got {k}")
        self.in_dim = in_dim
        self.k = k
        self.channels = tuple(int(c) for c in channels)
        use_norm = norm == "batch"
        lin_bias = bias and not use_norm
        dims = [2 * in_dim, *self.channels]
        self.lins = nn.ModuleList(
            nn.Linear(dims[i], dims[i + 1], bias=lin_bias) for i in range(len(self.channels))
        )
        self.norms = nn.ModuleList(
            MaskedBatchNorm(c, affine=bias) if use_norm else nn.Identity() for c in self.channels
        )
        out = self.channels[-1]
        self.shortcut: nn.Module | None = None
        self.shortcut_norm: nn.Module | None = None
        if in_dim != out:
            self.shortcut = nn.Linear(in_dim, out, bias=lin_bias)
            self.shortcut_norm = MaskedBatchNorm(out, affine=bias) if use_norm else nn.Identity()

    @staticmethod
    def _norm(mod: nn.Module, h: Tensor, mask: Tensor) -> Tensor:
        return mod(h, mask) if isinstance(mod, MaskedBatchNorm) else h

    def forward(self, h: Tensor, points: Tensor, mask: Tensor) -> Tensor:
        mask = mask.to(torch.bool)
        idx, valid = knn(points, mask, self.k)  # [B, N, k]
        first = self.lins[0]
        assert isinstance(first, nn.Linear)  # narrows nn.ModuleList's item type
        w_a, w_b = first.weight[:, : self.in_dim], first.weight[:, self.in_dim :]
        own = torch.matmul(h, (w_a - w_b).t())  # [B, N, C_1]
        if first.bias is not None:
            own = own + first.bias
        e = own.unsqueeze(2) + gather_neighbours(torch.matmul(h, w_b.t()), idx)
        e = torch.relu(self._norm(self.norms[0], e, valid))
        for lin, norm in zip(self.lins[1:], self.norms[1:], strict=True):
            e = torch.relu(self._norm(norm, lin(e), valid))
        v = valid.to(e.dtype).unsqueeze(-2)  # [B, N, 1, k]
        # mean over the real neighbours, as a batched product [1, k] @ [k, C]
        agg = torch.matmul(v, e).squeeze(-2) / v.sum(-1).clamp(min=1.0)
        sc = h
        if self.shortcut is not None and self.shortcut_norm is not None:
            sc = self._norm(self.shortcut_norm, self.shortcut(h), mask)
        out = torch.relu(sc + agg)
        return torch.where(mask.unsqueeze(-1), out, torch.zeros_like(out))

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, channels={self.channels}, k={self.k}"
