"""LHC Olympics 2020 HDF5 files: stream-read and write the real pandas "fixed" layout.

The LHCO files (R&D ``events_anomalydetection_v2.h5``, the 3-prong file, the Black Boxes)
were written by ``pandas.DataFrame.to_hdf(key="df", format="fixed", complib="blosc")``:
group ``df`` holding ``axis0`` (column names: the integers 0..2100), ``axis1`` (row index),
``block0_items`` (= ``axis0``) and ``block0_values`` (float64, shape ``(N, 2101)``, blosc
compressed). A row is ``pT_0, eta_0, phi_0, ..., pT_699, eta_699, phi_699[, label]``: up to
700 massless objects, not sorted by pT, zero padded at the end. 2101 columns = with a truth
label (1 = signal) in the last column; 2100 columns = no label (Black Box).

Reading goes straight through h5py (+ ``hdf5plugin`` for the blosc filter) in row blocks, so
the 17 GB (as float64) R&D file is streamed with bounded memory; pandas is never used to read.
Writing reproduces every dataset and attribute that pandas/PyTables write (checked against
the real files), with a resizable ``block0_values`` so :class:`LHCOWriter` can stream, so
``pandas.read_hdf(path, "df")`` reads our files exactly like a real one.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import warnings
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import h5py
import hdf5plugin  # registers the blosc HDF5 filter used by the LHCO files
import numpy as np

from adsearch.errors import InputError
from adsearch.io.atomic import atomic_path
from adsearch.io.events import (
    MAX_ABS_ETA,
    MAX_ABS_PHI,
    PARTICLE_FIELDS,
    Events,
    validate_labels,
    validate_particles,
)

__all__ = [
    "LHCO_SLOTS",
    "LHCOWriter",
    "iter_lhco",
    "lhco_attrs",
    "lhco_shape",
    "open_values",
    "read_lhco",
    "write_lhco",
]

#: Object slots per LHCO row (3 columns each: pT, eta, phi).
LHCO_SLOTS = 700
_NPART_COLS = 3 * LHCO_SLOTS  # 2100
_KEY = "df"
_VALUES = "block0_values"

#: Rows converted per internal read (~17 MB of float64); independent of ``chunk_size``.
_READ_ROWS = 1024

#: Group attributes written by pandas/PyTables; user ``attrs`` may not use these names.
_RESERVED_ATTRS = frozenset(
    {
        "CLASS",
        "TITLE",
        "VERSION",
        "PYTABLES_FORMAT_VERSION",
        "axis0_variety",
        "axis1_variety",
        "block0_items_variety",
        "encoding",
        "errors",
        "nblocks",
        "ndim",
        "pandas_type",
        "pandas_version",
    }
)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# ----------------------------------------------------------------------------- reading


def _open(path: str | os.PathLike[str], chunk_cache_bytes: int | None = None) -> h5py.File:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: empty file")
    try:
        # HDF5's default 1 MB chunk cache suits whole-row streaming (a 16 MB cache measured
        # ~15 % slower: chunks are copied in and out of it for nothing).
        return h5py.File(p, "r", rdcc_nbytes=chunk_cache_bytes)
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(
            f"{p}: not a readable HDF5 file (truncated or corrupt?): {_one_line(e)}"
        ) from None


def _values_dataset(f: h5py.File, path: Path) -> h5py.Dataset:
    try:
        dset = f[_KEY][_VALUES]
    except (KeyError, OSError, ValueError, RuntimeError) as e:
        if isinstance(e, KeyError):
            top = ", ".join(sorted(f.keys())) or "nothing"
            raise InputError(
                f"{path}: no '{_KEY}/{_VALUES}' dataset (not an LHCO pandas file; "
                f"top level holds: {top})"
            ) from None
        raise InputError(f"{path}: corrupt HDF5 structure: {_one_line(e)}") from None
    if not isinstance(dset, h5py.Dataset) or dset.ndim != 2:
        raise InputError(f"{path}: '{_KEY}/{_VALUES}' is not a 2-d table")
    grp = f[_KEY]
    nblocks = grp.attrs.get("nblocks", 1)
    if int(nblocks) != 1:
        raise InputError(
            f"{path}: DataFrame has {int(nblocks)} dtype blocks; the LHCO layout is a single "
            "float64 block (write the label as float, e.g. df.astype('float64'))"
        )
    ncols = dset.shape[1]
    if ncols not in (_NPART_COLS, _NPART_COLS + 1):
        raise InputError(
            f"{path}: {ncols} columns; LHCO files have {_NPART_COLS} (no label) or "
            f"{_NPART_COLS + 1} (last column = label)"
        )
    if dset.dtype != np.float64:
        raise InputError(f"{path}: '{_KEY}/{_VALUES}' has dtype {dset.dtype}, expected float64")
    if "block0_items" in grp and "axis0" in grp:
        try:
            items, axis0 = grp["block0_items"][()], grp["axis0"][()]
        except (OSError, ValueError, RuntimeError) as e:
            raise InputError(f"{path}: cannot read column names: {_one_line(e)}") from None
        if len(items) == len(axis0) and not np.array_equal(items, axis0):
            raise InputError(f"{path}: block columns are not in DataFrame column order")
    return dset


@contextlib.contextmanager
def open_values(
    path: str | os.PathLike[str], chunk_cache_bytes: int | None = None
) -> Iterator[h5py.Dataset]:
    """Open an LHCO file and yield its checked ``df/block0_values`` dataset (read-only).

    ``chunk_cache_bytes`` sets HDF5's chunk cache (default 1 MB); a few chunks' worth helps
    column-wise reads such as the label column alone.
    Raises :class:`~adsearch.errors.InputError` for a missing, empty, corrupt or non-LHCO
    file, or a column count other than 2100/2101.
    """
    p = Path(path)
    with _open(p, chunk_cache_bytes) as f:
        yield _values_dataset(f, p)


def lhco_shape(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(events, columns)`` of an LHCO file, from the dataset header (reads no data).

    Raises :class:`~adsearch.errors.InputError` if the file is not in the LHCO layout.
    """
    with _open(path) as f:
        dset = _values_dataset(f, Path(path))
        return int(dset.shape[0]), int(dset.shape[1])


