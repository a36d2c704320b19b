"""``adsearch info FILE`` at the jets layer: LHCO features HDF5 files, then every other file.

An LHCO features HDF5 file (the layout of :func:`adsearch.jets.featurefile.read_lhco_features_h5`:
a pandas table under key ``df`` with the columns ``pxj1, pyj1, pzj1, mj1, tau1j1, tau2j1,
tau3j1, pxj2, ..., tau3j2[, label]``) is recognised from its column names
(:func:`is_lhco_features_h5`) and summarised by :func:`lhco_features_info`: events, columns,
label counts and the dijet-mass range computed from the two jets' four-momenta. Event files
(LHCO HDF5, ROOT) and Parquet features files are described by
:func:`adsearch.io.info.describe`; :func:`describe` picks the right one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.io.info import describe as describe_events_file
from adsearch.io.info import format_row
from adsearch.io.root import RootBranches
from adsearch.jets.featurefile import METADATA_KEY, read_lhco_features_h5
from adsearch.jets.features import LHCO_COLUMNS, lhco_mjj

__all__ = ["LHCOFeaturesInfo", "describe", "is_lhco_features_h5", "lhco_features_info", "lhco_mjj"]


@dataclass(frozen=True)
class LHCOFeaturesInfo:
    """What an LHCO features HDF5 file holds.

    Attributes
    ----------
    n_events : int
        Rows (one per event with two jets).
    columns : tuple of str
        The column names, in file order (15, or 14 without ``label``).
    label_counts : dict of float to int, or None
        Events per label value (``{0.0: n_background, 1.0: n_signal}``); None without a
        ``label`` column.
    mjj_range : tuple of float, or None
        Smallest and largest dijet invariant mass in GeV; None for an empty file.
    header : dict
        The ``adsearch.features`` header of files written by adsearch (event counts,
        provenance), else empty.
    """

    n_events: int
    columns: tuple[str, ...]
    label_counts: dict[float, int] | None
    mjj_range: tuple[float, float] | None
    header: dict[str, Any]


def is_lhco_features_h5(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an HDF5 file whose ``df`` table has the LHCO features columns.

    Reads only the column names (``df/axis0`` of the pandas ``fixed`` layout); any file that
    is missing, not HDF5 or laid out otherwise gives False, never an error.

    Examples
    --------
    >>> is_lhco_features_h5("no/such/file.h5")
    False
    """
    import h5py

    p = Path(path)
    try:
        if not p.is_file() or not h5py.is_hdf5(p):
            return False
        with h5py.File(p, "r") as f:
            axis0 = f["df"]["axis0"][()]
    except (OSError, KeyError, ValueError, TypeError, RuntimeError):
        return False
    names = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in np.ravel(axis0))
    return names in (LHCO_COLUMNS, LHCO_COLUMNS[:-1])


def lhco_features_info(path: str | os.PathLike[str]) -> LHCOFeaturesInfo:
    """Summarise an LHCO features HDF5 file: events, columns, label counts, mjj range.

    Raises
    ------
    adsearch.errors.InputError
        As :func:`adsearch.jets.featurefile.read_lhco_features_h5` (one line naming the file).
    """
    frame = read_lhco_features_h5(path)
    columns = tuple(str(c) for c in frame.columns)
    label_counts = None
    if "label" in columns:
        values, counts = np.unique(frame["label"].to_numpy(), return_counts=True)
        label_counts = {float(v): int(n) for v, n in zip(values, counts, strict=True)}
    mjj = lhco_mjj(frame)
    mjj_range = (float(mjj.min()), float(mjj.max())) if len(mjj) else None
    header = frame.attrs.get(METADATA_KEY) or {}
    return LHCOFeaturesInfo(len(frame), columns, label_counts, mjj_range, dict(header))


def _describe_lhco_features(p: Path) -> list[str]:
    info = lhco_features_info(p)
    rows = [
        format_row("format", "LHCO features (pandas HDF5, key 'df')"),
        format_row("events", f"{info.n_events:,}"),
        format_row("columns", f"{len(info.columns)}: {', '.join(info.columns)}"),
    ]
    if info.label_counts is None:
        rows.append(format_row("labels", "no label column"))
    else:
        counts = ", ".join(f"{v:g}: {n:,}" for v, n in info.label_counts.items())
        rows.append(format_row("labels", counts or "no events"))
    if info.mjj_range is None:
        rows.append(format_row("mjj", "no events"))
    else:
        lo, hi = info.mjj_range
        rows.append(format_row("mjj", f"{lo:.1f} - {hi:.1f} GeV"))
    source = info.header.get("meta", {}).get("source")
    if source:
        rows.append(format_row("source", str(source)))
    return rows


def describe(
    path: str | os.PathLike[str],
    tree: str = "events",
    branches: RootBranches | None = None,
) -> str:
    """A multi-line, human-readable description of any input or features file.

    LHCO features HDF5 files (:func:`is_lhco_features_h5`) are described here (format
    ``LHCO features``, events, columns, label counts, mjj range); every other file by
    :func:`adsearch.io.info.describe`, which ``tree`` and ``branches`` are passed to.

    Raises
    ------
    adsearch.errors.InputError
        One line naming the file: missing, unreadable, or of an unknown format.
    """
    p = Path(path)
    if not is_lhco_features_h5(p):
        return describe_events_file(p, tree, branches)
    return "\n".join([format_row("file", str(p)), *_describe_lhco_features(p)])
