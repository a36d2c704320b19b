"""A pretrained set encoder: its file, and its use as the backbone of an anomaly model.

``adsearch pretrain`` (:mod:`adsearch.pretrain`) trains a
:class:`~adsearch.models.transformer.TransformerBackbone` on the ``basic`` constituent
features of padded jets, ``x [B, N, 3]`` (pT fraction, Δη, Δφ; the pT fraction enters as
``ln``) with ``mask [B, N]``, and writes it to ``encoder.pt``: a dict with ``format``
(``"adsearch-encoder"``), ``version``, ``config`` (the whole pretraining configuration; its
``encoder`` section, the *architecture* ``width``, ``layers``, ``heads``, ``mlp_layers``,
``readout``, ``out_dim``, rebuilds the network), ``in_dim``, ``state_dict`` (input
standardisation included), ``input_norm`` and ``epoch``. This module owns the reading of
that file (:func:`read_encoder`), so that the models layer can build an anomaly model on it
without importing the pretraining.

:class:`PretrainedBackbone` is the backbone of a training config with
``model.encoder: "pretrained:PATH"``: the encoder ``f`` and a head MLP ``g`` on its
embedding, ``s = objective(g(f(x, mask)))``. In ``frozen`` mode ``f`` is fixed (no
gradients, always in eval mode) and only ``g`` and the objective train; in ``finetune`` mode
``f`` trains too. The input standardisation stays the encoder's own (it is not refitted on
the training jets: the encoder learned on it); the *embedding* is standardised per dimension
on the training jets before the head (:meth:`PretrainedBackbone.fit_embedding_norm`), so that
a bias-free DeepSVDD head sees no constant offset to collapse onto.

Examples
--------
>>> import torch
>>> arch = {"width": 16, "layers": 1, "heads": 2, "mlp_layers": 2, "readout": "mean",
...         "out_dim": 8}
>>> enc = set_encoder(arch)
>>> net = PretrainedBackbone(enc, torch.nn.Linear(8, 4), frozen=True, arch=arch)
>>> x, mask = torch.rand(5, 7, 3), torch.ones(5, 7, dtype=torch.bool)
>>> net((x, mask)).shape, any(p.requires_grad for p in net.encoder.parameters())
(torch.Size([5, 4]), False)
>>> net.train().encoder.training  # a frozen encoder stays in eval mode
False
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from adsearch.models.files import read_blob
from adsearch.models.norm import InputNorm
from adsearch.models.transformer import TransformerBackbone, _unpack

__all__ = [
    "ENCODER",
    "ENCODER_FORMAT",
    "IN_DIM",
    "LOG_COLUMNS",
    "PREFIX",
    "PretrainedBackbone",
    "architecture",
    "encoder_file",
    "read_encoder",
    "set_encoder",
]

ENCODER = "encoder.pt"
ENCODER_FORMAT = "adsearch-encoder"
#: the ``basic`` constituent features (pT fraction, Δη, Δφ); the pT fraction enters as ln
IN_DIM = 3
LOG_COLUMNS = (0,)
#: ``model.encoder`` of a training config: ``"pretrained:" + path``
PREFIX = "pretrained:"


def set_encoder(arch: Mapping[str, Any]) -> TransformerBackbone:
    """The (untrained) encoder of the architecture ``arch`` (the ``encoder`` section of a
    pretraining config: ``width``, ``layers``, ``heads``, ``mlp_layers``, ``readout``,
    ``out_dim``); weights from torch's global generator, biases and layer norms on."""
    return TransformerBackbone(
        in_dim=IN_DIM,
        width=int(arch["width"]),
        layers=int(arch["layers"]),
        heads=int(arch["heads"]),
        readout=str(arch["readout"]),
        mlp_layers=int(arch["mlp_layers"]),
        out_dim=None if arch.get("out_dim") is None else int(arch["out_dim"]),
        bias=True,
        log_columns=LOG_COLUMNS,
    )


def encoder_file(path: str | Path) -> Path:
    """The encoder file named by ``path``: the file itself, or ``encoder.pt`` in a directory.

    >>> encoder_file("runs/pre/encoder.pt").name
    'encoder.pt'
    """
    p = Path(path)
    return p / ENCODER if p.is_dir() else p


