"""Jet constituent graphs (PyG / DGL / dense views) and mass-decorrelating augmentation."""

from adsearch.graphs.build import (
    GraphConfig,
    JetAxis,
    JetGraphs,
    build_graphs,
    flat_constituents,
    jet_axis,
    wrap_phi,
)
from adsearch.graphs.convert import to_dense, to_dgl, to_pyg
from adsearch.graphs.toy import toy_jets

__all__ = [
    "GraphConfig",
    "JetAxis",
    "JetGraphs",
    "build_graphs",
    "flat_constituents",
    "jet_axis",
    "to_dense",
    "to_dgl",
    "to_pyg",
    "toy_jets",
    "wrap_phi",
]