def lhco_attrs(path: str | os.PathLike[str]) -> dict[str, Any]:
    """User attributes stored on the ``df`` group by :func:`write_lhco` (e.g. card, seed).

    Strings that hold JSON objects/arrays are decoded; pandas' own attributes are left out.
    """
    out: dict[str, Any] = {}
    with _open(path) as f:
        if _KEY not in f:
            return out
        for k, v in f[_KEY].attrs.items():
            if k in _RESERVED_ATTRS:
                continue
            out[k] = _decode_attr(v)
    return out


def _decode_attr(v: Any) -> Any:
    if isinstance(v, bytes | np.bytes_):
        v = v.decode("utf-8", errors="replace")
    if isinstance(v, str):
        if v[:1] in "[{":
            with contextlib.suppress(ValueError):
                return json.loads(v)
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _check_range(n: int, start: int, stop: int | None, chunk_size: int, path: Path) -> int:
    if start < 0 or (stop is not None and stop < start):
        raise InputError(f"{path}: bad event range start={start}, stop={stop}")
    if chunk_size <= 0:
        raise InputError(f"{path}: chunk_size must be positive, got {chunk_size}")
    return n if stop is None else min(stop, n)


Columns = tuple[np.ndarray, np.ndarray, np.ndarray]


def _convert_block(
    block: np.ndarray,
    path: Path,
    first_event: int,
    with_label: bool,
    validate: bool,
    dest: Columns,
) -> tuple[np.ndarray, Columns, np.ndarray | None]:
    """(n, 2100[+1]) LHCO rows -> (counts, (pt, eta, phi) of the kept objects, labels).

    The objects are written into the start of the ``dest`` arrays (returned as views).

    Fast path for the real layout (objects first, zero padding at the end of the row):
    counts by a vectorised binary search on pT, objects by one gather per column, and a
    check that the assumption held (every kept pT > 0, nothing non-zero after the objects).
    If it did not (a zero-pT hole, NaN, negative pT, ...), the general path masks pT > 0
    over all 700 slots, which also produces the precise error message.
    """
    out = _fast_path(block, dest, check_padding=validate)
    if out is None:
        counts, cols = _mask_path(block, path, first_event, validate, dest)
    else:
        counts, cols = out
    if validate:
        _check_columns(cols, counts, path, first_event)
    labels = None
    if with_label:
        labels = validate_labels(block[:, _NPART_COLS], str(path), event_offset=first_event)
    return counts, cols, labels


