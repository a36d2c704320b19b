"""Features files: one Parquet file with the feature table, the jets' constituents and counts.

The output name's extension says what is written (:func:`features_file_format`): ``.parquet``
(or ``.pq``, or no extension) the Parquet layout below; ``.h5``/``.hdf5``/``.hdf`` the LHCO
features HDF5 layout (the 15 LHCO columns, no constituents;
:func:`export_lhco_features_h5`, read back by :func:`read_lhco_features_h5`). Any other
extension is refused.

Layout (written through awkward's Arrow conversion, so ``ak.from_parquet`` reads it back
exactly, and pandas/pyarrow can read the flat columns):

* one row per kept event; the flat columns of :data:`adsearch.jets.features.COLUMNS`
  (LHCO features-file columns first), then ``constituentsj1`` and ``constituentsj2``
  (``var * {pt, eta, phi}``, by decreasing pT);
* one Parquet row group per written batch (the CLI writes one per input chunk), so
  :func:`iter_features` can stream a file without loading it whole
  (:func:`iter_feature_blocks`: in blocks of a given number of events, whatever the row
  groups);
* key-value metadata ``adsearch.features`` (JSON): format version, columns, the counters
  (events in, events with fewer than two jets, single-constituent jets) in total and per row
  group, and the provenance (jet radius, pT threshold, N-subjettiness definition, source).

Files are written atomically (:func:`adsearch.io.atomic.atomic_path`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adsearch.errors import InputError
from adsearch.io.atomic import atomic_path
from adsearch.jets.features import COLUMNS, LHCO_COLUMNS, Features, _pack_constituents

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMAT_VERSION",
    "LHCO_H5_SUFFIXES",
    "METADATA_KEY",
    "PARQUET_SUFFIXES",
    "FeaturesWriter",
    "export_lhco_features_h5",
    "features_file_format",
    "iter_feature_blocks",
    "iter_features",
    "read_features",
    "read_features_metadata",
    "read_features_table",
    "read_lhco_features_h5",
    "write_features",
]

#: Parquet key-value metadata key holding the JSON header.
METADATA_KEY = "adsearch.features"
#: Version of the file layout written here.
FORMAT_VERSION = 1
_CONSTITUENT_COLUMNS = ("constituentsj1", "constituentsj2")
#: Output extensions written as the LHCO features HDF5 layout.
LHCO_H5_SUFFIXES = (".h5", ".hdf5", ".hdf")
#: Output extensions written as Parquet features files ("" is a name without extension).
PARQUET_SUFFIXES = (".parquet", ".pq", "")
_LHCO_KEY = "df"


def features_file_format(path: str | os.PathLike[str]) -> Literal["parquet", "lhco-h5"]:
    """The layout a features output named ``path`` gets, from its extension.

    Raises :class:`~adsearch.errors.InputError` for an extension that is neither (rather
    than writing one format under another's name).

    Examples
    --------
    >>> features_file_format("f.parquet"), features_file_format("f.H5")
    ('parquet', 'lhco-h5')
    >>> features_file_format("out/f.csv")
    Traceback (most recent call last):
    ...
    adsearch.errors.InputError: out/f.csv: unknown features-file extension '.csv' \
(write .parquet for features and constituents, or .h5/.hdf5 for the LHCO features HDF5)
    """
    suffix = Path(path).suffix.lower()
    if suffix in LHCO_H5_SUFFIXES:
        return "lhco-h5"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise InputError(
        f"{path}: unknown features-file extension {Path(path).suffix!r} (write .parquet for "
        "features and constituents, or .h5/.hdf5 for the LHCO features HDF5)"
    )


def _json_safe(obj: Any) -> Any:
    """Metadata to JSON: numpy scalars to Python, unknown objects to ``str``."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


def _to_arrow(features: Features) -> pa.Table:
    record = {c: np.ascontiguousarray(features.table[c]) for c in COLUMNS}
    for k, name in enumerate(_CONSTITUENT_COLUMNS):
        record[name] = ak.to_packed(features.constituents[:, k])
    return ak.to_arrow_table(ak.zip(record, depth_limit=1), extensionarray=True)


class FeaturesWriter:
    """Write a features file batch by batch (one row group per batch), atomically.

    Use as a context manager; the file appears under ``path`` only when the block ends
    without an exception. Counters of all batches are summed into the header. A ``path``
    ending in ``.h5``/``.hdf5``/``.hdf`` gets the LHCO features HDF5 layout instead (written
    at the end, from the batches' 15 LHCO columns; see :func:`features_file_format`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "f.parquet"
    >>> with FeaturesWriter(out) as w:
    ...     w.write(Features.empty({"r": 1.0}))
    >>> read_features(out).n_input
    0
    """

    def __init__(self, path: str | os.PathLike[str], meta: dict[str, Any] | None = None):
        self.path = Path(path)
        self.format = features_file_format(self.path)
        self.meta = dict(meta) if meta is not None else None
        self._lhco_parts: list[Features] = []
        self._atomic = atomic_path(self.path)
        self._tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None
        self._row_groups: list[list[int]] = []

    def __enter__(self) -> FeaturesWriter:
        self._tmp = self._atomic.__enter__()
        return self

    def write(self, features: Features) -> None:
        """Append one batch as one row group."""
        if self._tmp is None:
            raise RuntimeError("FeaturesWriter.write called outside its `with` block")
        self._row_groups.append(
            [
                features.n_input,
                features.n_fewer_than_two_jets,
                features.n_single_constituent_jets,
            ]
        )
        if self.meta is None:
            self.meta = dict(features.meta)
        if self.format == "lhco-h5":  # only the flat table is kept (no constituents)
            self._lhco_parts.append(_without_constituents(features))
            return
        table = _to_arrow(features)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, table.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=max(len(features), 1))

    def _header(self, columns: tuple[str, ...], constituent_columns: tuple[str, ...]) -> str:
        totals = np.sum(np.array(self._row_groups, dtype=np.int64), axis=0).tolist()
        return json.dumps(
            {
                "format": METADATA_KEY,
                "version": FORMAT_VERSION,
                "columns": list(columns),
                "constituent_columns": list(constituent_columns),
                "n_input": totals[0],
                "n_fewer_than_two_jets": totals[1],
                "n_single_constituent_jets": totals[2],
                "row_groups": self._row_groups,
                "meta": _json_safe(self.meta or {}),
            }
        )

    def _finish(self) -> None:
        if not self._row_groups:  # nothing written: still a valid, empty file
            self.write(Features.empty(self.meta or {}))
        if self.format == "lhco-h5":
            assert self._tmp is not None
            features = Features.concatenate(self._lhco_parts)
            frame = features.lhco_frame()
            _write_lhco_h5(self._tmp, frame, self._header(tuple(frame.columns), ()))
            return
        assert self._writer is not None
        header = self._header(COLUMNS, _CONSTITUENT_COLUMNS)
        self._writer.add_key_value_metadata({METADATA_KEY: header})

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if exc_type is None:
            try:
                self._finish()
            except BaseException as e:
                self._close()
                self._atomic.__exit__(type(e), e, e.__traceback__)
                raise
        self._close()
        return self._atomic.__exit__(exc_type, exc, tb)


