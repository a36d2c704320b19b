"""Graph readout: pool the node features of every jet graph into one vector per jet.

``"sum"``, ``"mean"``, ``"max"``, ``"ptsum"`` (pT-weighted sum) or a ``"+"``-joined
concatenation such as ``"max+mean+sum"``; written with ``scatter_add`` / ``scatter_reduce``
so that it exports to ONNX with a dynamic number of jets.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["graph_readout", "parse_readout"]

_READOUTS = ("sum", "mean", "max", "ptsum")


def parse_readout(readout: str | Sequence[str]) -> tuple[str, ...]:
    """``"max+mean+add"`` / ``["max", "mean"]`` -> ``("max", "mean", "sum")`` (add = sum).

    >>> parse_readout("max+mean+add")
    ('max', 'mean', 'sum')
    """
    parts = readout.split("+") if isinstance(readout, str) else list(readout)
    out = tuple("sum" if p.strip() == "add" else p.strip() for p in parts)
    bad = [p for p in out if p not in _READOUTS]
    if not out or bad:
        raise ValueError(
            f"unknown readout {readout!r} (allowed: sum/add, mean, max, ptsum, joined by +)"
        )
    return out


def graph_readout(
    h: Tensor, batch: Tensor, ptr: Tensor, how: Sequence[str], weight: Tensor | None = None
) -> Tensor:
    """Pool node features ``h [N, D]`` per graph -> ``[B, D * len(how)]``.

    ``batch [N]`` is the graph of each node and ``ptr [B + 1]`` the node offsets (B is read
    from its length, so ONNX export keeps it dynamic). Written with ``scatter_add`` and
    ``scatter_reduce(amax, include_self=True)`` on a -inf start, which both export to ONNX.
    ``"ptsum"`` is the energy-flow readout ``sum_i z_i h_i`` with ``z_i = weight [N]`` the
    constituent pT fractions (Komiske, Metodiev, Thaler, "Energy Flow Networks", JHEP 01
    (2019) 121): an infrared-safe pool whose sums of angular functions carry the jet's mass
    and girth, which max/mean pools over constituents see only through the softest particles.

    >>> h = torch.tensor([[1.0], [3.0], [5.0]])
    >>> graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("sum", "mean", "max"))
    tensor([[4., 2., 3.],
            [5., 5., 5.]])
    """
    n_graphs = ptr.shape[0] - 1
    idx = batch.unsqueeze(-1).expand_as(h)
    outs = []
    total = None
    for kind in how:
        if kind == "ptsum":
            if weight is None:
                raise ValueError("readout 'ptsum' needs the constituent pT fractions")
            wh = h * weight.to(h.dtype).unsqueeze(-1)
            outs.append(h.new_zeros((n_graphs, h.shape[1])).scatter_add(0, idx, wh))
        elif kind in ("sum", "mean"):
            if total is None:  # computed once for both
                total = h.new_zeros((n_graphs, h.shape[1])).scatter_add(0, idx, h)
            if kind == "sum":
                outs.append(total)
            else:
                count = (ptr[1:] - ptr[:-1]).clamp(min=1).to(h.dtype).unsqueeze(-1)
                outs.append(total / count)
        else:
            start = h.new_full((n_graphs, h.shape[1]), float("-inf"))
            outs.append(start.scatter_reduce(0, idx, h, reduce="amax", include_self=True))
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)
