"""Inputs of the statistics verbs: mjj/score columns and histograms (JSON results: io.jsonfile).

Supported inputs

- ``.npy``: a 1-D float array (mjj) or a structured array with named fields;
- ``.npz``: arrays by name;
- ``.h5``/``.hdf5``: 1-D datasets by name (h5py), or a pandas table (``pandas.read_hdf``);
- ``.parquet``: columns by name (e.g. features files written by awkward: ``mjj``,
  ``score_event``);
- ``.json`` histograms ``{"edges": [...], "counts": [...]}`` (also ``.npz`` with ``edges`` and
  ``counts``).

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "m.npy"
>>> np.save(p, np.array([3000.0, 3100.0]))
>>> read_columns(p, ["mjj"])["mjj"].tolist()
[3000.0, 3100.0]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.errors import InputError
from adsearch.stats.binning import BIN_WIDTH, MJJ_RANGE, Histogram, histogram, log_bins
from adsearch.stats.regions import SIGNAL_REGION, MjjWindow, select, working_points

__all__ = [
    "SpectrumInput",
    "is_histogram_file",
    "load_spectrum",
    "read_columns",
    "read_histogram",
    "spectrum_template",
]


def _as_1d(name: str, path: Path, a: Any) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{path}: column {name!r} is not numeric") from None
    if arr.ndim != 1:
        raise InputError(f"{path}: column {name!r} must be 1-D, has shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{path}: column {name!r} is empty")
    bad = int(np.sum(~np.isfinite(arr)))
    if bad:
        raise InputError(f"{path}: column {name!r} has {bad} NaN/inf values")
    return arr


def read_columns(path: str | Path, columns: list[str]) -> dict[str, np.ndarray]:
    """Read 1-D numeric ``columns`` from ``path`` (see module docstring for formats).

    A plain 1-D ``.npy`` array is returned under the first requested name. Missing files,
    missing columns, non-numeric, NaN/inf or empty columns raise :class:`InputError`.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    suffix = p.suffix.lower()
    raw: dict[str, Any] = {}
    available: list[str] = []
    try:
        if suffix == ".npy":
            a = np.load(p, allow_pickle=False)
            if a.dtype.names:
                available = list(a.dtype.names)
                raw = {c: a[c] for c in columns if c in available}
            else:
                if len(columns) > 1:
                    raise InputError(f"{p}: a plain .npy array holds one column (mjj) only")
                available, raw = list(columns), {columns[0]: a}
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                available = list(z.files)
                raw = {c: z[c] for c in columns if c in available}
        elif suffix in (".h5", ".hdf5", ".hdf"):
            import h5py

            with h5py.File(p, "r") as f:
                datasets: list[str] = []
                f.visititems(
                    lambda k, v: datasets.append(k) if isinstance(v, h5py.Dataset) else None
                )
                if all(c in datasets for c in columns):
                    available = datasets
                    raw = {c: f[c][()] for c in columns}
                elif "df" in f or any(k.endswith("table") for k in datasets):
                    import pandas as pd

                    df = pd.read_hdf(p)
                    available = [str(c) for c in df.columns]
                    raw = {c: df[c].to_numpy() for c in columns if c in df.columns}
                else:
                    available = datasets
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(p)
            available = list(schema.names)
            present = [c for c in columns if c in available]
            table = pq.read_table(p, columns=present)
            raw = {c: table.column(c).to_numpy() for c in present}
        else:
            raise InputError(f"{p}: unsupported file type {suffix!r} (npy, npz, h5, parquet)")
    except InputError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise InputError(
            f"{p}: cannot read ({type(e).__name__}: {str(e).splitlines()[0]})"
        ) from None
    missing = [c for c in columns if c not in raw]
    if missing:
        shown = ", ".join(available[:12]) + (" ..." if len(available) > 12 else "")
        raise InputError(f"{p}: no column {missing[0]!r} (available: {shown or 'none'})")
    out = {c: _as_1d(c, p, raw[c]) for c in columns}
    sizes = {v.size for v in out.values()}
    if len(sizes) > 1:
        raise InputError(f"{p}: columns {columns} have different lengths")
    return out


