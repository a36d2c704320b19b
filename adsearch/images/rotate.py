"""Rotate jets so that their principal axis is vertical: :func:`rotate_principal_vertical`."""

from __future__ import annotations

import torch
from torch import Tensor

from adsearch.images.centre import pt_centroid

__all__ = ["principal_axis", "rotate_principal_vertical"]


def principal_axis(u: Tensor, v: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """``(cos θ, sin θ)`` ``[B, 1]`` of the principal axis of the pT-weighted covariance.

    With ``a = <Δu²>``, ``b = <Δu Δv>``, ``c = <Δv²>`` (pT-weighted, about the centroid), the
    leading eigenvector of ``[[a, b], [b, c]]`` is at ``θ = ½ atan2(2b, a - c)``, written with
    half-angle formulas (``cos 2θ = (a - c)/r``, ``sin 2θ = 2b/r``, ``r = √((a-c)² + 4b²)``)
    so that the construction is plain arithmetic and exports to ONNX. ``θ`` is in
    ``(-π/2, π/2]``; an isotropic jet (``r = 0``: one constituent, or a symmetric one) keeps
    ``θ = 0``.

    Examples
    --------
    >>> u, v = torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, -1.0]])  # along the diagonal
    >>> c, s = principal_axis(u, v, torch.ones(1, 2))
    >>> round(c.item(), 6), round(s.item(), 6)
    (0.707107, 0.707107)
    """
    cu, cv = pt_centroid(u, v, w)
    du, dv = u - cu, v - cv
    total = w.sum(-1, keepdim=True).clamp(min=torch.finfo(w.dtype).tiny)
    a = (w * du * du).sum(-1, keepdim=True) / total
    b = (w * du * dv).sum(-1, keepdim=True) / total
    c = (w * dv * dv).sum(-1, keepdim=True) / total
    diff, two_b = a - c, 2.0 * b
    r = torch.sqrt(diff * diff + two_b * two_b)
    flat = r <= 1e-12 * (a + c).clamp(min=torch.finfo(w.dtype).tiny)
    safe = torch.where(flat, torch.ones_like(r), r)
    cos2 = torch.where(flat, torch.ones_like(r), diff / safe).clamp(-1.0, 1.0)
    sign = torch.where(two_b < 0, -torch.ones_like(r), torch.ones_like(r))
    cos = torch.sqrt((1.0 + cos2) * 0.5)
    sin = sign * torch.sqrt((1.0 - cos2) * 0.5)
    return cos, sin


def rotate_principal_vertical(u: Tensor, v: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Rotate every jet about the origin so that its principal axis lies along ``v``.

    With ``(cos θ, sin θ)`` from :func:`principal_axis`::

        v' = u cos θ + v sin θ        (the coordinate along the principal axis)
        u' = u sin θ - v cos θ        (across it; a proper rotation, determinant +1)

    Shapes ``[B, N]`` in and out. The sign of the axis is not fixed (θ and θ + π are the
    same axis): :func:`~adsearch.images.flip.flip_hardest_half` fixes it.

    Examples
    --------
    >>> u, v = torch.tensor([[-0.5, 0.5]]), torch.tensor([[0.0, 0.0]])  # horizontal jet
    >>> up, vp = rotate_principal_vertical(u, v, torch.ones(1, 2))
    >>> up.abs().max().item() < 1e-7, vp.tolist()
    (True, [[-0.5, 0.5]])
    """
    cos, sin = principal_axis(u, v, w)
    return u * sin - v * cos, u * cos + v * sin
