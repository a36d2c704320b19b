"""``adsearch info FILE``: say what an input file is without reading all of it.

Reports the format (LHCO HDF5 with or without labels, ROOT TTree, features parquet), the
number of events (from the header), the signal fraction when labelled (reading only the
label column, in chunks), object-multiplicity statistics over the first events, and the
metadata attributes written with the file (generator card, seed, ...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.errors import InputError
from adsearch.io import detect_format
from adsearch.io.events import validate_labels
from adsearch.io.lhco import _NPART_COLS, iter_lhco, lhco_attrs, lhco_shape, open_values
from adsearch.io.root import RootBranches, _branch_plan, _open_tree, iter_root
from adsearch.progress import track

__all__ = ["describe", "format_row"]

#: Events used for the multiplicity statistics.
MULTIPLICITY_EVENTS = 10_000
_LABEL_CHUNK = 50_000
_ATTR_WIDTH = 200


def format_row(key: str, value: str) -> str:
    """One ``key: value`` line of a description, values aligned in one column."""
    return f"{key + ':':<16}{value}"


def _multiplicity(counts: np.ndarray) -> str:
    if len(counts) == 0:
        return "no events"
    q10, med, q90 = np.quantile(counts, [0.1, 0.5, 0.9])
    return (
        f"median {med:g}, q10 {q10:g}, q90 {q90:g}, max {int(counts.max())} "
        f"(first {len(counts):,} events)"
    )


def _signal(labels: np.ndarray) -> str:
    n = len(labels)
    if n == 0:
        return "no events"
    n_sig = int(np.count_nonzero(labels == 1))
    return f"{n_sig:,} of {n:,} labelled signal ({100.0 * n_sig / n:.3f} %)"


def _attr_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _ATTR_WIDTH else text[: _ATTR_WIDTH - 3] + "..."


def _describe_lhco(p: Path) -> list[str]:
    import awkward as ak

    n, ncols = lhco_shape(p)
    labelled = ncols == _NPART_COLS + 1
    kind = "R&D-like, last column = truth label" if labelled else "Black-Box-like, no label column"
    rows = [
        format_row("format", f"LHCO HDF5 (pandas fixed layout, key 'df'), {ncols} columns: {kind}"),
        format_row("events", f"{n:,}"),
    ]
    if labelled:
        with open_values(p, chunk_cache_bytes=16 * 2**20) as dset:
            parts = []
            starts = range(0, n, _LABEL_CHUNK)
            for b0 in track(starts, len(starts), "reading labels"):
                b1 = min(b0 + _LABEL_CHUNK, n)
                try:
                    col = dset[b0:b1, _NPART_COLS]
                except (OSError, ValueError, RuntimeError) as e:
                    raise InputError(
                        f"{p}: cannot read rows {b0}-{b1} (truncated or corrupt?): "
                        f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
                    ) from None
                parts.append(validate_labels(col, str(p), event_offset=b0))
        labels = np.concatenate(parts) if parts else np.zeros(0, np.int8)
        rows.append(format_row("signal", _signal(labels)))
    first = next(iter_lhco(p, 0, min(n, MULTIPLICITY_EVENTS), MULTIPLICITY_EVENTS), None)
    counts = np.zeros(0) if first is None else ak.to_numpy(ak.num(first.particles, axis=1))
    rows.append(format_row("objects/event", _multiplicity(counts)))
    for k, v in lhco_attrs(p).items():
        rows.append(format_row(f"attr {k}", _attr_text(v)))
    return rows


def _describe_root(p: Path, tree: str, branches: RootBranches) -> list[str]:
    """A ROOT file must hold ``tree`` with the particle branches, else InputError (which
    lists the TTrees or the branches that are there)."""
    import awkward as ak

    f, t = _open_tree(p, tree)
    with f:
        others = sorted(k.split(";")[0] for k, v in f.classnames().items() if v == "TTree")
        _, label = _branch_plan(t, p, tree, branches)
        n = int(t.num_entries)
    rows = [
        format_row("format", f"ROOT, TTree '{tree}' (TTrees: {', '.join(others)})"),
        format_row(
            "branches",
            ", ".join(branches.particle_branches().values())
            + (f"; label {label}" if label else "; no label branch"),
        ),
        format_row("events", f"{n:,}"),
    ]
    if label is not None:
        rows.append(format_row("signal", _signal(_root_labels(p, tree, label, n))))
    first = next(
        iter_root(p, tree, branches, stop=min(n, MULTIPLICITY_EVENTS), chunk_size=10**9), None
    )
    counts = np.zeros(0) if first is None else ak.to_numpy(ak.num(first.particles, axis=1))
    rows.append(format_row("objects/event", _multiplicity(counts)))
    return rows


def _root_labels(p: Path, tree: str, label: str, n: int) -> np.ndarray:
    """Only the label branch, in chunks, validated (0/1)."""
    import uproot

    parts = [np.zeros(0, np.int8)]
    with uproot.open(p) as f:
        branch = f[tree][label]
        for b0 in range(0, n, _LABEL_CHUNK * 10):
            b1 = min(n, b0 + _LABEL_CHUNK * 10)
            arr = branch.array(entry_start=b0, entry_stop=b1, library="np")
            parts.append(validate_labels(arr, str(p), event_offset=b0))
    return np.concatenate(parts)


def _describe_parquet(p: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(p)
        schema = meta.schema_arrow
        n = meta.metadata.num_rows
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{p}: not a readable parquet file: {msg}") from None
    return [
        format_row("format", "parquet (features table)"),
        format_row("rows", f"{n:,}"),
        format_row("columns", f"{len(schema.names)}: {', '.join(schema.names)}"),
    ]


def describe(
    path: str | os.PathLike[str],
    tree: str = "events",
    branches: RootBranches | None = None,
) -> str:
    """A multi-line, human-readable description of an input file.

    ``tree`` and ``branches`` (default :class:`~adsearch.io.root.RootBranches`) name the
    TTree and particle branches of a ROOT file; they are ignored for other formats.
    Raises :class:`~adsearch.errors.InputError` (one line, naming the file) if the file is
    missing, empty, truncated, corrupt or of an unknown format, or if a ROOT file lacks the
    tree or the particle branches (the message lists what it has).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from adsearch.io import make_particles, write_lhco
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ev.h5"
    >>> p = make_particles([[5.0, 1.0], [3.0]], [[0.1, 0.2], [0.3]], [[1.0, 2.0], [0.5]])
    >>> _ = write_lhco(f, p, labels=[0, 1], attrs={"seed": 42})
    >>> print(describe(f))  # doctest: +ELLIPSIS
    file:           ...ev.h5
    format:         LHCO HDF5 (pandas fixed layout, key 'df'), 2101 columns: R&D-like, ...
    events:         2
    signal:         1 of 2 labelled signal (50.000 %)
    objects/event:  median 1.5, q10 1.1, q90 1.9, max 2 (first 2 events)
    attr seed:      42
    """

    p = Path(path)
    fmt = detect_format(p)
    rows = [format_row("file", str(p))]
    if fmt == "hdf5":
        rows += _describe_lhco(p)
    elif fmt == "root":
        rows += _describe_root(p, tree, branches or RootBranches())
    else:
        rows += _describe_parquet(p)
    return "\n".join(rows)
