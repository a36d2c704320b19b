"""Input standardisation stored inside the model: ``y = (f(x) - shift) / scale`` per feature.

Constituent features span very different ranges: the pT fraction of a constituent is
0.024 ± 0.051 (heavy-tailed), the angles relative to the jet axis have σ ≈ 0.23, absolute pT
and energy are hundreds of GeV. Networks fed the raw numbers learn slowly or not at all (a
transformer stayed at the constant-prediction loss for ~280 steps on the raw inputs). As in
the Particle Transformer (Qu, Li & Qian, "Particle Transformer for Jet Tagging", ICML 2022),
pT- and energy-like features enter as logarithms and every feature is shifted and scaled.

:class:`InputNorm` holds the per-feature transform as buffers, so it is saved in the model's
``state_dict``, restored by :func:`adsearch.train.load_model`, and traced into ONNX exports:
training, scoring and the exported model apply the same numbers. ``f`` is ``ln(max(x, tiny))``
on the columns flagged in ``log_mask`` and the identity elsewhere. The shift and scale are
fitted on the training jets only (:meth:`InputNorm.fit`, called by the trainer on the
background jets of the training split); before fitting the module is the identity on the
non-log columns.

Examples
--------
>>> import torch
>>> norm = InputNorm(2, log_columns=[0])
>>> x = torch.tensor([[0.1, 1.0], [0.4, 3.0]])
>>> norm.fit(x)
>>> y = norm(x)
>>> y.mean(0).abs().max().item() < 1e-6, y.std(0, unbiased=False).tolist()
(True, [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["InputNorm"]

#: floor of the logarithm's argument (padding zeros map to ln(1e-8) ~ -18, then masked)
_TINY = 1e-8


class InputNorm(nn.Module):
    """Per-feature ``(f(x) - shift) / scale`` on the last axis of ``x``.

    Parameters
    ----------
    dim : number of features (the last axis of ``x``).
    log_columns : indices of the features that enter as ``ln x`` (pT, energy, fractions).
    """

    # buffers (``register_buffer`` in ``__init__``), declared for the type checker
    log_mask: Tensor
    shift: Tensor
    scale: Tensor
    fitted: Tensor

    def __init__(self, dim: int, log_columns: Sequence[int] = ()) -> None:
        super().__init__()
        mask = torch.zeros(dim, dtype=torch.bool)
        for c in log_columns:
            if not 0 <= int(c) < dim:
                raise ValueError(f"log column {c} outside 0..{dim - 1}")
            mask[int(c)] = True
        self.register_buffer("log_mask", mask)
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def transform(self, x: Tensor) -> Tensor:
        """``f(x)``: the logarithm on the flagged columns, unchanged elsewhere."""
        logged = torch.log(x.clamp(min=_TINY))
        return torch.where(self.log_mask, logged, x)

    def forward(self, x: Tensor) -> Tensor:
        return (self.transform(x) - self.shift.to(x.dtype)) / self.scale.to(x.dtype)

    @torch.no_grad()
    def fit(self, x: Tensor, min_scale: float = 1e-3) -> None:
        """Set shift and scale to the mean and standard deviation of ``f(x)`` over the rows of
        ``x [n, dim]`` (real constituents only: drop padding before calling).

        A feature with a standard deviation below ``min_scale`` (constant) keeps scale 1.
        """
        if x.ndim != 2 or x.shape[1] != self.shift.shape[0]:
            raise ValueError(f"fit needs x [n, {self.shift.shape[0]}], got {tuple(x.shape)}")
        if x.shape[0] < 2:
            raise ValueError("fit needs at least two rows")
        f = self.transform(x.double())
        mean = f.mean(0)
        std = f.std(0, unbiased=False)
        std = torch.where(std < min_scale, torch.ones_like(std), std)
        self.shift.copy_(mean.to(self.shift.dtype))
        self.scale.copy_(std.to(self.scale.dtype))
        self.fitted.fill_(True)

    def extra_repr(self) -> str:
        return f"dim={self.shift.shape[0]}, log_columns={self.log_mask.nonzero().ravel().tolist()}"
