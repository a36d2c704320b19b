"""Scale-out preprocessing on dask: event files -> features over a cluster, same results.

The input's rows are split into ranges of ``chunk_size`` events, each range is one task on
a ``dask.distributed`` worker (:func:`adsearch.io.read_events` then
:func:`adsearch.jets.compute_features`), and results are gathered in row order, so the
output equals that of the single-process :func:`adsearch.jets.features_from_file` bit for
bit. The same call runs on a local cluster (``scheduler="local:4"``) or on a running scheduler
(``scheduler="tcp://host:8786"``).

>>> from adsearch.distributed import parse_scheduler, row_ranges
>>> parse_scheduler("local:4"), row_ranges(0, 120_000, 50_000)
(('local', 4), [(0, 50000), (50000, 100000), (100000, 120000)])
"""

from adsearch.distributed.arrays import events_array, features_array
from adsearch.distributed.features import (
    features_dask,
    features_file_dask,
    map_features_dask,
    row_ranges,
)
from adsearch.distributed.scheduler import dask_client, parse_scheduler

__all__ = [
    "dask_client",
    "events_array",
    "features_array",
    "features_dask",
    "features_file_dask",
    "map_features_dask",
    "parse_scheduler",
    "row_ranges",
]
