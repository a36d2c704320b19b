"""Permutation-invariant reconstruction losses between padded point sets.

:func:`chamfer_distance` compares two batches of sets ``a [B, N, F]`` and ``b [B, M, F]`` with
masks (``True`` = real point). Per set,

    CD(a, b) = Σ_i w_i min_j |a_i - b_j|² / Σ_i w_i  +  Σ_j v_j min_i |a_i - b_j|² / Σ_j v_j

over real points only (Fan, Su & Guibas, "A Point Set Generation Network for 3D Object
Reconstruction from a Single Image", CVPR 2017). With no weights both terms are plain means.
The result does not depend on the order of the points nor on how much padding there is (or
what the padded slots hold), and is 0 exactly when every point of each set coincides with a
point of the other.

Written in plain torch (one ``[B, N, M]`` distance block, no loop over sets) because
pytorch3d's ``chamfer_distance`` has no wheels for torch 2.13 on CPU. An optimal-transport
alternative (Sinkhorn divergence, ``geomloss`` 0.3.1, a pure-python wheel) was timed and
left out: on 256 jets x 64 points it took ~3.7 s per forward+backward on 2 shared CPU
cores against ~0.15 s for this Chamfer distance (25x), and its ε-scaling schedule reads the
coordinates of padded points, so padding invariance would not be exact.

Examples
--------
>>> import torch
>>> a = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [9.0, 9.0]]])
>>> m = torch.tensor([[True, True, False]])  # the third point is padding
>>> chamfer_distance(a, a.flip(1), m, m.flip(1)).tolist()
[0.0]
>>> chamfer_distance(a, a + torch.tensor([0.0, 0.5]), m, m).tolist()  # 0.25 + 0.25
[0.5]
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["chamfer_distance", "masked_sq_dist"]


def _full_mask(x: Tensor) -> Tensor:
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


def masked_sq_dist(
    a: Tensor, b: Tensor, mask_a: Tensor | None = None, mask_b: Tensor | None = None
) -> Tensor:
    """Squared distances ``[B, N, M]`` between the points of ``a`` and ``b``; ``+inf`` where
    either point is padding.

    The difference form ``Σ (a - b)²`` is used (not ``|a|² + |b|² - 2 a·b``): it is exactly 0
    for equal points and never negative; the ``[B, N, M, F]`` intermediate is small for jets
    (F = 3, N <= a few hundred).

    >>> import torch
    >>> a = torch.tensor([[[0.0], [2.0]]]); b = torch.tensor([[[1.0], [5.0]]])
    >>> masked_sq_dist(a, b, mask_b=torch.tensor([[True, False]])).tolist()
    [[[1.0, inf], [1.0, inf]]]
    """
    d2 = (a.unsqueeze(2) - b.unsqueeze(1)).pow(2).sum(-1)
    if mask_a is None and mask_b is None:
        return d2
    ma = _full_mask(a) if mask_a is None else mask_a.to(torch.bool)
    mb = _full_mask(b) if mask_b is None else mask_b.to(torch.bool)
    pair = ma.unsqueeze(2) & mb.unsqueeze(1)
    return d2.masked_fill(~pair, float("inf"))


def _weighted_mean(values: Tensor, mask: Tensor, weight: Tensor | None) -> Tensor:
    """Per-set mean of ``values [B, N]`` over real points, weighted by ``weight`` if given."""
    w = mask.to(values.dtype)
    if weight is not None:
        w = w * weight.to(values.dtype)
    # padded entries may be inf: select, don't multiply (0 * inf = nan, also in the gradient)
    num = torch.where(mask, values, torch.zeros_like(values)) * w
    return num.sum(1) / w.sum(1).clamp(min=torch.finfo(values.dtype).tiny)


def chamfer_distance(
    a: Tensor,
    b: Tensor,
    mask_a: Tensor | None = None,
    mask_b: Tensor | None = None,
    weight_a: Tensor | None = None,
    weight_b: Tensor | Literal["nearest"] | None = None,
) -> Tensor:
    """Per-set (optionally weighted) Chamfer distance between padded point sets, ``[B]``.

    Parameters
    ----------
    a, b : ``[B, N, F]`` and ``[B, M, F]`` point sets (e.g. input and reconstructed jets).
    mask_a, mask_b : ``[B, N]`` / ``[B, M]`` booleans, ``True`` for real points (all real if
        omitted). Every set needs at least one real point on each side.
    weight_a : ``[B, N]`` non-negative weights of the ``a -> b`` term (e.g. the pT fractions
        of the input constituents); normalised per set, so they need not sum to 1. ``None``
        = uniform.
    weight_b : ``[B, M]`` weights of the ``b -> a`` term, ``None`` = uniform, or
        ``"nearest"``: each ``b`` point takes the weight ``weight_a`` of its nearest ``a``
        point (detached) — the way to pT-weight a reconstruction whose own pT is not trusted.

    Returns
    -------
    Tensor ``[B]`` in the dtype of ``a`` (float32 at least).

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[[0.0], [1.0]]]); b = torch.tensor([[[0.0], [0.0]]])
    >>> chamfer_distance(a, b).tolist()  # (0 + 1) / 2 + (0 + 0) / 2
    [0.5]
    >>> chamfer_distance(a, b, weight_a=torch.tensor([[3.0, 1.0]])).tolist()  # 1/4 + 0
    [0.25]
    """
    if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise ValueError(f"chamfer_distance: need [B, N, F] and [B, M, F], got {a.shape} {b.shape}")
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    a, b = a.to(dtype), b.to(dtype)
    ma = _full_mask(a) if mask_a is None else mask_a.to(torch.bool)
    mb = _full_mask(b) if mask_b is None else mask_b.to(torch.bool)
    d2 = masked_sq_dist(a, b, ma, mb)
    a_to_b = d2.amin(2)  # [B, N]: nearest real b of every a
    b_to_a, nearest = d2.min(1)  # [B, M]: nearest real a of every b
    if isinstance(weight_b, str):
        if weight_b != "nearest":
            raise ValueError(f"weight_b: a tensor, None or 'nearest', got {weight_b!r}")
        weight_b = None if weight_a is None else weight_a.detach().gather(1, nearest)
    return _weighted_mean(a_to_b, ma, weight_a) + _weighted_mean(b_to_a, mb, weight_b)
