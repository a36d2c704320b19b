"""Centre jets on their pT centroid: :func:`centre_on_centroid`."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["centre_on_centroid", "pt_centroid"]


def pt_centroid(u: Tensor, v: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """pT-weighted centroid ``(Σ w u / Σ w, Σ w v / Σ w)`` of every jet, each ``[B, 1]``.

    Parameters
    ----------
    u, v : ``[B, N]`` coordinates (Δη, Δφ) of the constituents.
    w : ``[B, N]`` weights (pT), 0 on padding. A jet with ``Σ w = 0`` has centroid 0.

    Examples
    --------
    >>> u, v = torch.tensor([[0.0, 1.0, 9.0]]), torch.tensor([[0.0, 2.0, 9.0]])
    >>> w = torch.tensor([[3.0, 1.0, 0.0]])  # the third constituent is padding
    >>> [t.item() for t in pt_centroid(u, v, w)]
    [0.25, 0.5]
    """
    total = w.sum(-1, keepdim=True).clamp(min=torch.finfo(w.dtype).tiny)
    return (w * u).sum(-1, keepdim=True) / total, (w * v).sum(-1, keepdim=True) / total


def centre_on_centroid(u: Tensor, v: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Shift every jet so that its pT centroid is at the origin.

    ``u' = u - Σ w u / Σ w`` and ``v' = v - Σ w v / Σ w`` per jet; shapes ``[B, N]``
    (padding is shifted too, and stays padding: its weight is 0).

    Examples
    --------
    >>> u, v, w = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    >>> centre_on_centroid(u, v, w)[0].tolist()
    [[-0.5, 0.5]]
    """
    cu, cv = pt_centroid(u, v, w)
    return u - cu, v - cv
