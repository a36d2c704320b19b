"""k nearest neighbours of every constituent of padded jets, in plain torch (ONNX-exportable).

ParticleNet (Qu & Gouskos, "ParticleNet: Jet Tagging via Particle Clouds", PRD 101 (2020)
056019) recomputes the neighbourhood of each constituent in every EdgeConv block, in the
feature space of that block: the first block in (Δη, Δφ), the later ones in the learned
features. :func:`knn` does this on the dense view ``(points [B, N, D], mask [B, N])`` with a
batched pairwise-distance matrix and ``topk``, without extension packages (no
``torch_cluster``), so it runs on any device and exports to ONNX (``TopK``).

For every real constituent ``i`` of a jet the neighbours are the ``k`` real constituents
``j != i`` with the smallest squared distance

    d_ij = |p_i|² + |p_j|² - 2 p_i · p_j                                      [B, N, N]

(the matrix-product form, as in the reference ParticleNet implementation: no ``[B, N, N, D]``
tensor is formed). Padded constituents are never neighbours and the point itself is not
its own neighbour. A jet with ``n <= k`` real constituents has only ``n - 1`` neighbours per
point: the remaining slots are returned with ``valid = False`` (and index 0), so the caller
ignores them. Rows of padded constituents are all invalid.

Examples
--------
>>> import torch
>>> p = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [9.0, 9.0]]])
>>> mask = torch.tensor([[True, True, True, False]])
>>> idx, valid = knn(p, mask, k=2)
>>> idx[0, 0].tolist(), valid[0, 0].tolist()  # 1 is nearer than 2; slot 3 is padding
([1, 2], [True, True])
>>> valid[0, 3].tolist()  # a padded constituent has no neighbours
[False, False]
>>> idx, valid = knn(p, mask, k=4)  # more neighbours asked than the jet has
>>> valid.sum(-1).tolist()
[[2, 2, 2, 0]]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["gather_neighbours", "knn"]


def knn(points: Tensor, mask: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Indices of the ``k`` nearest real neighbours of every constituent.

    Parameters
    ----------
    points : Tensor
        ``[B, N, D]`` coordinates (values of padded slots are ignored).
    mask : Tensor
        ``[B, N]``, ``True`` for a real constituent.
    k : int
        Neighbours per constituent (>= 1).

    Returns
    -------
    idx : Tensor
        ``[B, N, k]`` int64 neighbour indices within the jet, nearest first; 0 where invalid.
    valid : Tensor
        ``[B, N, k]`` bool: a real neighbour of a real constituent.
    """
    if k < 1:
        raise ValueError(f"knn: k must be >= 1, got {k}")
    mask = mask.to(torch.bool)
    n = points.shape[1]
    sq = (points * points).sum(-1)  # [B, N]
    d = sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2.0 * torch.matmul(points, points.transpose(1, 2))
    ar = torch.arange(n, device=points.device)
    excluded = (~mask).unsqueeze(1) | (ar.unsqueeze(0) == ar.unsqueeze(1)).unsqueeze(0)
    d = d.masked_fill(excluded, float("inf"))
    # k columns of +inf so that topk works for any N (also N < k); they are never valid
    d = F.pad(d, (0, k), value=float("inf"))
    dist, idx = torch.topk(d, k, dim=-1, largest=False, sorted=True)
    valid = torch.isfinite(dist) & mask.unsqueeze(-1)
    idx = torch.where(valid, idx, torch.zeros_like(idx))
    return idx, valid


def gather_neighbours(h: Tensor, idx: Tensor) -> Tensor:
    """Features of the neighbours: ``h [B, N, C]``, ``idx [B, N, k]`` -> ``[B, N, k, C]``.

    >>> h = torch.arange(6.0).reshape(1, 3, 2)
    >>> gather_neighbours(h, torch.tensor([[[2], [0], [1]]]))[0, :, 0].tolist()
    [[4.0, 5.0], [0.0, 1.0], [2.0, 3.0]]
    """
    b, n, kk = idx.shape
    c = h.shape[-1]
    flat = idx.reshape(b, n * kk, 1).expand(b, n * kk, c)
    return torch.gather(h, 1, flat).reshape(b, n, kk, c)
