"""Reflect jets so that their hardest half sits in a fixed quadrant: :func:`flip_hardest_half`."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["flip_hardest_half"]


def flip_hardest_half(u: Tensor, v: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Reflect ``u`` (and ``v``) of a jet when more pT lies at ``u < 0`` (``v < 0``).

    ``s_u = Σ w [u > 0] - Σ w [u < 0]``; ``u' = -u`` where ``s_u < 0``, the same for ``v``:
    afterwards the half-planes ``u > 0`` and ``v > 0`` hold at least half of the pT (the
    harder half in the upper-right quadrant of the image). Ties keep the jet unchanged.
    First moments cannot decide this after centring (they vanish at the centroid), so the
    half-plane sums are used. Shapes ``[B, N]``.

    Examples
    --------
    >>> u, v = torch.tensor([[-0.5, 0.25]]), torch.tensor([[0.5, -0.25]])
    >>> w = torch.tensor([[2.0, 1.0]])
    >>> up, vp = flip_hardest_half(u, v, w)  # u reflected (more pT at u < 0), v kept
    >>> up.tolist(), vp.tolist()
    ([[0.5, -0.25]], [[0.5, -0.25]])
    """
    su = (w * torch.sign(u)).sum(-1, keepdim=True)
    sv = (w * torch.sign(v)).sum(-1, keepdim=True)
    fu = torch.where(su < 0, -torch.ones_like(su), torch.ones_like(su))
    fv = torch.where(sv < 0, -torch.ones_like(sv), torch.ones_like(sv))
    return u * fu, v * fv
