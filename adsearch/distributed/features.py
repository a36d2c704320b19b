"""Event file -> features over a dask cluster, identical to the single-process path.

The input's rows are cut into ranges ``[a, b)`` of ``chunk_size`` events (the same cuts as
:func:`adsearch.jets.features_from_file` makes); every range is one dask task that reads its
rows (:func:`adsearch.io.read_events`) and runs :func:`adsearch.jets.compute_features` with
``first_index=a``, so ``event_index`` counts rows of the input file. Results are gathered in
row order, so the table, the constituents, the counters and (for
:func:`features_file_dask`) the Parquet file itself are exactly those of the single-process
path — bit for bit (tested on a LocalCluster).

Why dask.distributed futures here and not a dask-awkward collection: a chunk's result is a
:class:`~adsearch.jets.Features` (table + constituents + counters of dropped events +
provenance), and the file writer needs the chunks one by one, in order, with a bounded number
in flight (memory stays at a few chunks per worker even for the 1.1M-event R&D file). A
dask-awkward collection carries only the per-event records and would lose the counters;
:mod:`adsearch.distributed.arrays` offers that view for interactive, columnar work.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from adsearch.errors import AdsearchError, InputError
from adsearch.io import detect_format, lhco_attrs, num_events, read_events
from adsearch.jets.config import FeaturesConfig
from adsearch.jets.featurefile import _from_ak, _open, read_features_metadata
from adsearch.jets.features import Features, compute_features
from adsearch.jets.stream import FeaturesRunSummary, write_feature_chunks

__all__ = [
    "features_dask",
    "features_file_dask",
    "map_features_dask",
    "row_ranges",
]


def row_ranges(start: int, stop: int, chunk_size: int) -> list[tuple[int, int]]:
    """Consecutive ``[a, b)`` row ranges covering ``[start, stop)``, ``chunk_size`` rows each.

    Examples
    --------
    >>> row_ranges(0, 10, 4)
    [(0, 4), (4, 8), (8, 10)]
    >>> row_ranges(5, 5, 4)
    []
    """
    return [(a, min(a + chunk_size, stop)) for a in range(start, stop, chunk_size)]


def _chunk_features(
    path: str, a: int, b: int, r: float, min_pt: float, read_kw: dict[str, Any]
) -> Features:
    """One task: read rows ``[a, b)`` and compute their features (runs on a worker)."""

    return compute_features(read_events(path, a, b, **read_kw), r=r, min_pt=min_pt, first_index=a)


def _plan(
    input_path: str | os.PathLike[str],
    *,
    r: float,
    min_pt: float,
    chunk_size: int,
    start: int,
    stop: int | None,
    read_kw: dict[str, Any],
) -> tuple[Path, list[tuple[int, int]], dict[str, Any]]:
    """Check the arguments and the input header (on the client); rows and provenance."""

    src = Path(input_path)
    FeaturesConfig(r=r, min_pt=min_pt, chunk_size=chunk_size).validate()
    if start < 0 or (stop is not None and stop < start):
        raise InputError(f"bad event range start={start}, stop={stop}")
    fmt = detect_format(src)
    if fmt == "parquet":
        raise InputError(f"{src}: is a parquet (features) file; give an event file (HDF5/ROOT)")
    n_file = num_events(src, **({"tree": read_kw["tree"]} if "tree" in read_kw else {}))
    end = n_file if stop is None else min(stop, n_file)
    if end <= start and n_file > 0:
        raise InputError(
            f"{src}: empty event range [{start}, {end}) (the file has {n_file:,} events)"
        )
    # the same provenance as adsearch.jets.features_from_file writes
    meta: dict[str, Any] = {"input": str(src), "start": int(start), "stop": int(end)}
    if fmt == "hdf5":
        meta["input_attrs"] = lhco_attrs(src)
    return src, row_ranges(int(start), int(end), int(chunk_size)), meta


def _ordered_results(
    client: Any,
    fn: Callable[..., Any],
    jobs: Iterable[tuple[str, tuple[Any, ...]]],
    max_in_flight: int,
) -> Iterator[Any]:
    """``fn(*args)`` for every ``(what, args)`` job on the cluster, yielded in job order.

    At most ``max_in_flight`` tasks are queued or held. ``what`` names the job in errors.

    A remote :class:`~adsearch.errors.AdsearchError` (bad rows in the file, ...) is re-raised
    as itself; a chunk whose worker died repeatedly becomes one line too. Futures still queued
    are cancelled when the consumer stops early or an error is raised.
    """
    from distributed import KilledWorker

    pending: deque[tuple[Any, str]] = deque()

    def result(fut: Any, what: str) -> Any:
        try:
            return fut.result()
        except KilledWorker:
            raise AdsearchError(
                f"{what}: the dask worker died repeatedly on it (out of memory? use a smaller "
                "chunk size or workers with more memory)"
            ) from None

    try:
        for what, args in jobs:
            pending.append((client.submit(fn, *args, pure=False), what))
            if len(pending) >= max_in_flight:
                yield result(*pending.popleft())
        while pending:
            yield result(*pending.popleft())
    finally:
        if pending:
            client.cancel([f for f, _ in pending])


def _in_flight(client: Any, max_in_flight: int | None) -> int:
    if max_in_flight is not None:
        if max_in_flight < 1:
            raise InputError(f"max_in_flight must be >= 1, got {max_in_flight}")
        return int(max_in_flight)
    return max(2, 2 * sum(client.nthreads().values()))


def features_file_dask(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    scheduler: Any = None,
    *,
    r: float = FeaturesConfig.r,
    min_pt: float = FeaturesConfig.min_pt,
    chunk_size: int = FeaturesConfig.chunk_size,
    start: int = 0,
    stop: int | None = None,
    lhco_h5: str | os.PathLike[str] | None = None,
    max_in_flight: int | None = None,
    progress: bool | None = None,
    **read_kw: Any,
) -> FeaturesRunSummary:
    """:func:`adsearch.jets.features_from_file` with the chunks computed on a dask cluster.

    The output file is identical (same row groups, same metadata) for any cluster and any
    number of workers. Chunks are written as they arrive, in row order; at most
    ``max_in_flight`` chunks (default: twice the worker threads) are queued or held, which
    bounds memory on the client.

    Parameters
    ----------
    input_path, output_path, r, min_pt, chunk_size, start, stop, lhco_h5
        As :func:`adsearch.jets.features_from_file`. The input must be readable at the same
        path on the client (header) and on every worker (rows).
    scheduler
        ``None``/``"local"``, ``"local:N"``, a scheduler address (``tcp://host:8786``) or a
        ``distributed.Client``; see :func:`adsearch.distributed.dask_client`.
    max_in_flight
        Chunks submitted ahead of the one being written.
    progress
        Force the progress bar on/off (default: on when stderr is a terminal).
    **read_kw
        Passed to :func:`adsearch.io.read_events` (``tree``, ``branches`` for ROOT,
        ``validate`` for LHCO).
    """
    from adsearch.distributed.scheduler import dask_client

    out = Path(output_path)
    src, ranges, meta = _plan(
        input_path, r=r, min_pt=min_pt, chunk_size=chunk_size, start=start, stop=stop,
        read_kw=read_kw,
    )  # fmt: skip
    if out.exists() and out.resolve() == src.resolve():
        raise InputError(f"{out}: output would overwrite the input file")
    jobs = (
        (f"{src} rows {a}-{b}", (str(src), a, b, float(r), float(min_pt), read_kw))
        for a, b in ranges
    )
    with dask_client(scheduler) as client:
        return write_feature_chunks(
            out,
            _ordered_results(client, _chunk_features, jobs, _in_flight(client, max_in_flight)),
            meta,
            r=r,
            min_pt=min_pt,
            lhco_h5=lhco_h5,
            progress=progress,
            total=ranges[-1][1] - ranges[0][0] if ranges else 0,
            description="features (dask)",
        )


def features_dask(
    input_path: str | os.PathLike[str],
    scheduler: Any = None,
    *,
    r: float = FeaturesConfig.r,
    min_pt: float = FeaturesConfig.min_pt,
    chunk_size: int = FeaturesConfig.chunk_size,
    start: int = 0,
    stop: int | None = None,
    max_in_flight: int | None = None,
    **read_kw: Any,
) -> Features:
    """Features of rows ``[start, stop)`` computed on a dask cluster, in memory.

    Equal (bit for bit) to ``compute_features`` chunk by chunk and
    :meth:`Features.concatenate` — i.e. to reading back the file of
    :func:`adsearch.jets.features_from_file`. Use :func:`features_file_dask` for large
    inputs: this one holds every chunk's result on the client.
    """
    from adsearch.distributed.scheduler import dask_client

    src, ranges, meta = _plan(
        input_path, r=r, min_pt=min_pt, chunk_size=chunk_size, start=start, stop=stop,
        read_kw=read_kw,
    )  # fmt: skip
    jobs = (
        (f"{src} rows {a}-{b}", (str(src), a, b, float(r), float(min_pt), read_kw))
        for a, b in ranges
    )
    with dask_client(scheduler) as client:
        parts = list(
            _ordered_results(client, _chunk_features, jobs, _in_flight(client, max_in_flight))
        )
    if not parts:
        return Features.empty({"r": float(r), "min_pt": float(min_pt), **meta})
    f = Features.concatenate(parts)
    f.meta = {**f.meta, **meta}
    return f


def _apply_row_group(path: str, i: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """One task: ``fn(row group i of the features file, *args)`` (runs on a worker)."""
    import awkward as ak

    # read only row group i, through the reader's own (private) converter so the chunk is
    # exactly what iter_features would yield, without reading the groups before it

    p = Path(path)
    header = _open(p)[1]
    chunk = _from_ak(
        ak.from_parquet(p, row_groups=[i]), header["row_groups"][i], header.get("meta", {}), p
    )
    return fn(chunk, *args)


def map_features_dask(
    fn: Callable[..., Any],
    features_path: str | os.PathLike[str],
    scheduler: Any = None,
    *,
    args: tuple[Any, ...] = (),
    max_in_flight: int | None = None,
) -> list[Any]:
    """``[fn(chunk, *args) for chunk in iter_features(features_path)]`` on a dask cluster.

    One task per row group of a features file (one input chunk of ``adsearch features``);
    results come back in row order. ``fn`` must be importable on the workers (a module-level
    function), e.g. graph building per chunk with :func:`adsearch.graphs.build_graphs`
    returning what the next step needs (graph sizes, an embedding, ...): whole-file graphs
    do not fit in memory (about 20 GB per million jets), so return reductions, not graphs.
    """
    from adsearch.distributed.scheduler import dask_client

    p = Path(features_path)
    n_groups = len(read_features_metadata(p)["row_groups"])
    jobs = ((f"{p} row group {i}", (str(p), i, fn, tuple(args))) for i in range(n_groups))
    with dask_client(scheduler) as client:
        return list(
            _ordered_results(client, _apply_row_group, jobs, _in_flight(client, max_in_flight))
        )
