"""The pretrained encoder: built from a :class:`PretrainConfig`, saved as ``encoder.pt``.

:class:`ContrastiveModel` is the network of the pretraining, an encoder ``f`` (a
:class:`~adsearch.models.transformer.TransformerBackbone` on the ``basic`` constituent
features ``x [B, N, 3]``: pT fraction, Δη, Δφ; the pT fraction enters as a logarithm, and
the input standardisation :class:`~adsearch.models.norm.InputNorm` lives in the encoder's
``state_dict``) and a projection head ``g``. The loss compares ``g(f(view))``; only ``f`` is
kept (Chen et al. 2020, SimCLR: the representation before the head transfers better).

``encoder.pt`` holds ``format`` (``"adsearch-encoder"``), ``version``, ``config`` (the
whole :class:`PretrainConfig` as a dict), ``in_dim``, ``state_dict`` (encoder only, input
standardisation included), ``input_norm`` (its shift, scale and log columns, readable
without torch modules) and ``epoch``; both objectives (contrastive, and masked-particle
modelling: :class:`adsearch.pretrain.mpm.MPMModel`) write the same file.
:func:`load_encoder` rebuilds the frozen encoder (the file is read by
:func:`adsearch.models.pretrained.read_encoder`, which a training with ``model.encoder:
"pretrained:PATH"`` uses too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from adsearch.config import from_dict, to_dict
from adsearch.models.pretrained import (
    ENCODER,
    ENCODER_FORMAT,
    IN_DIM,
    LOG_COLUMNS,
    read_encoder,
    set_encoder,
)
from adsearch.models.transformer import MLP, TransformerBackbone
from adsearch.pretrain.config import PretrainConfig

__all__ = [
    "ENCODER",
    "ContrastiveModel",
    "build_contrastive",
    "build_encoder",
    "encoder_blob",
    "load_encoder",
]

FORMAT = ENCODER_FORMAT
FORMAT_VERSION = 1


class HasEncoder(Protocol):
    """A pretraining network: an ``encoder`` (saved) and heads used by the loss only."""

    encoder: TransformerBackbone


def build_encoder(cfg: PretrainConfig) -> TransformerBackbone:
    """The (untrained) encoder of ``cfg.encoder`` (weights from torch's global generator)."""
    return set_encoder(to_dict(cfg.encoder))


class ContrastiveModel(nn.Module):
    """Encoder ``f`` + projection head ``g``: ``(x [B, N, 3], mask [B, N])`` ->
    ``(h = f(x) [B, out_dim], z = g(h) [B, projection.dim])``."""

    def __init__(self, encoder: TransformerBackbone, projection: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.projection = projection

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder((x, mask))
        return h, self.projection(h)


def build_contrastive(cfg: PretrainConfig) -> ContrastiveModel:
    """Encoder and projection head of ``cfg``, initialised from ``cfg.seed`` (the global
    random state of the caller is saved and restored around the initialisation)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        encoder = build_encoder(cfg)
        head = MLP(cfg.encoder.embedding_dim, cfg.projection.width, cfg.projection.dim, layers=2)
    return ContrastiveModel(encoder, head)


def encoder_blob(model: HasEncoder, config: dict[str, Any], epoch: int) -> dict[str, Any]:
    """What ``encoder.pt`` holds (module docstring): the encoder's weights, on the CPU."""
    enc = model.encoder
    norm = enc.input_norm
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": config,
        "in_dim": IN_DIM,
        "state_dict": {k: v.detach().cpu().clone() for k, v in enc.state_dict().items()},
        "input_norm": {
            "shift": norm.shift.cpu().tolist(),
            "scale": norm.scale.cpu().tolist(),
            "log_columns": list(LOG_COLUMNS),
        },
        "epoch": epoch,
    }


def load_encoder(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[TransformerBackbone, PretrainConfig]:
    """The frozen pretrained encoder of ``encoder.pt`` (or a directory holding it).

    Returns the encoder (eval mode, no parameter requires a gradient), mapping
    ``(x [B, N, 3], mask [B, N])`` of the ``basic`` features to embeddings ``[B, out_dim]``,
    and its :class:`PretrainConfig`.
    """
    encoder, blob = read_encoder(path)
    cfg = from_dict(PretrainConfig, blob["config"], source=str(path))
    encoder.requires_grad_(False)
    return encoder.to(device).eval(), cfg
