"""Event file -> features file, chunk by chunk (what ``adsearch features`` runs).

Memory stays bounded by one input chunk: each chunk of events is clustered, its features are
appended to the output as one Parquet row group, and only counters are kept.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from adsearch.errors import ConfigError, InputError
from adsearch.io import Events, RootBranches, detect_format, iter_events, lhco_attrs, num_events
from adsearch.jets.config import FeaturesConfig
from adsearch.jets.featurefile import FeaturesWriter, export_lhco_features_h5
from adsearch.jets.features import Features, compute_features
from adsearch.parallel import spawn_pool
from adsearch.progress import progress_bar

__all__ = ["FeaturesRunSummary", "features_from_file"]


@dataclass(frozen=True)
class FeaturesRunSummary:
    """Counts of one :func:`features_from_file` run."""

    output: Path
    n_input: int
    n_kept: int
    n_fewer_than_two_jets: int
    n_single_constituent_jets: int

    def lines(self) -> list[str]:
        """Human-readable report, one fact per line."""
        frac = self.n_fewer_than_two_jets / self.n_input if self.n_input else 0.0
        return [
            f"events in:                 {self.n_input:,}",
            f"events kept (>= 2 jets):   {self.n_kept:,}",
            f"fewer than two jets:       {self.n_fewer_than_two_jets:,} ({100 * frac:.3f} %)",
            f"single-constituent jets:   {self.n_single_constituent_jets:,}",
            f"wrote {self.output}",
        ]


#: one chunk of work: (events, index of its first event, r, min_pt)
_Job = tuple[Events, int, float, float]


def _features_job(job: _Job) -> Features:
    events, first, r, min_pt = job
    return compute_features(events, r=r, min_pt=min_pt, first_index=first)


def _map_ordered(jobs: Iterable[_Job], workers: int) -> Iterator[Features]:
    """``map(_features_job, jobs)``, in order; ``workers`` processes, few chunks in flight."""
    if workers == 1:
        yield from map(_features_job, jobs)
        return
    # spawn (adsearch.parallel): the start-up (~2 s per worker) is paid once
    with spawn_pool(workers) as pool:
        pending: deque[Future[Features]] = deque()
        for job in jobs:
            pending.append(pool.submit(_features_job, job))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def features_from_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    config: FeaturesConfig | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    lhco_h5: str | os.PathLike[str] | None = None,
    tree: str = "events",
    branches: RootBranches | None = None,
    progress: bool | None = None,
    **options: Any,
) -> FeaturesRunSummary:
    """Compute the features of rows ``[start, stop)`` of an event file and write them.

    Parameters
    ----------
    input_path
        LHCO HDF5 or ROOT event file (read with :func:`adsearch.io.iter_events`).
    output_path
        Features Parquet file (see :mod:`adsearch.jets.featurefile`), written atomically.
    config
        Radius, jet pT threshold, chunk size and worker processes
        (:class:`~adsearch.jets.config.FeaturesConfig`; default: its defaults).
    start, stop
        Input row range; ``event_index`` in the output counts rows of the input file.
    lhco_h5
        Also write the 15 LHCO columns in the LHCO features-file layout (pandas HDF5).
    tree, branches
        TTree and branch names of a ROOT input (:class:`adsearch.io.RootBranches`); ignored
        for LHCO HDF5.
    progress
        Force the progress bar on/off (default: on when stderr is a terminal).
    **options
        Fields of ``config`` to change (``r``, ``min_pt``, ``chunk_size``, ``workers``),
        e.g. ``features_from_file(src, out, r=0.8)``. Output is identical for any number of
        workers; memory is about ``workers + 1`` chunks in flight.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from adsearch.io import make_particles, write_lhco
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_lhco(d / "ev.h5", make_particles([[900.0, 800.0]], [[0.0, 1.5]], [[0.0, 3.0]]))
    >>> features_from_file(d / "ev.h5", d / "f.parquet", progress=False).n_kept
    1
    >>> features_from_file(d / "ev.h5", d / "g.parquet", r=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    adsearch.errors.ConfigError: features:r: the jet radius must be in (0, 3], got 0
    """
    try:
        cfg = replace(config or FeaturesConfig(), **options)
    except TypeError:
        bad = sorted(set(options) - {f.name for f in fields(FeaturesConfig)})
        raise ConfigError(f"features: unknown option {bad[0]!r}") from None
    cfg.validate()
    r, min_pt, chunk_size, workers = cfg.r, cfg.min_pt, cfg.chunk_size, cfg.workers
    read_kw = {"tree": tree, "branches": branches or RootBranches()}
    src, out = Path(input_path), Path(output_path)
    if start < 0 or (stop is not None and stop < start):
        raise InputError(f"bad event range start={start}, stop={stop}")
    fmt = detect_format(src)
    if fmt == "parquet":
        raise InputError(f"{src}: is a parquet (features) file; give an event file (HDF5/ROOT)")
    if out.exists() and out.resolve() == src.resolve():
        raise InputError(f"{out}: output would overwrite the input file")
    n_file = num_events(src, tree=tree)
    end = n_file if stop is None else min(stop, n_file)
    total = max(end - start, 0)
    if total == 0 and n_file > 0:
        raise InputError(
            f"{src}: empty event range [{start}, {end}) (the file has {n_file:,} events)"
        )
    meta: dict[str, Any] = {"input": str(src), "start": int(start), "stop": int(end)}
    reading: dict[str, Any] = {}
    if fmt == "hdf5":
        meta["input_attrs"] = lhco_attrs(src)
    else:
        reading = read_kw

    def jobs() -> Iterator[_Job]:
        first = start
        rows = iter_events(src, start=start, stop=stop, chunk_size=int(chunk_size), **reading)
        for events in rows:
            yield events, first, r, min_pt
            first += len(events)

    return write_feature_chunks(
        out, _map_ordered(jobs(), int(workers)), meta, r=r, min_pt=min_pt, lhco_h5=lhco_h5,
        progress=progress, total=total,
    )  # fmt: skip


def write_feature_chunks(
    out: Path,
    chunks: Iterable[Features],
    meta: dict[str, Any],
    *,
    r: float,
    min_pt: float,
    lhco_h5: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    total: int = 0,
    description: str = "features",
) -> FeaturesRunSummary:
    """Write computed feature chunks, in the order given, to one features file and count them.

    Shared by the single-machine path (:func:`features_from_file`) and the dask path
    (:func:`adsearch.distributed.features_file_dask`), so both write identical files.
    """
    lhco_parts: list[Features] = []
    n_in = n_fewer = n_single = 0
    with FeaturesWriter(out) as writer, progress_bar(progress) as bar:
        task = bar.add_task(description, total=total)
        for feats in chunks:
            if writer.meta is None:
                writer.meta = {**feats.meta, **meta}
            writer.write(feats)
            if lhco_h5 is not None:
                # only the flat table is kept for the HDF5 export (no constituents)
                lhco_parts.append(
                    Features(feats.table, feats.constituents[:, :, :0], feats.n_input,
                             feats.n_fewer_than_two_jets)
                )  # fmt: skip
            n_in += feats.n_input
            n_fewer += feats.n_fewer_than_two_jets
            n_single += feats.n_single_constituent_jets
            bar.advance(task, feats.n_input)
        if writer.meta is None:  # empty range
            writer.meta = {"r": float(r), "min_pt": float(min_pt), **meta}
    if lhco_h5 is not None:
        export_lhco_features_h5(lhco_h5, Features.concatenate(lhco_parts))
    return FeaturesRunSummary(out, n_in, n_in - n_fewer, n_fewer, n_single)
