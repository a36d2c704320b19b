"""Batch normalisation over the real entries of padded tensors: :class:`MaskedBatchNorm`.

``nn.BatchNorm1d`` on a padded batch of jets averages over the padded slots too, so in
training mode the statistics, and with them the outputs of the real constituents, change
with the amount of padding. :class:`MaskedBatchNorm` computes the batch mean and variance
over the entries flagged by a mask only (real constituents, or real edges of an EdgeConv),
so padding changes nothing; in evaluation mode it applies the running statistics, a plain
affine map that exports to ONNX. DeepSVDD models do not use it (its mean subtraction acts as
the bias the objective must not have, Ruff et al., "Deep One-Class Classification", ICML
2018).

Examples
--------
>>> import torch
>>> bn = MaskedBatchNorm(1)
>>> h = torch.tensor([[[1.0], [3.0], [100.0]]])  # [B=1, N=3, C=1]; the last slot is padding
>>> mask = torch.tensor([[True, True, False]])
>>> bn(h, mask)[mask].ravel().tolist()  # standardised over the two real entries
[-0.9999949932098389, 0.9999949932098389]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MaskedBatchNorm"]


class MaskedBatchNorm(nn.Module):
    """Batch norm of ``h [..., C]`` over the entries with ``mask [...] = True``.

        Training mode::

            mu    = sum_e m_e h_e / sum_e m_e                         [C]
            var   = sum_e m_e h_e² / sum_e m_e - mu²                  [C]  (biased, as BatchNorm)
            y     = gamma (h - mu) / sqrt(var + eps) + beta          [..., C]

    (the masked sums are matrix products ``m [1, M] @ h [M, C]``, and ``y`` is computed as
    ``h * scale + shift`` with per-channel ``scale``, ``shift``: one elementwise pass over ``h``)

        and the running statistics are updated with ``momentum`` (the unbiased variance, as
        ``nn.BatchNorm1d``). Evaluation mode uses the running statistics. Masked entries of ``y``
        are not defined to be zero: the caller masks them.

        Parameters
        ----------
        dim : number of channels ``C`` (last axis).
        affine : learnable ``gamma`` and ``beta``.
        momentum, eps : as ``nn.BatchNorm1d``.
    """

    running_mean: Tensor
    running_var: Tensor

    def __init__(
        self, dim: int, affine: bool = True, momentum: float = 0.1, eps: float = 1e-5
    ) -> None:
        super().__init__()
        self.dim = dim
        self.momentum = momentum
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if affine else None
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        if self.training:
            flat = h.reshape(-1, self.dim)
            m = mask.reshape(1, -1).to(h.dtype)  # [1, M]: masked sums as one matrix product
            n = m.sum()
            mean = (m @ flat).squeeze(0) / n.clamp(min=1.0)
            var = ((m @ (flat * flat)).squeeze(0) / n.clamp(min=1.0) - mean * mean).clamp(min=0.0)
            with torch.no_grad():
                unbiased = var * n / (n - 1.0).clamp(min=1.0)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(unbiased.detach().to(self.running_var.dtype), self.momentum)
        else:
            mean, var = self.running_mean.to(h.dtype), self.running_var.to(h.dtype)
        # y = h * scale + shift: one pass over h (the statistics are per channel)
        scale = torch.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        shift = -mean * scale
        if self.bias is not None:
            shift = shift + self.bias
        return h * scale + shift

    def extra_repr(self) -> str:
        return f"{self.dim}, affine={self.weight is not None}, momentum={self.momentum}"
