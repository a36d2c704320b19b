"""Graph backbones by name (``BACKBONES``, :func:`build_backbone`) and their ONNX inputs.

The graph networks are split by concept, one module each (this module re-exports their
public names, so ``from adsearch.models.gnn import GINBackbone`` keeps working):

=========================================  ==================================================
:mod:`adsearch.models.mlp`                  ``MLP``, the normalisation choice, He init
:mod:`adsearch.models.readout`              ``parse_readout``, ``graph_readout`` (sum, mean,
                                            max, ptsum)
:mod:`adsearch.models.edges`                ``edge_weight`` (from 1/Delta R),
                                            ``degree_normalise``
:mod:`adsearch.models.kernel`               ``WeightedAdjacency``: sparse CSR aggregation
                                            ``sum_j w_ji h_j`` (gather/scatter when exporting)
:mod:`adsearch.models.layers`               ``GINLayer``, ``EGATLayer`` (and DGL's
                                            ``EGATConv``)
:mod:`adsearch.models.backbones`            ``GraphBackbone`` (owns the layer loop),
                                            ``GINBackbone``, ``GATv2Backbone``,
                                            ``EGATBackbone``
=========================================  ==================================================

Every backbone maps a batch of jet graphs to one embedding per jet, ``forward(inputs) ->
Tensor [B, out_dim]``; ``input_kind`` says which batch type it eats (``"pyg"`` or
``"dgl"``). Architecture (A. D'Avanzo for ATLAS, EuCAIFCon 2025): input MLP
(``mlp_layers`` = 3) -> ``layers`` = 5 message-passing layers of width 128 -> graph readout
(``"sum"``, ``"mean"``, ``"max"``, ``"ptsum"`` or a ``"+"``-joined concatenation such as
``"max+mean+sum"``) -> output MLP (3 layers). ``bias=False`` removes every additive
parameter, as DeepSVDD requires.

EGAT with DGL kernels cannot be exported to ONNX (the exporters fail on DGL's C++ kernels
or freeze message passing into constants); ``EGATBackbone(backend="pyg")`` computes the
same layer in plain torch (same parameters, so a DGL-trained state dict loads into it) and
exports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from adsearch.models.backbones import (
    EGATBackbone,
    GATv2Backbone,
    GINBackbone,
    GraphBackbone,
    _unpack_pyg,
)
from adsearch.models.edges import EDGE_WEIGHTS, degree_normalise, edge_weight
from adsearch.models.kernel import WeightedAdjacency
from adsearch.models.layers import EGATLayer, GINLayer
from adsearch.models.mlp import MLP
from adsearch.models.readout import graph_readout, parse_readout

if TYPE_CHECKING:  # ships no type information: Any to mypy
    from torch_geometric.data import Batch

__all__ = [
    "BACKBONES",
    "EDGE_WEIGHTS",
    "MLP",
    "EGATBackbone",
    "EGATLayer",
    "GATv2Backbone",
    "GINBackbone",
    "GINLayer",
    "GraphBackbone",
    "WeightedAdjacency",
    "build_backbone",
    "degree_normalise",
    "edge_weight",
    "graph_readout",
    "onnx_inputs",
    "parse_readout",
]


BACKBONES: dict[str, type[GraphBackbone]] = {
    "gin": GINBackbone,
    "egat": EGATBackbone,
    "gatv2": GATv2Backbone,
}


def build_backbone(name: str, **cfg: Any) -> nn.Module:
    """Backbone by name (``"gin"``, ``"egat"``, ``"gatv2"``) with keyword options.

    Unknown names raise ``KeyError``; unknown options ``TypeError`` (from the constructor).

    >>> build_backbone("gin", width=8, layers=1).input_kind
    'pyg'
    """
    try:
        cls = BACKBONES[name]
    except KeyError:
        raise KeyError(
            f"unknown graph backbone {name!r} (allowed: {', '.join(BACKBONES)})"
        ) from None
    return cls(**cfg)


def onnx_inputs(
    data: Batch,
) -> tuple[tuple[Tensor, ...], tuple[str, ...], dict[str, dict[int, str]]]:
    """Tensors, input names and dynamic axes to export a PyG backbone with ``torch.onnx``.

    Use with a wrapper whose ``forward(x, edge_index, edge_attr, batch, ptr)`` calls
    ``backbone.forward_tensors``; every axis that depends on the batch is dynamic.
    """
    args = _unpack_pyg(data)
    names = GraphBackbone.onnx_input_names
    dynamic = {
        "x": {0: "nodes"},
        "edge_index": {1: "edges"},
        "edge_attr": {0: "edges"},
        "batch": {0: "nodes"},
        "ptr": {0: "graphs_plus_one"},
    }
    return args, names, dynamic
