"""ParticleNet on padded jets: :class:`ParticleNetBackbone` (``model.backbone: particlenet``).

Qu & Gouskos, "ParticleNet: Jet Tagging via Particle Clouds", PRD 101 (2020) 056019: the
jet is a point cloud of its constituents, processed by EdgeConv blocks
(:class:`~adsearch.models.edgeconv.EdgeConvBlock`) whose neighbourhoods are recomputed in
each block's own feature space (dynamic graph)::

    h^0   = InputNorm(x) * mask                                    [B, N, F]
    h^1   = EdgeConv_1(h^0, kNN in (Δη, Δφ))                       [B, N, C_1]
    h^l   = EdgeConv_l(h^(l-1), kNN in h^(l-1))                    [B, N, C_l]
    z     = MLP(pool(h^L over the real constituents))             [B, out_dim]

Sizes (``size``):

=========  ===  ============================================  ==========================
size       k    EdgeConv channels                              paper's FC layer
=========  ===  ============================================  ==========================
default    16   (64, 64, 64), (128, 128, 128), (256, 256, 256)  256 (366k parameters)
lite       7    (32, 32, 32), (64, 64, 64)                     128 (26k parameters)
=========  ===  ============================================  ==========================

``k`` and ``blocks`` override the size's values. The paper's input batch norm is the
model's :class:`~adsearch.models.norm.InputNorm` (fitted by the trainer, stored with the
model, exported); its global average pooling is ``readout="mean"`` over the real
constituents; its fully connected layer (256 / 128 units, ReLU, dropout 0.1) and output
layer are here the output MLP (``mlp_layers`` layers of ``width``, no dropout: every random
step of a training is seeded, and DeepSVDD wants no dropout) followed by the objective's
head. Batch norm (``norm="batch"``, the default with biases) is the masked
:class:`~adsearch.models.batchnorm.MaskedBatchNorm`, so padding changes nothing in training
either; ``bias=False`` (DeepSVDD) defaults to ``norm="none"`` and has no additive parameter.
The reference implementation's optional fusion layer (a 1x1 convolution over the
concatenated block outputs) is not part of the paper's network and is not built.

Examples
--------
>>> import torch
>>> net = ParticleNetBackbone(width=16, size="lite")
>>> x, mask = torch.rand(4, 9, 3), torch.ones(4, 9, dtype=torch.bool)
>>> net((x, mask)).shape
torch.Size([4, 16])
>>> mask[1, 3:] = False  # a jet with 3 constituents: fewer than k = 7 neighbours
>>> bool(torch.isfinite(net((x, mask))).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from adsearch.models.edgeconv import EdgeConvBlock
from adsearch.models.mlp import MLP, _he_init
from adsearch.models.norm import InputNorm
from adsearch.models.transformer import _unpack, masked_readout

__all__ = ["SIZES", "ParticleNetBackbone"]

#: published sizes: neighbours k and the channels of each EdgeConv block
SIZES: dict[str, dict[str, Any]] = {
    "default": {"k": 16, "blocks": ((64, 64, 64), (128, 128, 128), (256, 256, 256))},
    "lite": {"k": 7, "blocks": ((32, 32, 32), (64, 64, 64))},
}


class ParticleNetBackbone(nn.Module):
    """ParticleNet encoder: dense jets ``(x [B, N, F], mask [B, N])`` -> ``[B, out_dim]``.

    Parameters
    ----------
    in_dim : constituent features ``F`` (3: pT fraction, Δη, Δφ).
    width : hidden width of the output MLP (128).
    readout : ``"mean"`` (the paper's global average pooling), ``"sum"`` or ``"max"`` over
        the real constituents.
    mlp_layers : layers of the output MLP (3).
    out_dim : embedding size (default ``width``).
    bias : ``False`` removes every additive parameter (DeepSVDD).
    size : ``"default"`` (3 blocks, k = 16) or ``"lite"`` (2 blocks, k = 7), see the module.
    k : neighbours per constituent (overrides the size's).
    blocks : EdgeConv channels per block, e.g. ``[[64, 64, 64], [128, 128, 128]]``
        (overrides the size's).
    norm : ``"batch"`` or ``"none"``; ``None`` picks batch norm with biases and none without.
    coord_columns : the columns of ``x`` (raw, not standardised) whose distances define the
        first block's neighbours: Δη, Δφ (1, 2).
    log_columns : features that :attr:`input_norm` takes the logarithm of.
    """

    input_kind = "dense"

    def __init__(
        self,
        in_dim: int = 3,
        width: int = 128,
        readout: str = "mean",
        mlp_layers: int = 3,
        out_dim: int | None = None,
        bias: bool = True,
        size: str = "default",
        k: int | None = None,
        blocks: Sequence[Sequence[int]] | None = None,
        norm: str | None = None,
        coord_columns: Sequence[int] = (1, 2),
        log_columns: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown ParticleNet size {size!r} (allowed: {', '.join(SIZES)})")
        if readout not in ("sum", "mean", "max"):
            raise ValueError(f"unknown readout {readout!r} (allowed: sum, mean, max)")
        preset = SIZES[size]
        self.k = int(k if k is not None else preset["k"])
        chans = blocks if blocks is not None else preset["blocks"]
        self.blocks_channels = tuple(tuple(int(c) for c in b) for b in chans)
        if not self.blocks_channels:
            raise ValueError("ParticleNet needs at least one EdgeConv block")
        cols = tuple(int(c) for c in coord_columns)
        if not cols or not all(0 <= c < in_dim for c in cols):
            raise ValueError(f"coord_columns {cols} outside the {in_dim} input features")
        self.coord_columns = cols
        self.readout = readout
        self.out_dim = out_dim or width
        norm = norm or ("batch" if bias else "none")
        self.input_norm = InputNorm(in_dim, log_columns)
        convs = []
        dim = in_dim
        for chan in self.blocks_channels:
            convs.append(EdgeConvBlock(dim, chan, k=self.k, bias=bias, norm=norm))
            dim = chan[-1]
        self.edge_convs = nn.ModuleList(convs)
        self.head = MLP(dim, width, self.out_dim, layers=mlp_layers, bias=bias)
        _he_init(self)

    def encode(self, x: Tensor, mask: Tensor) -> Tensor:
        """Per-constituent features ``[B, N, C_L]`` after the EdgeConv blocks (0 on padding)."""
        m = mask.unsqueeze(-1)
        h = self.input_norm(x)
        h = h.masked_fill(~m, 0.0)
        points = x[..., list(self.coord_columns)]
        for conv in self.edge_convs:
            h = conv(h, points, mask)
            points = h
        return h

    def forward(self, inputs: tuple[Tensor, Tensor] | Tensor, mask: Tensor | None = None) -> Tensor:
        """``inputs`` = ``(x, mask)`` (or ``x`` and ``mask`` as two arguments) -> ``[B, D]``."""
        x, mask = _unpack(inputs, mask)
        return self.head(masked_readout(self.encode(x, mask), mask, self.readout))

    def extra_repr(self) -> str:
        return f"k={self.k}, blocks={self.blocks_channels}, readout={self.readout!r}"