def _fast_path(
    block: np.ndarray, dest: Columns, check_padding: bool = True
) -> tuple[np.ndarray, Columns] | None:
    n, ncols = block.shape
    flat = block.reshape(-1)
    row_start = np.arange(n, dtype=np.int64) * ncols
    # counts[i] = first slot whose pT is not > 0 (binary search, 10 steps for 700 slots)
    lo = np.zeros(n, dtype=np.int64)
    hi = np.full(n, LHCO_SLOTS, dtype=np.int64)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        positive = flat[row_start + 3 * mid] > 0
        lo = np.where(active & positive, mid + 1, lo)
        hi = np.where(active & ~positive, mid, hi)
    counts = lo
    if (counts == 0).any():
        return None
    m = int(counts.sum())
    first_obj = np.cumsum(counts) - counts  # index of each row's first object in the output
    # flat position of object g (row i, slot j) = i * ncols + 3 j = 3 g + (i * ncols - 3 g_i)
    pos = np.repeat(row_start - 3 * first_obj, counts)
    pos += np.arange(0, 3 * m, 3, dtype=np.int64)
    # flat[j:] is a view shifted by one column: no temporary index arrays for eta and phi
    # mode="clip": the positions are in range by construction, and numpy buffers ``out``
    # (an extra copy) in the default mode="raise".
    cols = tuple(flat[j:].take(pos, out=dest[j][:m], mode="clip") for j in range(3))
    if not (cols[0] > 0).all():
        return None
    if check_padding:
        # Everything outside the objects must be zero padding: one contiguous count of
        # non-zero bit patterns (int64 view: 2.5x faster than a float compare; a -0.0 in
        # the padding then fails the check and takes the general path, which is correct).
        def nonzero(x: np.ndarray) -> int:
            return int(np.count_nonzero(x.view(np.int64)))

        n_nonzero = nonzero(block)
        if ncols > _NPART_COLS:
            n_nonzero -= int(np.count_nonzero(block[:, _NPART_COLS]))
        if n_nonzero != m + nonzero(cols[1]) + nonzero(cols[2]):
            return None
    return counts, (cols[0], cols[1], cols[2])


def _mask_path(
    block: np.ndarray, path: Path, first_event: int, validate: bool, dest: Columns
) -> tuple[np.ndarray, Columns]:
    n = block.shape[0]
    objs = block[:, :_NPART_COLS].reshape(n, LHCO_SLOTS, 3)  # a view, no copy
    pt = objs[:, :, 0]
    mask = pt > 0
    counts = np.count_nonzero(mask, axis=1)
    if validate:
        n_zero = np.count_nonzero(pt == 0)
        if int(counts.sum()) + n_zero != pt.size:  # NaN or negative pT somewhere
            bad = ~((pt > 0) | (pt == 0))
            ev, slot = np.argwhere(bad)[0]
            raise InputError(
                f"{path}: pT_{slot} (column {3 * slot}) is {float(pt[ev, slot])} in event "
                f"{first_event + ev} (NaN or negative)"
            )
        if (counts == 0).any():
            ev = int(np.flatnonzero(counts == 0)[0])
            raise InputError(f"{path}: event {first_event + ev} has no object with pT > 0")
    sel = objs[mask]  # (m, 3) copy of the real objects only
    m = len(sel)
    for j in range(3):
        dest[j][:m] = sel[:, j]
    return counts, (dest[0][:m], dest[1][:m], dest[2][:m])


def _check_columns(cols: Columns, counts: np.ndarray, path: Path, first_event: int) -> None:
    limits = (np.inf, MAX_ABS_ETA, MAX_ABS_PHI)
    for name, col, limit in zip(("pT", "eta", "phi"), cols, limits, strict=True):
        if len(col) == 0:
            continue
        # Fast test without temporaries: min/max propagate NaN, and inf exceeds any limit.
        lo, hi = col.min(), col.max()
        if -limit <= lo and hi <= limit and np.isfinite(lo) and np.isfinite(hi):
            continue
        finite = np.isfinite(col)
        bad, what = ~finite, "non-finite value (NaN or inf)"
        if finite.all():
            bad, what = np.abs(col) > limit, f"|{name}| > {limit:.4g}"
        obj = int(np.flatnonzero(bad)[0])
        ev = int(np.searchsorted(np.cumsum(counts), obj, side="right"))
        raise InputError(f"{path}: {what} in {name} of event {first_event + ev}")


