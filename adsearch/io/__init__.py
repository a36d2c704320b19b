"""Event input/output: LHCO HDF5 (pandas layout) and ROOT, read in chunks or whole.

Every reader returns :class:`Events` (awkward ``events * var * {pt, eta, phi, mass}``
float64 particles, padding removed, plus int8 labels or ``None``). :func:`read_events` and
:func:`iter_events` pick the reader from the file's first bytes (HDF5 or ROOT signature),
not its name. Every problem with a file raises :class:`~adsearch.errors.InputError` with a
one-line message naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adsearch.errors import InputError
from adsearch.io.events import Events, make_particles, validate_labels, validate_particles
from adsearch.io.lhco import (
    LHCO_SLOTS,
    LHCOWriter,
    iter_lhco,
    lhco_attrs,
    lhco_shape,
    read_lhco,
    write_lhco,
)
from adsearch.io.root import RootBranches, iter_root, read_root, root_num_entries, write_root

__all__ = [
    "LHCO_SLOTS",
    "Events",
    "LHCOWriter",
    "RootBranches",
    "detect_format",
    "has_labels",
    "iter_events",
    "iter_lhco",
    "iter_root",
    "lhco_attrs",
    "lhco_shape",
    "make_particles",
    "num_events",
    "read_events",
    "read_lhco",
    "read_root",
    "root_num_entries",
    "validate_labels",
    "validate_particles",
    "write_lhco",
    "write_root",
]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ROOT_MAGIC = b"root"
_PARQUET_MAGIC = b"PAR1"


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"hdf5"``, ``"root"`` or ``"parquet"`` from the file's signature bytes.

    Raises :class:`~adsearch.errors.InputError` for a missing, empty or unknown file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = f.write_text("hello")
    >>> detect_format(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    adsearch.errors.InputError: ...x.txt: unknown file format (not HDF5, ROOT or parquet)
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a file")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"{p}: empty file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
            if head.startswith(_HDF5_MAGIC):
                return "hdf5"
            if head.startswith(_ROOT_MAGIC):
                return "root"
            if head.startswith(_PARQUET_MAGIC):
                return "parquet"
            # HDF5 allows a user block: the signature may sit at 512, 1024, 2048, ...
            offset = 512
            while offset + 8 <= size:
                fh.seek(offset)
                if fh.read(8) == _HDF5_MAGIC:
                    return "hdf5"
                offset *= 2
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}") from None
    raise InputError(f"{p}: unknown file format (not HDF5, ROOT or parquet)")


def _format_for_events(p: Path) -> str:
    fmt = detect_format(p)
    if fmt == "parquet":
        raise InputError(f"{p}: is a parquet (features) file, not an event file")
    return fmt


def num_events(path: str | os.PathLike[str], tree: str = "events") -> int:
    """Number of events in an LHCO HDF5 or ROOT file, from its header."""
    p = Path(path)
    if _format_for_events(p) == "hdf5":
        return lhco_shape(p)[0]
    return root_num_entries(p, tree)


def iter_events(
    path: str | os.PathLike[str],
    start: int = 0,
    stop: int | None = None,
    chunk_size: int = 100_000,
    **kw: Any,
) -> Iterator[Events]:
    """Stream any supported event file in chunks (LHCO HDF5 or ROOT, detected by content).

    Extra keywords go to :func:`iter_lhco` (``validate``) or :func:`iter_root` (``tree``,
    ``branches``).
    """
    p = Path(path)
    if _format_for_events(p) == "hdf5":
        return iter_lhco(p, start, stop, chunk_size, **kw)
    return iter_root(p, start=start, stop=stop, chunk_size=chunk_size, **kw)


def has_labels(
    path: str | os.PathLike[str], tree: str = "events", branches: RootBranches | None = None
) -> bool:
    """Whether an event file carries truth labels (LHCO: the 2101st column; ROOT: the label
    branch, looked up in the first events).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ev.h5"
    >>> _ = write_lhco(f, make_particles([[5.0]], [[0.1]], [[1.0]]))
    >>> has_labels(f)
    False
    """
    p = Path(path)
    if _format_for_events(p) == "hdf5":
        return lhco_shape(p)[1] == 3 * LHCO_SLOTS + 1
    n = min(root_num_entries(p, tree), 10)
    rows = iter_root(p, tree, branches or RootBranches(), start=0, stop=n, chunk_size=10)
    return next(iter(rows)).labels is not None


def read_events(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None, **kw: Any
) -> Events:
    """Read a whole event file (or rows ``[start, stop)``) into one :class:`Events`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ev.h5"
    >>> _ = write_lhco(f, make_particles([[5.0]], [[0.1]], [[1.0]]), labels=[0])
    >>> ev = read_events(f)
    >>> len(ev), ev.labels.tolist()
    (1, [0])
    """
    p = Path(path)
    if _format_for_events(p) == "hdf5":
        return read_lhco(p, start, stop, **kw)
    return read_root(p, start=start, stop=stop, **kw)