def write_features(path: str | os.PathLike[str], features: Features) -> Path:
    """Write ``features`` to ``path`` (Parquet, atomically) and return the path."""
    with FeaturesWriter(path, features.meta) as w:
        w.write(features)
    return Path(path)


def _open(path: str | os.PathLike[str]) -> tuple[pq.ParquetFile, dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such features file")
    try:
        pf = pq.ParquetFile(p)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{p}: not a Parquet features file ({str(e).splitlines()[0]})") from e
    raw = (pf.metadata.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise InputError(f"{p}: Parquet file without '{METADATA_KEY}' header (not a features file)")
    try:
        header = json.loads(raw)
    except ValueError as e:
        raise InputError(f"{p}: corrupt '{METADATA_KEY}' header ({e})") from e
    if header.get("version") != FORMAT_VERSION:
        raise InputError(
            f"{p}: features file version {header.get('version')!r}, "
            f"this adsearch reads version {FORMAT_VERSION}"
        )
    if len(header.get("row_groups", [])) != pf.metadata.num_row_groups:
        raise InputError(f"{p}: header lists {len(header['row_groups'])} row groups, "
                         f"file has {pf.metadata.num_row_groups}")  # fmt: skip
    return pf, header


def read_features_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a features file (counts, columns, provenance) without its data."""
    return _open(path)[1]


def _from_ak(array: ak.Array, counters: list[int], meta: dict[str, Any], path: Path) -> Features:
    missing = [c for c in (*COLUMNS, *_CONSTITUENT_COLUMNS) if c not in ak.fields(array)]
    if missing:
        raise InputError(f"{path}: features file lacks column(s) {', '.join(missing)}")
    table = {
        c: ak.to_numpy(array[c]).astype(np.int64 if c == "event_index" else np.float64)
        for c in COLUMNS
    }
    c1, c2 = (array[c] for c in _CONSTITUENT_COLUMNS)
    both = ak.flatten(ak.concatenate([c1[:, None], c2[:, None]], axis=1), axis=1)
    flat = ak.flatten(both, axis=1)
    constituents = _pack_constituents(
        ak.to_numpy(flat.pt),
        ak.to_numpy(flat.eta),
        ak.to_numpy(flat.phi),
        ak.to_numpy(ak.num(both, axis=1)),
    )
    try:
        n_input, n_fewer, *rest = counters  # files of earlier versions: two counters
        n_single = rest[0] if rest else 0
        return Features(table, constituents, n_input, n_fewer, n_single, meta=dict(meta))
    except InputError as e:
        raise InputError(f"{path}: {e}") from e


def read_features(path: str | os.PathLike[str]) -> Features:
    """Read a whole features file written by :func:`write_features` / :class:`FeaturesWriter`."""
    p = Path(path)
    header = _open(p)[1]
    counters = [
        header["n_input"], header["n_fewer_than_two_jets"], header["n_single_constituent_jets"]
    ]  # fmt: skip
    return _from_ak(ak.from_parquet(p), counters, header.get("meta", {}), p)


def iter_features(path: str | os.PathLike[str]) -> Iterator[Features]:
    """Yield a features file one row group (= one written batch) at a time.

    The counters of the yielded batches add up to the file's totals.
    """
    p = Path(path)
    header = _open(p)[1]
    for i, counters in enumerate(header["row_groups"]):
        yield _from_ak(ak.from_parquet(p, row_groups=[i]), counters, header.get("meta", {}), p)


def iter_feature_blocks(path: str | os.PathLike[str], rows: int) -> Iterator[Features]:
    """Yield a Parquet features file in blocks of at most ``rows`` events, in file order.

    The file is decoded record batch by record batch (no row group is read whole), so the
    memory scales with ``rows``, not with the file or its row groups. A block never spans
    two row groups: at the end of a row group a block is shorter. A block's counters are its
    own rows (``n_input = len(block)``, nothing dropped; the file's totals are in its
    header, :func:`read_features_metadata`). A file without events yields one empty block.

    Parameters
    ----------
    path
        A features file of :func:`write_features` / :class:`FeaturesWriter`.
    rows
        The most events per block (>= 1).

    Raises
    ------
    InputError
        A missing file or one that is not a features file (before the first block).
    ValueError
        ``rows`` < 1.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from adsearch.jets.features import Features
    >>> out = write_features(pathlib.Path(tempfile.mkdtemp()) / "f.parquet", Features.empty())
    >>> [len(b) for b in iter_feature_blocks(out, 7)]
    [0]
    """
    if int(rows) != rows or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    p = Path(path)
    meta = _open(p)[1].get("meta", {})
    # pre_buffer off: pages are read as the batches need them (on, a whole row group's
    # column chunks are read at once)
    pf = pq.ParquetFile(p, pre_buffer=False, buffer_size=1 << 20)
    empty = True
    for batch in pf.iter_batches(batch_size=int(rows)):
        empty = False
        yield _from_ak(ak.from_arrow(batch), [batch.num_rows, 0, 0], meta, p)
    if empty:
        yield _from_ak(ak.from_parquet(p), [0, 0, 0], meta, p)


def _without_constituents(features: Features) -> Features:
    return Features(
        features.table,
        features.constituents[:, :, :0],
        features.n_input,
        features.n_fewer_than_two_jets,
        features.n_single_constituent_jets,
        dict(features.meta),
    )


def _write_lhco_h5(path: Path, frame: pd.DataFrame, header: str | None = None) -> None:
    """``frame`` as pandas ``fixed`` HDF5 under key ``df``; ``header`` as a JSON attribute."""
    import h5py

    assert tuple(frame.columns) in (LHCO_COLUMNS, LHCO_COLUMNS[:-1])
    frame.to_hdf(path, key=_LHCO_KEY, mode="w", format="fixed")
    if header is not None:
        with h5py.File(path, "a") as f:
            f[_LHCO_KEY].attrs[METADATA_KEY] = header


def export_lhco_features_h5(path: str | os.PathLike[str], features: Features) -> Path:
    """Write the LHCO features-file layout: pandas ``fixed`` HDF5, key ``df``.

    Columns are the 15 of :data:`adsearch.jets.features.LHCO_COLUMNS` (``label`` dropped when
    the events are unlabelled), float64, one row per kept event — readable by code written for
    ``events_anomalydetection_v2.features.h5`` and by :func:`read_lhco_features_h5`.
    """
    with atomic_path(path) as tmp:
        _write_lhco_h5(tmp, features.lhco_frame())
    return Path(path)


def read_lhco_features_h5(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an LHCO features HDF5 file (ours, or the LHCO 2020 ``*.features.h5``).

    Parameters
    ----------
    path
        A pandas HDF5 file with key ``df`` and the 15 columns of
        :data:`adsearch.jets.features.LHCO_COLUMNS` (14 without ``label``), float64.

    Returns
    -------
    pandas.DataFrame
        One row per event. For files written by adsearch, ``frame.attrs["adsearch.features"]``
        holds the header (event counts, provenance) as a dict.

    Raises
    ------
    InputError
        One line naming the file: missing, not HDF5, no ``df`` table, other columns or types.
    """
    import h5py
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such features file")
    if not h5py.is_hdf5(p):
        raise InputError(f"{p}: not an LHCO features HDF5 file (not HDF5)")
    try:
        frame = pd.read_hdf(p, _LHCO_KEY)
        with h5py.File(p, "r") as f:
            raw = f[_LHCO_KEY].attrs.get(METADATA_KEY)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:  # tables: Runtime
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{p}: not an LHCO features HDF5 file ({first})") from None
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{p}: '{_LHCO_KEY}' is not a table (not an LHCO features file)")
    columns = tuple(str(c) for c in frame.columns)
    if columns not in (LHCO_COLUMNS, LHCO_COLUMNS[:-1]):
        raise InputError(
            f"{p}: columns {', '.join(columns[:16])} are not the LHCO features columns "
            f"({', '.join(LHCO_COLUMNS)})"
        )
    bad = [c for c in columns if frame[c].dtype != np.float64]
    if bad:
        raise InputError(f"{p}: column {bad[0]!r} is {frame[bad[0]].dtype}, expected float64")
    if raw is not None:
        try:
            frame.attrs[METADATA_KEY] = json.loads(raw)
        except ValueError:
            raise InputError(f"{p}: corrupt '{METADATA_KEY}' attribute") from None
    return frame


def read_features_table(path: str | os.PathLike[str]) -> Features:
    """Any features file as :class:`Features`: ours (Parquet, with constituents) or an LHCO
    features ``.h5`` (ours or the LHCO 2020 ``*.features.h5``; no constituents,
    :meth:`Features.from_lhco_frame`).

    Raises
    ------
    InputError
        One line naming the file (missing, unknown extension, wrong layout).
    """
    p = Path(path)
    if features_file_format(p) == "parquet":
        return read_features(p)
    return Features.from_lhco_frame(read_lhco_features_h5(p), meta={"source": str(p)})