class _ChunkBuilder:
    """Collects the converted blocks of one chunk straight into its output columns.

    Each column is allocated once at the upper bound (700 objects per row) with ``np.empty``:
    only the pages actually written become resident, and the unused tail is released at the
    end, so this costs the memory of the real objects and saves a concatenation copy (and
    its page faults) per chunk.
    """

    def __init__(self, n_rows: int, with_label: bool) -> None:
        cap = n_rows * LHCO_SLOTS
        self.cols = [np.empty(cap, dtype=np.float64) for _ in range(3)]
        self.counts = np.empty(n_rows, dtype=np.int64)
        self.labels = np.empty(n_rows, dtype=np.int8) if with_label else None
        self.n = 0
        self.m = 0

    def dest(self) -> Columns:
        return tuple(c[self.m :] for c in self.cols)  # type: ignore[return-value]

    def add(self, counts: np.ndarray, cols: Columns, labels: np.ndarray | None) -> None:
        k = len(counts)
        self.counts[self.n : self.n + k] = counts
        if self.labels is not None and labels is not None:
            self.labels[self.n : self.n + k] = labels
        self.n += k
        self.m += len(cols[0])

    def events(self, source: str) -> Events:
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(self.counts[: self.n], out=offsets[1:])
        cols = []
        for i in range(len(self.cols)):
            # Give back the unused reservation (realloc shrinks in place, no copy); called on
            # the list item so no extra reference blocks numpy's reference check.
            try:
                self.cols[i].resize(self.m)
            except ValueError:  # still referenced elsewhere: keep a view instead
                self.cols[i] = self.cols[i][: self.m]
            cols.append(self.cols[i])
        self.cols = []
        cols.append(np.zeros(self.m, dtype=np.float64))  # LHCO objects are massless
        # Built directly from offsets (what ak.unflatten(values, counts) does) to skip a copy.
        content = ak.contents.RecordArray(
            [ak.contents.NumpyArray(c) for c in cols], list(PARTICLE_FIELDS)
        )
        particles = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), content))
        labels = None if self.labels is None else self.labels[: self.n]
        return Events(particles, labels, source)


def iter_lhco(
    path: str | os.PathLike[str],
    start: int = 0,
    stop: int | None = None,
    chunk_size: int = 100_000,
    *,
    validate: bool = True,
) -> Iterator[Events]:
    """Stream an LHCO HDF5 file as :class:`Events` of ``chunk_size`` rows each.

    Parameters
    ----------
    path
        LHCO file in the pandas "fixed" layout (R&D, 3-prong, Black Box, or written here).
    start, stop
        Row range ``[start, stop)`` (``stop=None``: to the end; clipped to the file).
    chunk_size
        Events per yielded chunk. Memory is about ``chunk_size`` x 5 kB (pt, eta, phi, mass
        of ~166 objects per LHCO event) plus a 17 MB read buffer: streaming the 1.1M-event
        file with the default 100k peaks near 1 GB RSS (``benchmarks/bench_read.py``).
    validate
        Check every value (NaN/inf, negative pT, absurd eta/phi, all-zero rows, labels 0/1)
        and that nothing non-zero hides in the padding (rows with zero-pT holes are then
        read with a slower general path). Errors name the file, event and column.
        ``validate=False`` trusts the file: it assumes the LHCO layout (objects first, zero
        padding at the end of each row, as in every LHCO file) and skips the checks.

    Yields
    ------
    Events
        ``particles`` (``var * {pt, eta, phi, mass=0}``, padding removed, file order),
        ``labels`` (int8, ``None`` for 2100-column files), ``source`` = ``str(path)``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from adsearch.io.events import make_particles
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ev.h5"
    >>> p = make_particles([[5.0, 3.0], [7.0], [2.0]], [[0.1, 0.2], [0.3], [0.4]],
    ...                    [[1.0, -1.0], [0.5], [0.0]])
    >>> _ = write_lhco(f, p, labels=[0, 1, 0])
    >>> [len(ev) for ev in iter_lhco(f, chunk_size=2)]
    [2, 1]
    """
    p = Path(path)
    with _open(p) as f:
        dset = _values_dataset(f, p)
        n, ncols = dset.shape
        stop = _check_range(n, start, stop, chunk_size, p)
        with_label = ncols == _NPART_COLS + 1
        read_rows = min(_READ_ROWS, chunk_size, max(stop - start, 1))
        ranges = [
            (b0, min(b0 + read_rows, c0 + chunk_size, stop))
            for c0 in range(start, stop, chunk_size)
            for b0 in range(c0, min(c0 + chunk_size, stop), read_rows)
        ]
        blocks = (_prefetched_blocks if _PREFETCH else _serial_blocks)(dset, ranges, read_rows, p)
        chunk: _ChunkBuilder | None = None
        try:
            for b0, b1, block in blocks:
                if chunk is None:
                    chunk = _ChunkBuilder(min(chunk_size, stop - b0), with_label)
                chunk.add(*_convert_block(block, p, b0, with_label, validate, chunk.dest()))
                if b1 == stop or (b1 - start) % chunk_size == 0:
                    events = chunk.events(str(p))
                    chunk = None
                    yield events
                    del events
        finally:
            blocks.close()  # stops the read-ahead thread before the file closes


