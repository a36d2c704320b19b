"""Jets: anti-kT clustering, N-subjettiness, event features and features files.

:func:`cluster` (anti-kT over whole batches), :func:`nsubjettiness` (fastjet-contrib
N-subjettiness of many jets), :func:`compute_features` (the LHCO features-file columns plus
mjj, tau ratios and each jet's constituents), :func:`write_features` / :func:`read_features`
/ :func:`iter_features` / :func:`iter_feature_blocks` (Parquet features files) and
:func:`features_from_file` (event file to features file in chunks, the ``adsearch
features`` verb), :func:`jet_girth` (substructure from the stored constituents),
:func:`lhco_features_info` (what an LHCO features HDF5 file holds, for ``adsearch info``).
"""

from adsearch.jets.cluster import Clustered, cluster, to_momentum4d
from adsearch.jets.featurefile import (
    FeaturesWriter,
    export_lhco_features_h5,
    iter_feature_blocks,
    iter_features,
    read_features,
    read_features_metadata,
    write_features,
)
from adsearch.jets.features import (
    COLUMNS,
    EXTRA_COLUMNS,
    LHCO_COLUMNS,
    UNLABELLED,
    Features,
    compute_features,
)
from adsearch.jets.info import LHCOFeaturesInfo, is_lhco_features_h5, lhco_features_info, lhco_mjj
from adsearch.jets.nsubjettiness import AXES, nsubjettiness, tau_ratio
from adsearch.jets.stream import FeaturesRunSummary, features_from_file
from adsearch.jets.substructure import jet_girth

__all__ = [
    "AXES",
    "COLUMNS",
    "EXTRA_COLUMNS",
    "LHCO_COLUMNS",
    "UNLABELLED",
    "Clustered",
    "Features",
    "FeaturesRunSummary",
    "FeaturesWriter",
    "LHCOFeaturesInfo",
    "cluster",
    "compute_features",
    "export_lhco_features_h5",
    "features_from_file",
    "is_lhco_features_h5",
    "iter_feature_blocks",
    "iter_features",
    "jet_girth",
    "lhco_features_info",
    "lhco_mjj",
    "nsubjettiness",
    "read_features",
    "read_features_metadata",
    "tau_ratio",
    "to_momentum4d",
    "write_features",
]
