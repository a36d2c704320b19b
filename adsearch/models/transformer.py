"""Transformers on the constituent set: a plain encoder, a ParT-style encoder and an AE decoder.

All modules take the dense view of a batch of jets, ``x [B, N, F]`` (constituent features,
by default ``[pT / pT_jet, eta - eta_jet, phi - phi_jet]``) and ``mask [B, N]`` (``True`` for
a real constituent, ``False`` for padding). Padded constituents are excluded everywhere
(attention keys, pooling, loss), so adding padding changes no output; without positional
encodings the encoders are permutation invariant.

* :class:`TransformerBackbone` — input MLP (3 layers) -> 3 pre-LN self-attention blocks ->
  masked readout (sum / mean / max) -> output MLP (3 layers), width 128
  (D'Avanzo (ATLAS), EuCAIFCon 2025).
* :class:`ParticleTransformerBackbone` — the same with Particle-Transformer pair features
  (ln kT, ln z, ln ΔR, ln m², Qu & Gouskos 2022) embedded into one additive attention bias
  per head and layer.
* :class:`SetDecoder` — decoder of the transformer autoencoder: reconstructs the constituent
  set from a small latent (slot embeddings + self-attention, one slot per real constituent),
  so the per-jet reconstruction error can be the anomaly score.

Attention is written out (``softmax(q kᵀ/√d + bias)``) instead of calling
``nn.MultiheadAttention`` because the ParT bias is per head and per pair, the padding mask
must be additive for ONNX export, and ``bias=False`` must remove every additive parameter
(DeepSVDD, Ruff et al. 2018).

Examples
--------
>>> import torch
>>> net = TransformerBackbone(width=16, heads=2, layers=1)
>>> x, mask = torch.randn(4, 7, 3), torch.ones(4, 7, dtype=torch.bool)
>>> net((x, mask)).shape
torch.Size([4, 16])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from adsearch.models.mlp import MLP  # one MLP for every backbone (re-exported here)
from adsearch.models.norm import InputNorm

__all__ = [
    "MLP",
    "ParticleTransformerBackbone",
    "SetDecoder",
    "TransformerBackbone",
    "masked_readout",
    "pair_features",
]

_EPS = 1e-8


def masked_readout(h: Tensor, mask: Tensor, how: str) -> Tensor:
    """Pool ``h [B, N, D]`` over the real constituents (``mask [B, N]``) -> ``[B, D]``.

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> m = torch.tensor([[True, True, False]])
    >>> [masked_readout(h, m, k).item() for k in ("sum", "mean", "max")]
    [4.0, 2.0, 3.0]
    """
    m = mask.unsqueeze(-1).to(h.dtype)
    if how == "sum":
        return (h * m).sum(1)
    if how == "mean":
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)
    if how == "max":
        neg = torch.finfo(h.dtype).min
        return h.masked_fill(~mask.unsqueeze(-1), neg).amax(1)
    raise ValueError(f"unknown readout {how!r} (allowed: sum, mean, max)")


def pair_features(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """ParT pair features ``[B, N, N, 4]`` = (ln kT, ln z, ln ΔR, ln m²) from dense nodes.

    ``x[..., 0]`` is the (relative) constituent pT, ``x[..., 1:3]`` the (relative) η, φ; the
    constituents are massless, so ``m² = 2 pT_a pT_b (cosh Δη - cos Δφ)``. With relative pT
    the kT and m² are in units of the jet pT (boost-invariant). Arguments of the logarithms
    are clamped at 1e-8 (ΔR = 0 on the diagonal); padded pairs are set to zero.
    """
    pt, eta, phi = x[..., 0], x[..., 1], x[..., 2]
    pa, pb = pt.unsqueeze(-1), pt.unsqueeze(-2)
    deta = eta.unsqueeze(-1) - eta.unsqueeze(-2)
    dphi = phi.unsqueeze(-1) - phi.unsqueeze(-2)
    # wrap Δφ into [-π, π) (relative φ is already small; this keeps raw φ input safe too)
    dphi = torch.remainder(dphi + math.pi, 2 * math.pi) - math.pi
    dr = torch.sqrt(deta * deta + dphi * dphi + _EPS * _EPS)
    ptmin = torch.minimum(pa, pb)
    kt = ptmin * dr
    z = ptmin / (pa + pb).clamp(min=_EPS)
    m2 = 2.0 * pa * pb * (torch.cosh(deta) - torch.cos(dphi))
    feats = torch.stack(
        [
            torch.log(kt.clamp(min=_EPS)),
            torch.log(z.clamp(min=_EPS)),
            torch.log(dr.clamp(min=_EPS)),
            torch.log(m2.clamp(min=_EPS)),
        ],
        dim=-1,
    )
    if mask is not None:
        pm = (mask.unsqueeze(-1) & mask.unsqueeze(-2)).unsqueeze(-1)
        feats = feats * pm.to(feats.dtype)
    return feats


class _Block(nn.Module):
    """Pre-LN transformer block: ``h + Attn(LN h)``, then ``h + FFN(LN h)``."""

    def __init__(self, width: int, heads: int, ffn: int, bias: bool, norm: str = "layer") -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.ln1 = _layer_norm(width, bias, norm)
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.ln2 = _layer_norm(width, bias, norm)
        self.ffn = MLP(width, ffn, width, layers=2, bias=bias)

    def forward(self, h: Tensor, attn_bias: Tensor) -> Tensor:
        b, n, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).chunk(3, dim=-1)
        dh = d // self.heads

        def split(t: Tensor) -> Tensor:
            return t.reshape(b, n, self.heads, dh).transpose(1, 2)  # [B, H, N, dh]

        q, k, v = split(q), split(k), split(v)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + attn_bias
        att = torch.softmax(att, dim=-1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(b, n, d)
        h = h + self.proj(o)
        return h + self.ffn(self.ln2(h))


def _layer_norm(width: int, bias: bool, norm: str) -> nn.Module:
    if norm == "layer":
        return nn.LayerNorm(width, bias=bias, elementwise_affine=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r} (allowed: layer, none)")


def _key_mask_bias(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Additive bias ``[B, 1, 1, N]``: 0 for real keys, -inf for padding."""
    zero = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return zero.masked_fill(~mask, float("-inf"))[:, None, None, :]