#: Read the next row block in a background thread while the current one is converted.
#: h5py releases the GIL inside H5Dread (HDF5 + blosc) and numpy releases it in the
#: conversion, so the two overlap on two cores.
_PREFETCH = True

Block = tuple[int, int, np.ndarray]


def _read_block(dset: h5py.Dataset, buf: np.ndarray, b0: int, b1: int, path: Path) -> None:
    try:
        dset.read_direct(buf, np.s_[b0:b1], np.s_[0 : b1 - b0])
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(
            f"{path}: cannot read rows {b0}-{b1} (truncated or corrupt file?): {_one_line(e)}"
        ) from None


def _serial_blocks(
    dset: h5py.Dataset, ranges: list[tuple[int, int]], rows: int, path: Path
) -> Generator[Block, None, None]:
    buf = np.empty((rows, dset.shape[1]), dtype=np.float64)
    for b0, b1 in ranges:
        _read_block(dset, buf[: b1 - b0], b0, b1, path)
        yield b0, b1, buf[: b1 - b0]


def _prefetched_blocks(
    dset: h5py.Dataset, ranges: list[tuple[int, int]], rows: int, path: Path
) -> Generator[Block, None, None]:
    """Like :func:`_serial_blocks`, reading one block ahead in a thread (two buffers)."""
    if len(ranges) <= 1:
        yield from _serial_blocks(dset, ranges, rows, path)
        return
    free: queue.Queue[np.ndarray | None] = queue.Queue()
    ready: queue.Queue[Block | BaseException | None] = queue.Queue()
    for _ in range(2):
        free.put(np.empty((rows, dset.shape[1]), dtype=np.float64))
    stop = threading.Event()

    def work() -> None:
        try:
            for b0, b1 in ranges:
                buf = free.get()
                if buf is None or stop.is_set():
                    return
                _read_block(dset, buf[: b1 - b0], b0, b1, path)
                ready.put((b0, b1, buf))
            ready.put(None)
        except BaseException as e:  # handed to the consumer thread
            ready.put(e)

    worker = threading.Thread(target=work, name="adsearch-lhco-read", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            b0, b1, buf = item
            yield b0, b1, buf[: b1 - b0]
            free.put(buf)
    finally:
        stop.set()
        free.put(None)  # wakes the worker if it waits for a buffer
        worker.join()


def read_lhco(
    path: str | os.PathLike[str],
    start: int = 0,
    stop: int | None = None,
    chunk_size: int = 100_000,
    *,
    validate: bool = True,
) -> Events:
    """Read rows ``[start, stop)`` of an LHCO file into one :class:`Events` (see iter_lhco).

    Holds the whole range in memory (~5 kB per event): use :func:`iter_lhco` for the full
    1.1M-event files.
    """
    p = Path(path)
    chunks = list(iter_lhco(p, start, stop, chunk_size, validate=validate))
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        with_label = lhco_shape(p)[1] == _NPART_COLS + 1
        return _ChunkBuilder(0, with_label).events(str(p))
    particles = ak.concatenate([c.particles for c in chunks])
    labels = None if chunks[0].labels is None else np.concatenate([c.labels for c in chunks])
    return Events(particles, labels, str(p))


# ----------------------------------------------------------------------------- writing


# PyTables stores string attributes as NULLTERM fixed-length strings (UTF-8 on groups, ASCII
# for the CArray's CLASS/TITLE/VERSION/name) and booleans as 8-bit bitfields; h5py's defaults
# (NULLPAD strings, enum bools) would make PyTables hand pandas bytes instead of str, so the
# attributes are created through h5py's low-level API with exactly those types.


class _Str:
    """A string attribute value with its HDF5 character set."""

    def __init__(self, text: str, utf8: bool = True) -> None:
        self.data = text.encode("utf-8")
        self.utf8 = utf8


_EMPTY = _Str("")  # PyTables' empty TITLE: a 1-byte string type with a NULL dataspace
_EMPTY_ASCII = _Str("", utf8=False)
_TRUE = object()  # PyTables' bool: H5T_NATIVE_B8 bitfield


def _set_attr(obj: h5py.HLObject, name: str, value: Any) -> None:
    if name in obj.attrs:
        del obj.attrs[name]
    if isinstance(value, _Str):
        tid = h5py.h5t.C_S1.copy()
        tid.set_size(max(len(value.data), 1))
        tid.set_strpad(h5py.h5t.STR_NULLTERM)
        tid.set_cset(h5py.h5t.CSET_UTF8 if value.utf8 else h5py.h5t.CSET_ASCII)
        if not value.data:
            h5py.h5a.create(obj.id, name.encode(), tid, h5py.h5s.create(h5py.h5s.NULL))
            return
        aid = h5py.h5a.create(obj.id, name.encode(), tid, h5py.h5s.create(h5py.h5s.SCALAR))
        aid.write(np.array(value.data, dtype=f"S{len(value.data)}"), mtype=tid)
    elif value is _TRUE:
        tid = h5py.h5t.NATIVE_B8
        aid = h5py.h5a.create(obj.id, name.encode(), tid, h5py.h5s.create(h5py.h5s.SCALAR))
        aid.write(np.array(1, dtype=np.uint8), mtype=tid)
    else:
        obj.attrs[name] = value


def _carray_attrs(d: h5py.Dataset, index: bool) -> None:
    """The attributes PyTables puts on a CArray written by pandas (see module docstring)."""
    _set_attr(d, "CLASS", _Str("CARRAY", utf8=False))
    _set_attr(d, "TITLE", _EMPTY_ASCII)
    _set_attr(d, "VERSION", _Str("1.1", utf8=False))
    if index:
        _set_attr(d, "kind", _Str("integer"))
        _set_attr(d, "name", _Str("N.", utf8=False))
    _set_attr(d, "transposed", _TRUE)


def _user_attr(key: str, value: Any) -> Any:
    if not isinstance(key, str) or not key or key in _RESERVED_ATTRS:
        raise InputError(f"attribute name {key!r} is empty or reserved by pandas/PyTables")
    if isinstance(value, str):
        return _Str(value)
    if isinstance(value, bool | int | float | np.integer | np.floating):
        return np.asarray(value)[()]
    try:
        return _Str(json.dumps(value, sort_keys=True))
    except TypeError as e:
        raise InputError(f"attribute {key!r}: not JSON-serialisable ({e})") from None


class LHCOWriter:
    """Stream events into a new LHCO-layout HDF5 file (a context manager).

    The file is written to a temporary name and renamed onto ``path`` only when the ``with``
    block ends without an error, so a failure (bad values, full disk, Ctrl-C) never leaves
    a partial file at ``path``.

    Parameters
    ----------
    path
        Output file.
    with_label
        Write 2101 columns (last = label, like the R&D file) instead of 2100 (Black Box).
    attrs
        Extra metadata stored as attributes of the ``df`` group (strings as UTF-8 bytes,
        numbers as scalars, anything else as a JSON string), e.g. ``{"card": ..., "seed": 1}``.
        pandas ignores them; read them back with :func:`lhco_attrs`.
    max_particles
        Keep at most this many objects per event (<= 700, the slots of the layout). Longer
        events keep their ``max_particles`` highest-pT objects; they are counted in
        :attr:`n_truncated`. Events that fit keep their order.
    compression
        Blosc compressor (``"blosclz"`` like the real files and pandas' ``complib="blosc"``,
        or ``"lz4"``/``"zstd"``/...; every blosc-enabled reader decodes all of them).
    chunk_rows
        Rows per HDF5 chunk (~1 MB chunks at 64; the real files use 7 rows, pandas' choice;
        both stream at the same speed with the default chunk cache).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from adsearch.io.events import make_particles
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "bb.h5"
    >>> with LHCOWriter(f, with_label=False, attrs={"seed": 7}) as w:
    ...     w.append(make_particles([[5.0]], [[0.1]], [[1.0]]))
    ...     w.append(make_particles([[4.0, 1.0]], [[0.2, 0.0]], [[0.5, 2.0]]))
    >>> lhco_shape(f), lhco_attrs(f)
    ((2, 2100), {'seed': 7})
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        with_label: bool,
        attrs: Mapping[str, Any] | None = None,
        max_particles: int = LHCO_SLOTS,
        *,
        compression: Literal["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"] = "blosclz",
        compression_level: int = 5,
        chunk_rows: int = 64,
    ) -> None:
        if not 1 <= max_particles <= LHCO_SLOTS:
            raise InputError(f"max_particles must be in 1..{LHCO_SLOTS}, got {max_particles}")
        self.path = Path(path)
        self.with_label = with_label
        self.max_particles = max_particles
        self.ncols = _NPART_COLS + int(with_label)
        self.attrs = {k: _user_attr(k, v) for k, v in (attrs or {}).items()}
        self.n_written = 0
        #: Events that had more than ``max_particles`` objects (their softest were dropped).
        self.n_truncated = 0
        self._filter = hdf5plugin.Blosc(
            cname=compression, clevel=compression_level, shuffle=hdf5plugin.Blosc.SHUFFLE
        )
        self._chunk_rows = chunk_rows
        self._atomic: contextlib.AbstractContextManager[Path] | None = None
        self._file: h5py.File | None = None
        self._mass_warned = False

    def __enter__(self) -> LHCOWriter:
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._file = h5py.File(tmp, "w")
            self._create_layout(self._file)
        except BaseException:
            self._close_file()
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self._close_file()
        except BaseException:
            if exc_type is None:
                assert self._atomic is not None
                self._atomic.__exit__(*sys.exc_info())
                raise
        assert self._atomic is not None
        self._atomic.__exit__(exc_type, exc, tb)

    def _close_file(self) -> None:
        if self._file is not None:
            f, self._file = self._file, None
            f.close()

    def _create_layout(self, f: h5py.File) -> None:
        for k, v in {
            "CLASS": _Str("GROUP"),
            "PYTABLES_FORMAT_VERSION": _Str("2.1"),
            "TITLE": _EMPTY,
            "VERSION": _Str("1.0"),
        }.items():
            _set_attr(f, k, v)
        g = f.create_group(_KEY)
        for k, v in {
            "CLASS": _Str("GROUP"),
            "TITLE": _EMPTY,
            "VERSION": _Str("1.0"),
            "axis0_variety": _Str("regular"),
            "axis1_variety": _Str("regular"),
            "block0_items_variety": _Str("regular"),
            "encoding": _Str("UTF-8"),
            "errors": _Str("strict"),
            "nblocks": np.int64(1),
            "ndim": np.int64(2),
            "pandas_type": _Str("frame"),
            **self.attrs,
        }.items():
            _set_attr(g, k, v)
        columns = np.arange(self.ncols, dtype=np.int64)
        for name in ("axis0", "block0_items"):
            d = g.create_dataset(
                name, data=columns, chunks=(min(self.ncols, 8192),), **self._filter
            )
            _carray_attrs(d, index=True)
        d = g.create_dataset(
            "axis1", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(8192,), **self._filter
        )
        _carray_attrs(d, index=True)
        d = g.create_dataset(
            _VALUES,
            shape=(0, self.ncols),
            maxshape=(None, self.ncols),
            dtype=np.float64,
            chunks=(self._chunk_rows, self.ncols),
            **self._filter,
        )
        _carray_attrs(d, index=False)

    def set_attrs(self, attrs: Mapping[str, Any]) -> None:
        """Set or replace attributes of the ``df`` group (encoded as ``attrs`` of the writer).

        For metadata known only after the last :meth:`append`, such as event counts: they
        are in the file before it is renamed into place, so no complete file lacks them.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from adsearch.io.events import make_particles
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "c.h5"
        >>> with LHCOWriter(f, with_label=False, attrs={"n_events": 0}) as w:
        ...     w.append(make_particles([[5.0]], [[0.1]], [[1.0]]))
        ...     w.set_attrs({"n_events": w.n_written, "note": "counted"})
        >>> lhco_attrs(f)
        {'n_events': 1, 'note': 'counted'}
        """
        if self._file is None:
            raise RuntimeError("LHCOWriter.set_attrs outside its 'with' block")
        encoded = {k: _user_attr(k, v) for k, v in attrs.items()}  # all checked first
        group = self._file[_KEY]
        for k, v in encoded.items():
            _set_attr(group, k, v)

    def append(self, particles: ak.Array, labels: np.ndarray | list[int] | None = None) -> None:
        """Validate and append a batch of events (``var * {pt, eta, phi[, mass]}``).

        ``labels`` (0/1 per event) is required when ``with_label`` and forbidden otherwise.
        Masses are not stored (LHCO objects are massless); non-zero masses give one warning.
        """
        if self._file is None:
            raise RuntimeError("LHCOWriter.append outside its 'with' block")
        src = str(self.path)
        if self.with_label and labels is None:
            raise InputError(f"{src}: labels are required (file opened with_label=True)")
        if not self.with_label and labels is not None:
            raise InputError(f"{src}: labels given but file opened with_label=False")
        particles = ak.Array(particles)
        validate_particles(particles, src, event_offset=self.n_written)
        lab = None
        if labels is not None:
            lab = validate_labels(np.asarray(labels), src, event_offset=self.n_written)
            if len(lab) != len(particles):
                raise InputError(f"{src}: {len(lab)} labels for {len(particles)} events")
        if (
            "mass" in ak.fields(particles)
            and not self._mass_warned
            and ak.any(particles["mass"] != 0)
        ):
            warnings.warn(
                f"{src}: particle masses are not stored (LHCO objects are massless)",
                stacklevel=2,
            )
            self._mass_warned = True
        for b0 in range(0, len(particles), _READ_ROWS):
            b1 = min(b0 + _READ_ROWS, len(particles))
            block = self._to_block(particles[b0:b1], None if lab is None else lab[b0:b1])
            self._write_block(block)

    def _to_block(self, particles: ak.Array, labels: np.ndarray | None) -> np.ndarray:
        counts = ak.to_numpy(ak.num(particles, axis=1))
        over = counts > self.max_particles
        if over.any():
            self.n_truncated += int(over.sum())
            pt = particles["pt"]
            order = ak.where(over, ak.argsort(pt, ascending=False, stable=True), ak.local_index(pt))
            particles = particles[order][:, : self.max_particles]
            counts = np.minimum(counts, self.max_particles)
        n = len(counts)
        block = np.zeros((n, self.ncols), dtype=np.float64)
        total = int(counts.sum())
        starts = np.cumsum(counts) - counts
        row = np.repeat(np.arange(n, dtype=np.int64), counts)
        slot = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
        base = row * self.ncols + 3 * slot
        flat = block.reshape(-1)
        for j, name in enumerate(("pt", "eta", "phi")):
            flat[base + j] = ak.to_numpy(ak.flatten(particles[name], axis=None))
        if labels is not None:
            block[:, _NPART_COLS] = labels
        return block

    def _write_block(self, block: np.ndarray) -> None:
        assert self._file is not None
        g = self._file[_KEY]
        n0, n1 = self.n_written, self.n_written + len(block)
        g[_VALUES].resize((n1, self.ncols))
        g[_VALUES][n0:n1] = block
        g["axis1"].resize((n1,))
        g["axis1"][n0:n1] = np.arange(n0, n1, dtype=np.int64)
        self.n_written = n1


def write_lhco(
    path: str | os.PathLike[str],
    particles: ak.Array,
    labels: np.ndarray | list[int] | None = None,
    attrs: Mapping[str, Any] | None = None,
    max_particles: int = LHCO_SLOTS,
    **writer_options: Any,
) -> int:
    """Write events to ``path`` in the LHCO layout (2101 columns with labels, else 2100).

    Atomic: nothing is left at ``path`` if validation or writing fails. See
    :class:`LHCOWriter` for ``attrs``, ``max_particles`` and ``writer_options``.

    Returns
    -------
    int
        The number of events truncated to ``max_particles`` objects (highest pT kept).

    Examples
    --------
    >>> import tempfile, pathlib, pandas
    >>> from adsearch.io.events import make_particles
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "rd.h5"
    >>> write_lhco(f, make_particles([[5.0, 3.0]], [[0.1, 0.2]], [[1.0, -1.0]]), labels=[1])
    0
    >>> df = pandas.read_hdf(f, "df")
    >>> df.shape, df.iloc[0, :6].tolist(), df[2100].tolist()
    ((1, 2101), [5.0, 0.1, 1.0, 3.0, 0.2, -1.0], [1.0])
    """
    with LHCOWriter(path, labels is not None, attrs, max_particles, **writer_options) as w:
        w.append(particles, labels)
    return w.n_truncated
