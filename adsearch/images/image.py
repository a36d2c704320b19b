"""Jet images from padded constituents: :func:`jet_images` (preprocess, then pixelise).

The standard jet-image preprocessing (de Oliveira, Kagan, Mackey, Nachman, Schwartzman,
"Jet-Images — Deep Learning Edition", JHEP 07 (2016) 069; Macaluso & Shih, "Pulling Out
All the Tops with Computer Vision and Deep Learning", JHEP 10 (2018) 121), in this order::

    (u, v) = (Δη, Δφ) of the real constituents, w = pT / pT_jet        [B, N]
    (u, v) <- random rotation and η reflection      (training only, ImagesConfig.augment)
    (u, v) <- (u, v) - pT centroid                                        (centre)
    (u, v) <- rotation putting the principal axis along v                 (rotate)
    (u, v) <- reflections putting the harder halves at u > 0, v > 0       (flip)
    image  =  Σ w over the constituents in each pixel, |u|, |v| < extent  [B, P, P]
    image <- image / Σ image                                              (normalise)

Everything is batched torch arithmetic on the padded view ``(x [B, N, F], mask [B, N])``
(no loop over jets, no data-dependent Python branch), so it runs inside a model's forward
and traces into ONNX.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from adsearch.images.augment import random_symmetry
from adsearch.images.centre import centre_on_centroid
from adsearch.images.config import ImagesConfig
from adsearch.images.flip import flip_hardest_half
from adsearch.images.pixelise import pixelise
from adsearch.images.rotate import rotate_principal_vertical

__all__ = ["jet_images"]


def jet_images(
    x: Tensor | np.ndarray,
    mask: Tensor | np.ndarray,
    config: ImagesConfig | None = None,
    generator: torch.Generator | None = None,
) -> Tensor | np.ndarray:
    """pT-weighted (Δη, Δφ) images ``[B, P, P]`` of padded jets, preprocessed.

    Parameters
    ----------
    x : ``[B, N, F]`` constituent features (columns named by ``config``: pT / pT_jet, Δη,
        Δφ by default, as :func:`adsearch.graphs.to_dense` gives them). A numpy array gives a
        numpy result.
    mask : ``[B, N]``, True for real constituents; padding contributes nothing.
    config : :class:`~adsearch.images.config.ImagesConfig` (default 25 x 25, |Δη|, |Δφ| < 1,
        centre, rotate, flip, normalise).
    generator : draws the symmetry augmentation; applied only when ``config.augment`` is on
        and a generator is given (models pass one in training mode only).

    Returns
    -------
    images ``[B, P, P]`` in the dtype of ``x``: rows along Δφ, columns along Δη (see
    :func:`~adsearch.images.pixelise.pixelise`). Without ``normalise`` each image sums to
    the in-window pT weight of its jet; with it, to 1 (0 for a jet with nothing in the
    window).

    Examples
    --------
    >>> x = torch.tensor([[[0.6, 0.0, 0.0], [0.3, 0.2, 0.0], [0.1, 0.0, 5.0], [0.0, 0.0, 0.0]]])
    >>> mask = torch.tensor([[True, True, True, False]])
    >>> raw = jet_images(x, mask, ImagesConfig(centre=False, rotate=False, flip=False,
    ...                                        normalise=False))
    >>> raw.shape, round(raw.sum().item(), 6)  # Δφ = 5 is outside the window
    (torch.Size([1, 25, 25]), 0.9)
    >>> round(jet_images(x, mask).sum().item(), 6)
    1.0
    """
    cfg = config if config is not None else ImagesConfig()
    if isinstance(x, np.ndarray):
        m = torch.from_numpy(np.asarray(mask))
        return _jet_images(torch.from_numpy(x), m, cfg, generator).numpy()
    return _jet_images(x, torch.as_tensor(mask), cfg, generator)


def _jet_images(
    x: Tensor, mask: Tensor, cfg: ImagesConfig, generator: torch.Generator | None
) -> Tensor:
    """:func:`jet_images` on tensors."""
    m = mask.to(torch.bool)
    w = torch.where(m, x[..., cfg.pt_column], torch.zeros_like(x[..., 0]))
    u, v = x[..., cfg.eta_column], x[..., cfg.phi_column]
    if cfg.augment and generator is not None:
        u, v = random_symmetry(u, v, generator)
    if cfg.centre:
        u, v = centre_on_centroid(u, v, w)
    if cfg.rotate:
        u, v = rotate_principal_vertical(u, v, w)
    if cfg.flip:
        u, v = flip_hardest_half(u, v, w)
    img = pixelise(u, v, w, cfg.pixels, cfg.extent)
    if cfg.normalise:
        total = img.sum((1, 2), keepdim=True)
        img = img / total.clamp(min=torch.finfo(img.dtype).tiny)
    return img