def _unpack(inputs: tuple[Tensor, Tensor] | Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    if mask is None:
        if isinstance(inputs, Tensor):
            x = inputs
            return x, torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        x, mask = inputs
    else:
        x = inputs  # type: ignore[assignment]
    return x, mask.to(torch.bool)


class TransformerBackbone(nn.Module):
    """Set transformer encoder: dense jets -> one embedding per jet ``[B, out_dim]``.

    Parameters
    ----------
    in_dim : number of constituent features (3).
    width : hidden width (128).
    layers : attention blocks (3, D'Avanzo (ATLAS), EuCAIFCon 2025).
    heads : attention heads.
    readout : ``"sum"``, ``"mean"`` or ``"max"`` pooling over real constituents.
    mlp_layers : layers of the input and of the output MLP (3).
    out_dim : embedding size (default ``width``).
    bias : ``False`` removes every bias (linear and LayerNorm) — required for DeepSVDD.
    pair_bias : add ParT pair-feature attention biases (see
        :class:`ParticleTransformerBackbone`).
    norm : ``"layer"`` (pre-LN blocks and a final LayerNorm) or ``"none"``; ``None`` picks
        layer norm with biases and none without (DeepSVDD: LayerNorm's mean subtraction and
        rescaling act as the bias term the objective must not have, Ruff et al. 2018).
    log_columns : features that :attr:`input_norm` takes the logarithm of before
        standardising (:class:`~adsearch.models.norm.InputNorm`, fitted by the trainer).
        The pair features of ParT are computed from the raw ``x``; padded constituents are
        zeroed after standardisation.
    """

    input_kind = "dense"

    def __init__(
        self,
        in_dim: int = 3,
        width: int = 128,
        layers: int = 3,
        heads: int = 8,
        readout: str = "mean",  # checked below (model.readout of a configuration)
        mlp_layers: int = 3,
        out_dim: int | None = None,
        bias: bool = True,
        pair_bias: bool = False,
        pair_dim: int = 4,
        norm: str | None = None,
        log_columns: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if readout not in ("sum", "mean", "max"):
            raise ValueError(f"unknown readout {readout!r} (allowed: sum, mean, max)")
        norm = norm or ("layer" if bias else "none")
        self.readout = readout
        self.heads = heads
        self.out_dim = out_dim or width
        self.input_norm = InputNorm(in_dim, log_columns)
        self.embed = MLP(in_dim, width, width, layers=mlp_layers, bias=bias)
        self.blocks = nn.ModuleList(
            _Block(width, heads, 2 * width, bias, norm) for _ in range(layers)
        )
        self.norm = _layer_norm(width, bias, norm)
        self.head = MLP(width, width, self.out_dim, layers=mlp_layers, bias=bias)
        self.pair_embed = (
            MLP(pair_dim, 64, heads * layers, layers=3, bias=bias) if pair_bias else None
        )

    def encode(
        self, x: Tensor, mask: Tensor, replace: Tensor | None = None, token: Tensor | None = None
    ) -> Tensor:
        """Per-constituent (token) outputs ``[B, N, width]`` after the attention blocks.

        ``replace [B, N]`` (optional, bool) marks constituents whose input embedding
        ``embed(input_norm(x_i))`` is replaced by ``token`` (``[width]``, or ``[N, width]``:
        one per slot) before the blocks (the mask token of masked-particle modelling,
        :class:`adsearch.pretrain.mpm.MPMModel`): the outputs then do not depend on
        those constituents' features at all (their slots stay real attention keys).
        Not available with pair-feature biases, which are computed from every ``x``.
        """
        kbias = _key_mask_bias(mask, x.dtype)
        biases: list[Tensor] = [kbias] * len(self.blocks)
        if replace is not None and (token is None or self.pair_embed is not None):
            raise ValueError("replace needs a token and a backbone without pair-feature biases")
        if self.pair_embed is not None:
            pb = self.pair_embed(pair_features(x, mask))  # [B, N, N, H * L]
            pb = pb.permute(0, 3, 1, 2)  # [B, H * L, N, N]
            pbs = pb.chunk(len(self.blocks), dim=1)
            biases = [kbias + p for p in pbs]
        xs = self.input_norm(x) * mask.unsqueeze(-1).to(x.dtype)
        h = self.embed(xs)
        if replace is not None and token is not None:
            h = torch.where(replace.unsqueeze(-1), token.to(h.dtype), h)
        for blk, b in zip(self.blocks, biases, strict=True):
            h = blk(h, b)
        return self.norm(h)

    def forward(self, inputs: tuple[Tensor, Tensor] | Tensor, mask: Tensor | None = None) -> Tensor:
        """``inputs`` = ``(x, mask)`` (or ``x`` and ``mask`` as two arguments) -> ``[B, D]``."""
        x, mask = _unpack(inputs, mask)
        h = self.encode(x, mask)
        return self.head(masked_readout(h, mask, self.readout))


class ParticleTransformerBackbone(TransformerBackbone):
    """ParT-style encoder: :class:`TransformerBackbone` with pair-feature attention biases.

    For every pair of constituents the features (ln kT, ln z, ln ΔR, ln m²) are embedded by a
    small MLP into ``heads x layers`` numbers, added to the attention logits of each head in
    each block (Qu & Gouskos, "Particle Transformer for Jet Tagging", 2022).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs["pair_bias"] = True
        super().__init__(**kwargs)


class SetDecoder(nn.Module):
    """Decode a latent ``z [B, latent_dim]`` into a constituent set ``[B, N, out_dim]``.

    The decoder never sees the input features: it gets the latent and, from ``mask [B, N]``,
    how many points to produce (one per real input constituent). Slot ``k`` starts from a
    slot embedding plus a projection of ``z`` and passes masked self-attention blocks and a
    linear output; padded slots are excluded as attention keys and are to be ignored by the
    loss, so padding changes no real output.

    Identical starting slots would stay identical through self-attention, so the slots keep
    one learned embedding per index. With a permutation-invariant loss
    (:func:`~adsearch.models.setloss.chamfer_distance`) slot ``k`` need not reproduce the k-th
    hardest constituent; with the slot-wise MSE it must.
    """

    def __init__(
        self,
        latent_dim: int,
        width: int = 128,
        layers: int = 3,
        heads: int = 8,
        max_len: int = 128,
        out_dim: int = 3,
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.slots = nn.Parameter(torch.randn(max_len, width) * 0.02)
        self.lift = nn.Linear(latent_dim, width)
        self.blocks = nn.ModuleList(_Block(width, heads, 2 * width, True) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_dim)

    def forward(self, z: Tensor, mask: Tensor) -> Tensor:
        """``z [B, latent_dim]``, ``mask [B, N]`` -> reconstructed points ``[B, N, out_dim]``."""
        n = mask.shape[1]
        if n > self.max_len:
            raise ValueError(f"{n} constituents > decoder max_len {self.max_len}")
        h = self.slots[:n].unsqueeze(0) + self.lift(z).unsqueeze(1)
        kbias = _key_mask_bias(mask.to(torch.bool), h.dtype)
        for blk in self.blocks:
            h = blk(h, kbias)
        return self.out(self.norm(h))
