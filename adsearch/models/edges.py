"""Scalar edge weights from the edge feature 1/Delta R, and their degree normalisation.

The graphs of :func:`adsearch.graphs.build_graphs` carry 1/Delta R in edge column 0 (0 on
self-loops). :func:`edge_weight` turns it into a bounded weight ``w_ji`` of edge ``j -> i``;
:func:`degree_normalise` divides by the weighted in-degree so that aggregated messages stay
bounded however busy the jet.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["EDGE_WEIGHTS", "degree_normalise", "edge_weight"]

#: scalar edge weights of :func:`edge_weight`
EDGE_WEIGHTS = ("gauss", "inv_dr")


def edge_weight(attr: Tensor, kind: str, scale: float) -> Tensor:
    """Scalar edge weight from the edge feature 1/Delta R (0 on self-loops).

    ``"gauss"``: ``exp(-Delta R^2 / (2 scale^2))``, bounded in [0, 1) and 0 on self-loops;
    ``"inv_dr"``: ``scale / Delta R``, the raw 1/Delta R (up to 100 at the Delta R clamp).

    >>> [round(v, 4) for v in edge_weight(torch.tensor([0.0, 10.0, 5.0]), "gauss", 0.1).tolist()]
    [0.0, 0.6065, 0.1353]
    """
    _check_edge_weight(kind)
    if kind == "inv_dr":
        return attr * scale
    dr = 1.0 / attr.clamp(min=1e-6)
    return torch.where(attr > 0, torch.exp(-0.5 * (dr / scale) ** 2), torch.zeros_like(attr))


def _check_edge_weight(kind: str) -> None:
    if kind not in EDGE_WEIGHTS:
        raise ValueError(f"unknown edge_weight {kind!r} (allowed: {', '.join(EDGE_WEIGHTS)})")


def _edge_input(edge_attr: Tensor, kind: str, scale: float) -> Tensor:
    """Edge features with column 0 (1/Delta R) replaced by its bounded weight."""
    w = edge_weight(edge_attr[:, :1], kind, scale)
    return w if edge_attr.shape[1] == 1 else torch.cat([w, edge_attr[:, 1:]], dim=1)


def degree_normalise(
    edge_index: Tensor, weight: Tensor, num_nodes: int, kind: str = "mean"
) -> Tensor:
    """Normalised edge weights: aggregated messages stay bounded however busy the jet.

    ``"mean"``: ``w_ji / (1 + d_i)``; ``"sym"``: ``w_ji / sqrt((1 + d_i)(1 + d_j))`` (the
    symmetric normalisation of Kipf & Welling's GCN), with ``d_i = sum_k w_ki`` the weighted
    in-degree. ``sym`` keeps part of the local density (a node in a dense core still collects
    more than an isolated one), ``mean`` none of it.

    >>> ei, w = torch.tensor([[0, 1], [2, 2]]), torch.tensor([1.0, 2.0])
    >>> degree_normalise(ei, w, 3).tolist(), degree_normalise(ei, w, 3, "sym").tolist()
    ([0.25, 0.5], [0.5, 1.0])
    """
    dst = edge_index[1]
    deg = weight.new_zeros(num_nodes).scatter_add(0, dst, weight)
    if kind == "mean":
        return weight / (1.0 + deg.index_select(0, dst))
    if kind == "sym":
        d1 = 1.0 + deg
        return weight / torch.sqrt(d1.index_select(0, dst) * d1.index_select(0, edge_index[0]))
    raise ValueError(f"unknown degree normalisation {kind!r} (allowed: mean, sym)")
