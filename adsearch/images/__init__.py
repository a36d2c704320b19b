"""Jet images: pT-weighted (Δη, Δφ) pixel grids of padded constituents, preprocessed.

:func:`jet_images` turns the padded view ``(x [B, N, F], mask [B, N])`` into images
``[B, P, P]`` (default 25 x 25 over |Δη|, |Δφ| < 1), configured by :class:`ImagesConfig`;
the steps are one module each (:mod:`~adsearch.images.centre`,
:mod:`~adsearch.images.rotate`, :mod:`~adsearch.images.flip`,
:mod:`~adsearch.images.pixelise`, :mod:`~adsearch.images.augment`). All torch, batched and
ONNX-traceable: the CNN backbone (:mod:`adsearch.models.cnn`) builds its images inside its
forward.
"""

from adsearch.images.augment import random_symmetry
from adsearch.images.centre import centre_on_centroid, pt_centroid
from adsearch.images.config import ImagesConfig
from adsearch.images.flip import flip_hardest_half
from adsearch.images.image import jet_images
from adsearch.images.pixelise import pixel_index, pixelise
from adsearch.images.rotate import principal_axis, rotate_principal_vertical

__all__ = [
    "ImagesConfig",
    "centre_on_centroid",
    "flip_hardest_half",
    "jet_images",
    "pixel_index",
    "pixelise",
    "principal_axis",
    "pt_centroid",
    "random_symmetry",
    "rotate_principal_vertical",
]
