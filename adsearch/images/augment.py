"""Seeded symmetry augmentation of jets before pixelisation: :func:`random_symmetry`."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["random_symmetry"]


def random_symmetry(u: Tensor, v: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Rotate each jet by a random angle about the jet axis, then reflect ``u`` at random.

    Per jet ``b``, with ``α_b ~ U[0, 2π)`` and ``s_b = ±1`` (probability ½ each), both drawn
    from ``generator`` (CPU; one draw of ``2B`` numbers per call)::

        u' = s_b (u cos α_b - v sin α_b)
        v' =       u sin α_b + v cos α_b

    i.e. a rotation in the (Δη, Δφ) plane and an η reflection, the approximate symmetries
    of a jet image. Shapes ``[B, N]``.

    Examples
    --------
    >>> u, v = torch.tensor([[0.3, -0.1]]), torch.tensor([[0.2, 0.0]])
    >>> up, vp = random_symmetry(u, v, torch.Generator().manual_seed(0))
    >>> torch.allclose(up**2 + vp**2, u**2 + v**2)  # distances to the axis are kept
    True
    """
    b = u.shape[0]
    draw = torch.rand(2, b, 1, generator=generator, dtype=torch.float64).to(u.device)
    alpha = (draw[0] * (2.0 * math.pi)).to(u.dtype)
    sign = torch.where(draw[1] < 0.5, -1.0, 1.0).to(u.dtype)
    cos, sin = torch.cos(alpha), torch.sin(alpha)
    return sign * (u * cos - v * sin), u * sin + v * cos
