"""Masked-particle modelling (MPM): pretrain the encoder to fill in hidden constituents.

For a jet with ``n`` real constituents, a random subset ``M`` of ``k = max(1, round(f n))``
of them (``f``: ``mpm.mask_fraction``; never a padded slot) is hidden: the encoder's input
embedding of every ``i ∈ M`` is replaced by one learned mask token ``t [width]``
(:meth:`adsearch.models.transformer.TransformerBackbone.encode` with ``replace``; the
hidden features are also zeroed before the call, so they reach the encoder by no path),
plus a learned embedding ``r [N_max, width]`` of the hidden constituent's pT rank in its
jet (the slot of the pT-ordered constituents, :func:`adsearch.graphs.convert.to_dense`).
The encoder is permutation-equivariant: with one shared mask token every hidden
constituent of a jet would get the same output and the same prediction, so the best the
head could do is the mean of the hidden set (the loss stays near the features' variance).
The rank tells them apart — "the third-hardest constituent is missing" — the ordering
Golling et al. study to break this symmetry. The other constituents (their slots stay real
attention keys) are the context. A head MLP ``g`` predicts each hidden constituent's
standardised features from its token output ``h_i [width]``:

    h_i = f(x_visible, t + r_i)_i,   ŷ_i = g(h_i),
    y_i = input_norm(x_i) = ((ln z_i, Δη_i, Δφ_i) - shift) / scale

    L = 1 / (3 |M|) Σ_{jets} Σ_{i ∈ M} ||ŷ_i - y_i||²

(mean squared error over the hidden slots of the batch only). Filling in a constituent
from the others needs a model of how pT and angles are distributed in jets, which is what
the encoder should learn; no augmentation and no negative pairs are involved.

After Golling, Heinrich, Kagan, Klein, Leigh, Osadchy, Raine, "Masked particle modeling on
sets: towards self-supervised high energy physics foundation models", Mach. Learn.: Sci.
Technol. (2024), arXiv:2401.13537. That paper predicts discrete (VQ-VAE) tokens of the hidden
constituents; here their standardised features are regressed directly, the simplest
target (Leigh et al., "Is tokenization needed for masked particle modeling?", Mach. Learn.:
Sci. Technol. 6, 025075 (2025), compare targets). As in :mod:`adsearch.pretrain.encoder`,
only the encoder is saved (mask token, rank embedding and head are not).

Examples
--------
>>> import torch
>>> mask = torch.tensor([[True, True, True, True, False], [True, False, False, False, False]])
>>> hide = mask_constituents(mask, 0.5, torch.Generator().manual_seed(0))
>>> hide.sum(1).tolist(), bool((hide & ~mask).any())  # 2 of 4, 1 of 1; padding never
([2, 1], False)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from adsearch.models.pretrained import IN_DIM
from adsearch.models.transformer import MLP, TransformerBackbone
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.encoder import build_encoder

__all__ = ["MPMModel", "build_mpm", "mask_constituents", "masked_mse"]


def mask_constituents(mask: Tensor, fraction: float, g: torch.Generator) -> Tensor:
    """The constituents to hide: ``hide [B, N]`` (bool), ``max(1, round(fraction n_b))`` of
    the ``n_b`` real constituents of every jet ``b`` (``mask [B, N]``), chosen uniformly
    from ``g`` (one draw per slot, on the CPU); never a padded slot. A jet without real
    constituents hides none.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    real = mask.to(torch.bool).cpu()
    n = real.sum(1)
    k = torch.minimum(torch.round(fraction * n.double()).long().clamp(min=1), n)
    u = torch.rand(real.shape, generator=g, dtype=torch.float64).masked_fill(~real, 2.0)
    rank = u.argsort(1).argsort(1)  # rank of each slot's draw in its jet; padding last
    return (rank < k.unsqueeze(1)).to(mask.device)


def masked_mse(pred: Tensor, target: Tensor, hide: Tensor) -> Tensor:
    """Mean of ``(pred - target)²`` over the hidden slots ``hide [B, N]`` and the features
    of ``pred, target [B, N, F]`` (scalar; NaN when nothing is hidden)."""
    return (pred - target)[hide].pow(2).mean()


class MPMModel(nn.Module):
    """Encoder ``f``, mask token ``t``, rank embedding ``r`` and prediction head ``g`` of
    masked-particle modelling.

    ``tokens(x, mask, hide)`` are the encoder's per-constituent outputs ``[B, N, width]``
    with the constituents ``hide [B, N]`` replaced by ``t + r[slot]`` (their features zeroed
    first; the slots are pT-ordered, so ``slot`` is the pT rank); ``forward`` predicts the
    standardised features ``[B, N, 3]`` of every slot (only the hidden ones are trained);
    :meth:`loss` is :func:`masked_mse` against ``f.input_norm(x)``.
    """

    def __init__(
        self, encoder: TransformerBackbone, head: nn.Module, width: int, max_constituents: int
    ) -> None:
        super().__init__()
        if encoder.pair_embed is not None:
            raise ValueError("masked-particle modelling needs an encoder without pair biases")
        self.encoder = encoder
        self.mask_token = nn.Parameter(torch.zeros(width))
        self.rank_embed = nn.Parameter(torch.zeros(max_constituents, width))
        self.head = head

    def tokens(self, x: Tensor, mask: Tensor, hide: Tensor) -> Tensor:
        """Token outputs ``[B, N, width]``; the features of ``hide`` never enter."""
        mask, hide = mask.to(torch.bool), hide.to(torch.bool)
        if bool((hide & ~mask).any()):
            raise ValueError("only real constituents can be hidden")
        n = x.shape[1]
        if n > self.rank_embed.shape[0]:
            raise ValueError(
                f"{n} constituent slots, the rank embedding has {self.rank_embed.shape[0]}"
            )
        seen = x.masked_fill(hide.unsqueeze(-1), 0.0)
        token = self.mask_token + self.rank_embed[:n]  # [N, width]: the hidden slot's rank
        return self.encoder.encode(seen, mask, replace=hide, token=token)

    def forward(self, x: Tensor, mask: Tensor, hide: Tensor) -> Tensor:
        return self.head(self.tokens(x, mask, hide))

    def loss(self, x: Tensor, mask: Tensor, hide: Tensor) -> Tensor:
        """The MPM loss (module docstring) of the batch ``(x [B, N, 3], mask [B, N])``."""
        with torch.no_grad():
            target = self.encoder.input_norm(x)
        return masked_mse(self(x, mask, hide), target, hide.to(torch.bool))


def build_mpm(cfg: PretrainConfig) -> MPMModel:
    """Encoder, mask token (zeros) and head of ``cfg``, initialised from ``cfg.seed`` (the
    encoder gets the same initial weights as the contrastive model of that seed; the global
    random state of the caller is saved and restored)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        encoder = build_encoder(cfg)
        w = cfg.encoder.width
        head = MLP(w, w, IN_DIM, layers=cfg.mpm.head_layers)
        model = MPMModel(encoder, head, w, cfg.data.max_constituents)
        nn.init.normal_(model.rank_embed, std=0.02)  # small, as positional embeddings
    return model
