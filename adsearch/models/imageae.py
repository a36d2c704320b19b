"""CNN autoencoder objective on jet images: :class:`ImageAutoencoder` and :class:`ImageDecoder`.

``objective: ae`` with ``backbone: cnn``. The CNN embedding ``z [B, D]`` is squeezed through
a ``latent_dim`` bottleneck (8 numbers for a 625-pixel image) and decoded back into an
image; the per-jet mean squared error over the pixels is the loss and the anomaly score::

    l     = W z                                                  [B, latent_dim]
    Î     = ImageDecoder(l)                                      [B, 1, P, P]
    score = (1 / P²) Σ_ij (Î_ij - I_ij)²                          [B]

The decoder mirrors the encoder: a 2-layer MLP to a ``C_0 x s x s`` map with
``s = ceil(P / 2^K)``, then ``K`` blocks of (2 x nearest upsampling -> 3 x 3 convolution ->
ReLU) and a final 3 x 3 convolution to one channel, centre-cropped to ``P x P`` (25: 4 -> 8
-> 16 -> 32 -> 25). The image autoencoder for anomalous jets follows Heimel, Kasieczka,
Plehn, Thompson ("QCD or What?", SciPost Phys. 6 (2019) 030) and Farina, Nakai, Shih
("Searching for New Physics with Deep Autoencoders", PRD 101 (2020) 075021).

Examples
--------
>>> import torch
>>> ae = ImageAutoencoder(dim=16, latent_dim=4, pixels=9, width=8, channels=(8, 4))
>>> img = torch.rand(2, 1, 9, 9)
>>> ae.score(torch.randn(2, 16), img).shape  # one MSE per jet
torch.Size([2])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from adsearch.models.mlp import _he_init
from adsearch.models.objectives import ModelInputs, Objective

__all__ = ["DECODER_CHANNELS", "ImageAutoencoder", "ImageDecoder"]

#: channels of the decoder's upsampling blocks
DECODER_CHANNELS: tuple[int, ...] = (64, 32, 16)


class ImageDecoder(nn.Module):
    """Latent ``[B, latent_dim]`` -> image ``[B, 1, pixels, pixels]`` (see the module).

    >>> import torch
    >>> ImageDecoder(3, pixels=25, width=8, channels=(4, 4, 4))(torch.zeros(2, 3)).shape
    torch.Size([2, 1, 25, 25])
    """

    def __init__(
        self,
        latent_dim: int,
        pixels: int = 25,
        width: int = 128,
        channels: Sequence[int] = DECODER_CHANNELS,
    ) -> None:
        super().__init__()
        chans = tuple(int(c) for c in channels)
        if not chans or min(chans) < 1:
            raise ValueError(f"decoder channels must be >= 1, got {channels}")
        self.pixels = pixels
        self.start = math.ceil(pixels / 2 ** len(chans))
        self.full = self.start * 2 ** len(chans)
        self.chans = chans
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, width),
            nn.ReLU(),
            nn.Linear(width, chans[0] * self.start * self.start),
            nn.ReLU(),
        )
        ups: list[nn.Module] = []
        prev = chans[0]
        for c in chans:
            ups += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(prev, c, 3, padding=1)]
            ups.append(nn.ReLU())
            prev = c
        ups.append(nn.Conv2d(prev, 1, 3, padding=1))
        self.ups = nn.Sequential(*ups)
        _he_init(self)

    def forward(self, latent: Tensor) -> Tensor:
        h = self.fc(latent).reshape(-1, self.chans[0], self.start, self.start)
        out = self.ups(h)
        lo = (self.full - self.pixels) // 2
        return out[:, :, lo : lo + self.pixels, lo : lo + self.pixels]


class ImageAutoencoder(Objective):
    """Jet-image autoencoder scored by the per-jet pixel MSE (see the module).

    Parameters
    ----------
    dim : backbone embedding size.
    latent_dim : bottleneck size (8); must be smaller than the number of pixels.
    pixels : image side ``P``.
    width, channels : of the :class:`ImageDecoder`.

    Notes
    -----
    ``inputs`` of :meth:`loss` and :meth:`score` are the images ``[B, 1, P, P]`` the backbone
    saw (:meth:`adsearch.models.cnn.CNNBackbone.prepare`, called once per batch by
    :class:`~adsearch.models.registry.AnomalyModel`, so an augmented training image is the
    target of its own reconstruction).
    """

    name = "ae"

    def __init__(
        self,
        dim: int,
        latent_dim: int = 8,
        pixels: int = 25,
        width: int = 128,
        channels: Sequence[int] = DECODER_CHANNELS,
    ) -> None:
        super().__init__()
        if not 1 <= latent_dim < pixels * pixels:
            raise ValueError(
                f"latent_dim must be in [1, {pixels * pixels}) (a bottleneck narrower than "
                f"the {pixels} x {pixels} image), got {latent_dim}"
            )
        self.to_latent = nn.Linear(dim, latent_dim)
        self.decoder = ImageDecoder(latent_dim, pixels, width, channels)

    @property
    def latent_dim(self) -> int:
        return self.to_latent.out_features

    def reconstruct(self, z: Tensor) -> Tensor:
        """Decoded images ``[B, 1, P, P]``."""
        return self.decoder(self.to_latent(z))

    def per_jet_error(self, z: Tensor, images: Tensor) -> Tensor:
        """Mean squared pixel error of every jet, ``[B]`` (float32 at least)."""
        if not isinstance(images, Tensor) or images.ndim != 4:
            raise ValueError("the image autoencoder needs the images [B, 1, P, P] as inputs")
        diff = self.reconstruct(z).float() - images.float()
        return (diff * diff).mean((1, 2, 3))

    def loss(self, z: Tensor, inputs: ModelInputs, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        err = self.per_jet_error(z, inputs)
        return err.mean(), err.detach()

    def score(self, z: Tensor, inputs: ModelInputs) -> Tensor:
        return self.per_jet_error(z, inputs)
