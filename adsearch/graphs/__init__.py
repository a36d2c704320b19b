"""Jet constituent graphs (PyG / DGL / dense views), mass-decorrelating and symmetry
augmentation."""

from adsearch.graphs.augment import (
    Augmented,
    boost_along_axis,
    boost_to_pt,
    random_mass_rescale,
    rescale_to_mass,
    scale_angles,
    standardise,
)
from adsearch.graphs.build import (
    GraphConfig,
    JetAxis,
    JetGraphs,
    build_graphs,
    flat_constituents,
    jet_axis,
    part_features,
    wrap_phi,
)
from adsearch.graphs.convert import to_dense, to_dgl, to_pyg
from adsearch.graphs.sculpting import SculptingReport, mass_sculpting_report
from adsearch.graphs.symmetry import (
    SymmetryDraws,
    apply_symmetry,
    augment_symmetry,
    reflect_eta,
    rotate_about_axis,
)
from adsearch.graphs.toy import toy_jets

__all__ = [
    "Augmented",
    "GraphConfig",
    "JetAxis",
    "JetGraphs",
    "SculptingReport",
    "SymmetryDraws",
    "apply_symmetry",
    "augment_symmetry",
    "boost_along_axis",
    "boost_to_pt",
    "build_graphs",
    "flat_constituents",
    "jet_axis",
    "mass_sculpting_report",
    "part_features",
    "random_mass_rescale",
    "reflect_eta",
    "rescale_to_mass",
    "rotate_about_axis",
    "scale_angles",
    "standardise",
    "to_dense",
    "to_dgl",
    "to_pyg",
    "toy_jets",
    "wrap_phi",
]