def read_encoder(path: str | Path) -> tuple[TransformerBackbone, dict[str, Any]]:
    """The trained encoder of ``encoder.pt`` (or a directory holding it) and the file's dict.

    The encoder is returned as stored (training mode, gradients on); the caller freezes it
    or not. The global random state is left unchanged.

    Raises
    ------
    InputError
        The file is missing (naming the path) or is not an adsearch encoder file.
    """
    p = encoder_file(path)
    blob = read_blob(
        p, ENCODER_FORMAT, "an adsearch encoder file", "no such encoder file (pretrain first)"
    )
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten below
        encoder = set_encoder(architecture(blob["config"]))
    encoder.load_state_dict(blob["state_dict"])
    return encoder, blob


def architecture(config: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture fields of a pretraining config dict (its ``encoder`` section; the
    defaults of
    :class:`adsearch.pretrain.config.EncoderConfig` for missing ones)."""
    e = dict(config.get("encoder") or {})
    keys = {"width": 128, "layers": 3, "heads": 8, "mlp_layers": 3, "readout": "mean"}
    out = {k: e.get(k, v) for k, v in keys.items()}
    out["out_dim"] = e.get("out_dim")
    return out


class PretrainedBackbone(nn.Module):
    """A pretrained encoder ``f`` and a head MLP ``g``: ``(x [B, N, 3], mask [B, N])`` ->
    ``g(f(x, mask)) [B, D]``.

    Parameters
    ----------
    encoder : the pretrained :class:`~adsearch.models.transformer.TransformerBackbone`.
    head : maps the encoder's embedding ``[B, encoder.out_dim]`` to ``[B, D]`` (for
        DeepSVDD bias-free).
    frozen : ``True``: the encoder's parameters get no gradient and the encoder stays in
        eval mode whatever :meth:`train` is called with; ``False``: it is fine-tuned.
    arch : the encoder's architecture (saved with a trained model, so that it can be rebuilt
        without the encoder file: :func:`adsearch.train.load_model`).
    """

    input_kind = "dense"

    def __init__(
        self, encoder: TransformerBackbone, head: nn.Module, frozen: bool, arch: Mapping[str, Any]
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        #: per-dimension standardisation of the embedding (fitted by the trainer on its
        #: normalisation jets; identity until then)
        self.embedding_norm = InputNorm(encoder.out_dim)
        self.frozen = frozen
        self.arch = dict(arch)
        self.encoder.requires_grad_(not frozen)
        self.train()

    def train(self, mode: bool = True) -> PretrainedBackbone:
        super().train(mode)
        if self.frozen:
            self.encoder.eval()
        return self

    def forward(self, inputs: tuple[Tensor, Tensor] | Tensor, mask: Tensor | None = None) -> Tensor:
        """``inputs`` = ``(x, mask)`` (or ``x`` and ``mask`` as two arguments) -> ``[B, D]``."""
        x, mask = _unpack(inputs, mask)
        return self.head(self.embedding_norm(self.encoder((x, mask))))

    @torch.no_grad()
    def fit_embedding_norm(self, batches: Iterable[tuple[Tensor, Tensor]]) -> None:
        """Standardise the encoder's embedding (per dimension) on the jets of ``batches``
        (padded ``(x, mask)``; the trainer passes its normalisation jets).

        A pretrained encoder has biases and layer norms, so its embeddings share a large
        common offset; a bias-free DeepSVDD head can map that offset onto the centre and
        ignore the jet-to-jet variation (measured: validation distance 2e-4 -> 2e-5 in 15
        epochs, event AUC 0.51 / 0.47). Centred and scaled embeddings carry no constant.
        """
        dev = next(self.encoder.parameters()).device
        was = self.encoder.training
        self.encoder.eval()
        try:
            rows = [self.encoder((x.to(dev), m.to(dev))).double().cpu() for x, m in batches]
        finally:
            self.encoder.train(was)
        self.embedding_norm.fit(torch.cat(rows))
