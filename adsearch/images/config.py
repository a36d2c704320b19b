"""Configuration of jet images: :class:`ImagesConfig` (``model.options.images``)."""

from __future__ import annotations

from dataclasses import dataclass

from adsearch.errors import ConfigError

__all__ = ["ImagesConfig"]


@dataclass(frozen=True)
class ImagesConfig:
    """How padded constituents become pT-weighted (η, φ) images.

    Parameters
    ----------
    pixels : pixels per side (25): the image is ``pixels x pixels``.
    extent : half-width of the window in Δη and Δφ (1.0): a constituent is in the window
        when ``|Δη| < extent`` and ``|Δφ| < extent`` (after the preprocessing below); the
        pixel size is ``2 * extent / pixels`` (0.08).
    centre : shift the constituents so that the pT centroid is at the image centre.
    rotate : rotate about the image centre so that the principal axis of the pT-weighted
        covariance is vertical (along the rows, Δφ).
    flip : reflect Δη and Δφ so that the half with more pT lies at Δη > 0 and at Δφ > 0
        (the hardest half sits in the upper-right quadrant).
    normalise : divide each image by its sum (sum of pixels = 1; a jet without in-window pT
        stays all zero). Without it the pixels hold the in-window pT (column ``pt_column``).
    augment : during training only, rotate each jet by a random angle in the (Δη, Δφ) plane
        about the jet axis and reflect Δη with probability 1/2 before the preprocessing
        (off by default; with ``rotate`` and ``flip`` on it changes little: the preprocessing
        removes both symmetries up to pixelisation).
    seed : seed of the augmentation's generator.
    pt_column, eta_column, phi_column : columns of the padded constituent features ``x``
        holding the pT weight (pT / pT_jet), Δη and Δφ relative to the jet axis.

    Examples
    --------
    >>> ImagesConfig().pixel_size
    0.08
    >>> ImagesConfig(pixels=0)
    Traceback (most recent call last):
    ...
    adsearch.errors.ConfigError: images:pixels: must be >= 1, got 0
    """

    pixels: int = 25
    extent: float = 1.0
    centre: bool = True
    rotate: bool = True
    flip: bool = True
    normalise: bool = True
    augment: bool = False
    seed: int = 0
    pt_column: int = 0
    eta_column: int = 1
    phi_column: int = 2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.pixels < 1:
            raise ConfigError(f"images:pixels: must be >= 1, got {self.pixels}")
        if not self.extent > 0 or self.extent != self.extent or self.extent == float("inf"):
            raise ConfigError(f"images:extent: must be a finite number > 0, got {self.extent}")
        cols = (self.pt_column, self.eta_column, self.phi_column)
        if min(cols) < 0 or len(set(cols)) != 3:
            raise ConfigError(
                f"images: pt_column, eta_column, phi_column must be distinct and >= 0, got {cols}"
            )

    @property
    def pixel_size(self) -> float:
        """Side of a pixel in Δη and Δφ."""
        return 2.0 * self.extent / self.pixels
