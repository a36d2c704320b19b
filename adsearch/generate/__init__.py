"""Generate LHCO-like events with Pythia 8: QCD dijets and W' -> X Y (2- and 3-prong) signals.

The LHC Olympics 2020 recipe (13 TeV, Pythia 8, optional Delphes-like detector response,
anti-kT R=1.0 jet trigger) reproduced with ``pythia8mc``, in reproducible parallel blocks,
written as LHCO-format HDF5; :func:`generate_shards` writes large samples resumably in shards
(:func:`merge_shards` makes them one file); :func:`mix` builds R&D-like and Black-Box-like
datasets.
"""

from adsearch.generate.generator import (
    DEFAULT_BLOCK_SIZE,
    GenerationSummary,
    generate,
    generate_to_file,
    generate_truth_to_files,
    generate_with_summary,
    resolve_detector,
)
from adsearch.generate.mixing import MixSummary, mix, read_key
from adsearch.generate.processes import (
    PROCESSES,
    ProcessConfig,
    QCDConfig,
    WprimeConfig,
    get_process,
    load_process,
)
from adsearch.generate.shards import (
    DEFAULT_SHARD_SIZE,
    MergeSummary,
    ShardInfo,
    ShardSummary,
    generate_shards,
    merge_shards,
)
from adsearch.generate.truth import truth_particles
from adsearch.jets.trigger import TriggerConfig, passes_trigger

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_SHARD_SIZE",
    "PROCESSES",
    "GenerationSummary",
    "MergeSummary",
    "MixSummary",
    "ProcessConfig",
    "QCDConfig",
    "ShardInfo",
    "ShardSummary",
    "TriggerConfig",
    "WprimeConfig",
    "generate",
    "generate_shards",
    "generate_to_file",
    "generate_truth_to_files",
    "generate_with_summary",
    "get_process",
    "load_process",
    "merge_shards",
    "mix",
    "passes_trigger",
    "read_key",
    "resolve_detector",
    "truth_particles",
]
