"""Lazy dask-awkward views of event files and their features, partitioned by row ranges.

:func:`events_array` and :func:`features_array` build :class:`dask_awkward.Array` collections
with :func:`dask_awkward.from_map`, one partition per ``[a, b)`` row range of the input, so
columnar questions ("mjj of the events with tau21 < 0.4", "objects per event") run on any
dask scheduler without writing a features file::

    with dask_client("local:2"):          # or a scheduler address
        f = features_array("rnd.h5", chunk_size=20_000)
        mjj = f.mjj[f.tau21j1 < 0.4].compute()

This is the natural place for dask-awkward: per-event records, lazily sliced and reduced.
What it cannot carry are per-chunk counters (events with fewer than two jets are dropped
from ``features_array`` partitions without a count); the features *file* path with counts
and provenance is :func:`adsearch.distributed.features_file_dask`.
"""

from __future__ import annotations

import os
from typing import Any

import awkward as ak
import numpy as np

from adsearch.distributed.features import _chunk_features, _plan
from adsearch.errors import InputError
from adsearch.io import read_events
from adsearch.jets.features import COLUMNS

__all__ = ["events_array", "features_array"]


def _events_records(rows: tuple[int, int], path: str, read_kw: dict[str, Any]) -> ak.Array:
    """Partition ``rows`` of an event file as ``{particles: var * {...}, label: int8}``."""

    ev = read_events(path, rows[0], rows[1], **read_kw)
    labels = ev.labels if ev.labels is not None else np.full(len(ev), -1, np.int8)
    return ak.zip({"particles": ev.particles, "label": np.asarray(labels, np.int8)}, depth_limit=1)


def _feature_records(
    rows: tuple[int, int], path: str, r: float, min_pt: float, read_kw: dict[str, Any]
) -> ak.Array:
    """Partition ``rows`` as feature records: the table columns + ``constituentsj1/j2``."""

    f = _chunk_features(path, rows[0], rows[1], r, min_pt, read_kw)
    record: dict[str, Any] = {c: f.table[c] for c in COLUMNS}
    record["constituentsj1"] = f.constituents[:, 0]
    record["constituentsj2"] = f.constituents[:, 1]
    return ak.zip(record, depth_limit=1)


def _meta(array: ak.Array) -> ak.Array:
    """Type-tracer of a partition (its form, no data) for ``dask_awkward.from_map``.

    Given explicitly, so building the collection costs one tiny read instead of dask-awkward
    computing a whole first partition to learn the type.
    """
    return ak.Array(array.layout.to_typetracer(forget_length=True))


def _first_rows(ranges: list[tuple[int, int]]) -> tuple[int, int]:
    return ranges[0][0], min(ranges[0][0] + 1, ranges[0][1])


def events_array(
    path: str | os.PathLike[str],
    *,
    chunk_size: int = 50_000,
    start: int = 0,
    stop: int | None = None,
    **read_kw: Any,
) -> Any:
    """Lazy ``events * {particles: var * {pt, eta, phi, mass}, label: int8}`` of an event file.

    ``label`` is -1 for files without labels. One partition per ``chunk_size`` rows (known
    divisions). Compute with any dask scheduler (the active ``distributed.Client`` if there
    is one). ``**read_kw`` goes to :func:`adsearch.io.read_events`. The input must be
    readable at the same path on the client and the workers.
    """
    import dask_awkward as dak

    src, ranges, _ = _plan(
        path, r=1.0, min_pt=0.0, chunk_size=chunk_size, start=start, stop=stop, read_kw=read_kw
    )
    if not ranges:
        raise InputError(f"{src}: no events")
    meta = _meta(_events_records(_first_rows(ranges), str(src), read_kw))
    divisions = (*(a - ranges[0][0] for a, _ in ranges), ranges[-1][1] - ranges[0][0])
    return dak.from_map(
        _events_records,
        ranges,
        args=(str(src), read_kw),
        label="adsearch-events",
        meta=meta,
        divisions=divisions,
    )


def features_array(
    path: str | os.PathLike[str],
    *,
    r: float = 1.0,
    min_pt: float = 20.0,
    chunk_size: int = 50_000,
    start: int = 0,
    stop: int | None = None,
    **read_kw: Any,
) -> Any:
    """Lazy feature records of an event file: every column of the features table
    (:data:`adsearch.jets.COLUMNS`) plus ``constituentsj1`` / ``constituentsj2``.

    Records are those of :func:`adsearch.jets.compute_features` per ``chunk_size`` rows, so a
    computed column equals the features file's column. Events with fewer than two jets are
    absent (not counted: use :func:`~adsearch.distributed.features_file_dask` for counts).
    """
    import dask_awkward as dak

    src, ranges, _ = _plan(
        path, r=r, min_pt=min_pt, chunk_size=chunk_size, start=start, stop=stop, read_kw=read_kw
    )
    if not ranges:
        raise InputError(f"{src}: no events")
    meta = _meta(_feature_records(_first_rows(ranges), str(src), r, min_pt, read_kw))
    return dak.from_map(
        _feature_records,
        ranges,
        args=(str(src), float(r), float(min_pt), read_kw),
        label="adsearch-features",
        meta=meta,
    )
