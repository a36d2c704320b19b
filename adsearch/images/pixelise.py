"""pT-weighted pixelisation of padded constituents: :func:`pixelise`."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pixel_index", "pixelise"]


def pixel_index(t: Tensor, pixels: int, extent: float) -> Tensor:
    """Pixel index ``floor((t + extent) / (2 extent) * pixels)`` of coordinates ``t``, int64.

    Coordinates outside ``(-extent, extent)`` give indices outside ``0..pixels-1`` (or at its
    edge); :func:`pixelise` drops them with the window mask.

    >>> pixel_index(torch.tensor([-0.99, -0.04, 0.0, 0.039, 0.99]), 25, 1.0).tolist()
    [0, 12, 12, 12, 24]
    """
    return torch.floor((t + extent) * (pixels / (2.0 * extent))).to(torch.int64)


def pixelise(u: Tensor, v: Tensor, w: Tensor, pixels: int = 25, extent: float = 1.0) -> Tensor:
    """Sum the weights of the constituents in each pixel: images ``[B, pixels, pixels]``.

    ``image[b, i, j] = Σ_n w[b, n] [row(v[b, n]) = i] [col(u[b, n]) = j] [in window]``

    with rows along ``v`` (Δφ; row 0 at ``v = -extent``: plot with ``origin="lower"``),
    columns along ``u`` (Δη), and the window ``|u| < extent`` and ``|v| < extent``. Each
    in-window constituent lands in exactly one pixel, so the pixels of a jet sum to its
    in-window weight. Built as a batched product of one-hot row and column indicators
    (``[B, pixels, N] @ [B, N, pixels]``): no Python loop over jets, no scatter, and it traces
    into an ONNX ``MatMul``.

    Parameters
    ----------
    u, v : ``[B, N]`` coordinates (after preprocessing).
    w : ``[B, N]`` weights, 0 on padding.
    pixels, extent : see :class:`~adsearch.images.config.ImagesConfig`.

    Examples
    --------
    >>> u, v = torch.tensor([[0.0, 0.5, 1.5]]), torch.tensor([[0.0, -0.5, 0.0]])
    >>> img = pixelise(u, v, torch.tensor([[2.0, 1.0, 4.0]]), pixels=4, extent=1.0)
    >>> img.shape, img.sum().item()  # the third constituent is outside the window
    (torch.Size([1, 4, 4]), 3.0)
    >>> img[0, 2, 2].item(), img[0, 1, 3].item()
    (2.0, 1.0)
    """
    inside = (u.abs() < extent) & (v.abs() < extent)
    row = pixel_index(v, pixels, extent).clamp(0, pixels - 1)
    col = pixel_index(u, pixels, extent).clamp(0, pixels - 1)
    grid = torch.arange(pixels, device=u.device)
    wi = torch.where(inside, w, torch.zeros_like(w))
    rows = (row.unsqueeze(-1) == grid).to(w.dtype) * wi.unsqueeze(-1)  # [B, N, P]
    cols = (col.unsqueeze(-1) == grid).to(w.dtype)  # [B, N, P]
    return torch.bmm(rows.transpose(1, 2), cols)
