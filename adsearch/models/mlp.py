"""Dense building blocks of the backbones: :class:`MLP`, the normalisation choice, He init.

``bias=False`` removes every additive parameter (Linear biases, normalisation shifts), as
DeepSVDD requires (Ruff et al. 2018: with a bias the network can map every input onto the
centre). Activations are ReLU (unbounded); normalisation is ``BatchNorm1d`` with
``affine=bias`` (Ruff et al. use affine-free batch norm).
"""

from __future__ import annotations

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Sequential):
    """``layers`` Linear layers with ReLU between them (and after the last if ``final_act``).

    ``h [*, in_dim] -> [*, out_dim]``; the hidden layers have ``width`` features:
    ``h' = W_L ReLU(... ReLU(W_1 h + b_1) ...) + b_L`` (no ``b`` with ``bias=False``).

    >>> import torch
    >>> MLP(3, 8, 2, layers=2)(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        in_dim: int,
        width: int,
        out_dim: int,
        layers: int = 3,
        bias: bool = True,
        final_act: bool = False,
    ) -> None:
        if layers < 1:
            raise ValueError("MLP needs at least one layer")
        dims = [in_dim] + [width] * (layers - 1) + [out_dim]
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(nn.Linear(dims[i], dims[i + 1], bias=bias))
            if i < layers - 1 or final_act:
                mods.append(nn.ReLU())
        super().__init__(*mods)


def _norm_kind(kind: str | None, bias: bool) -> str:
    """``None`` -> batch norm with biases, none without (DeepSVDD: the mean subtraction of a
    normalisation layer acts as the bias term the objective must not have)."""
    if kind is None:
        return "batch" if bias else "none"
    return kind


def _norm(width: int, kind: str, bias: bool) -> nn.Module:
    """Normalisation over ``[N, width]`` features: ``"batch"``, ``"layer"`` or ``"none"``."""
    if kind == "batch":
        return nn.BatchNorm1d(width, affine=bias)
    if kind == "layer":
        return nn.LayerNorm(width, elementwise_affine=bias, bias=bias)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (allowed: batch, layer, none)")


def _he_init(module: nn.Module) -> None:
    """He (Kaiming) normal initialisation of every Linear weight, for ReLU networks.

    torch's default Linear initialisation shrinks the activations by ~0.4 per ReLU layer;
    through the ~12 linear layers of a GIN that is a factor ~1e-5, and without normalisation
    layers (DeepSVDD) the embeddings and the loss (~1e-9) become so small that Adam's
    epsilon damps the updates. He initialisation keeps the activation scale through depth.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