def is_histogram_file(path: str | Path) -> bool:
    """True for ``.json`` files and ``.npz`` files holding ``edges`` and ``counts``."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return True
    if p.suffix.lower() == ".npz" and p.is_file():
        try:
            with np.load(p, allow_pickle=False) as z:
                return "edges" in z.files and "counts" in z.files
        except (OSError, ValueError):
            return False
    return False


def read_histogram(path: str | Path) -> Histogram:
    """Read a histogram from JSON (``edges``, ``counts``) or ``.npz`` (same keys).

    A JSON result of ``adsearch fit`` works too (it has ``edges`` and ``counts``).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.suffix.lower() == ".json":
        try:
            d = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{p}: not valid JSON") from None
        return Histogram.from_dict(d, source=str(p))
    try:
        with np.load(p, allow_pickle=False) as z:
            d = {k: z[k] for k in ("edges", "counts") if k in z.files}
    except (OSError, ValueError):
        raise InputError(f"{p}: cannot read as .npz") from None
    return Histogram.from_dict(d, source=str(p))


@dataclass
class SpectrumInput:
    """How an mjj spectrum is read: file, columns, optional working point, binning."""

    path: Path
    column: str = "mjj"
    score_column: str | None = None
    working_point: float | None = None
    signal_region: tuple[float, float] = SIGNAL_REGION
    mjj_range: tuple[float, float] = MJJ_RANGE
    bin_width: float = BIN_WIDTH
    nbins: int | None = None


def load_spectrum(spec: SpectrumInput) -> tuple[Histogram, dict[str, Any]]:
    """Histogram of the selected mjj values (or a stored histogram) and a provenance dict.

    With ``score_column`` and ``working_point`` (a background efficiency), the score threshold
    is set on events outside the ``signal_region`` mjj window and the events above it are kept;
    the histogram of the events failing the cut (the control selection) is then in
    ``hist.meta["failing"]`` (see :func:`spectrum_template`).
    Bins are log-spaced over ``mjj_range`` (``nbins`` of them, else relative width
    ``bin_width``).
    """

    info: dict[str, Any] = {"input": str(spec.path)}
    if is_histogram_file(spec.path):
        if spec.score_column or spec.working_point is not None:
            raise InputError(f"{spec.path}: a histogram input cannot take a score working point")
        h = read_histogram(spec.path)
        info["n_events"] = float(h.counts.sum())
        return h, info
    if spec.working_point is not None and not spec.score_column:
        raise InputError("--working-point needs --score-column")
    cols = [spec.column] + ([spec.score_column] if spec.score_column else [])
    data = read_columns(spec.path, cols)
    mjj = data[spec.column]
    info["n_input"] = int(mjj.size)
    failing = None
    if spec.score_column and spec.working_point is not None:
        window = MjjWindow(*spec.signal_region)
        (wp,) = working_points(data[spec.score_column], [spec.working_point], mjj, window)
        sel = select(mjj, data[spec.score_column], wp)
        mjj, failing = sel.signal, sel.control
        info["working_point"] = wp.to_dict()
        info["signal_region"] = list(spec.signal_region)
    lo, hi = spec.mjj_range
    if spec.nbins is not None:
        if spec.nbins < 1:
            raise InputError("--nbins must be >= 1")
        edges = np.geomspace(lo, hi, spec.nbins + 1)
    else:
        edges = log_bins(lo, hi, spec.bin_width)
    h = histogram(mjj, edges)
    if failing is not None:  # the control selection: the events failing the cut
        h.meta["failing"] = histogram(failing, edges).counts.tolist()
    info.update(n_selected=int(mjj.size), n_in_range=float(h.counts.sum()))
    return h, info


def spectrum_template(
    hist: Histogram, blind: tuple[float, float] | None = None, required: bool = False
) -> Histogram | None:
    """The control-selection template of a spectrum cut by :func:`load_spectrum`.

    :func:`adsearch.stats.spurious.control_template` of the failing events stored in
    ``hist.meta["failing"]``: the spurious-signal gate's template and the background of
    ``fit.method: control``. ``None`` for a spectrum without a cut (or, unless ``required``,
    when the template cannot be built).
    """
    from adsearch.stats.spurious import control_template

    failing = hist.meta.get("failing")
    if failing is None:
        if required:
            raise InputError(
                "--method control needs the events failing a cut: give --score-column and "
                "--working-point"
            )
        return None
    try:
        return control_template(Histogram(hist.edges, np.asarray(failing, float)), hist, blind)
    except InputError:
        if required:
            raise
        return None
