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
without torch modules) and ``epoch``. :func:`load_encoder` rebuilds the frozen encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from adsearch.config import from_dict
from adsearch.errors import InputError
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

ENCODER = "encoder.pt"
FORMAT = "adsearch-encoder"
FORMAT_VERSION = 1
#: the ``basic`` constituent features (pT fraction, Δη, Δφ); the pT fraction enters as ln
IN_DIM = 3
LOG_COLUMNS = (0,)


def build_encoder(cfg: PretrainConfig) -> TransformerBackbone:
    """The (untrained) encoder of ``cfg.encoder`` (weights from torch's global generator)."""
    e = cfg.encoder
    return TransformerBackbone(
        in_dim=IN_DIM,
        width=e.width,
        layers=e.layers,
        heads=e.heads,
        readout=e.readout,
        mlp_layers=e.mlp_layers,
        out_dim=e.out_dim,
        bias=True,
        log_columns=LOG_COLUMNS,
    )


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


def encoder_blob(model: ContrastiveModel, config: dict[str, Any], epoch: int) -> dict[str, Any]:
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
    p = Path(path)
    if p.is_dir():
        p = p / ENCODER
    if not p.is_file():
        raise InputError(f"{p}: no such encoder file (pretrain first)")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt/foreign file
        raise InputError(f"{p}: not an adsearch encoder file ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError(f"{p}: not an adsearch encoder file")
    cfg = from_dict(PretrainConfig, blob["config"], source=str(p))
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten below
        encoder = build_encoder(cfg)
    encoder.load_state_dict(blob["state_dict"])
    encoder.requires_grad_(False)
    return encoder.to(device).eval(), cfg
