"""Event tables and the weak-supervision features computed from them.

A *table* is one row per event with the LHCO features-file columns (``pxj1 ... tau3j2``,
optionally ``label``) and ``mjj`` (GeV): the Parquet features file of ``adsearch features``,
the LHC Olympics ``events_anomalydetection_v2.features.h5`` (``mjj``, jet pT/η/φ and the
τ ratios are then computed), or a pandas DataFrame with those columns.

Features are computed from the jet columns only; ``label`` is never read by
:func:`feature_matrix`, so it cannot reach a training (the test suite asserts it).

Default features (CATHODE, Hallin et al., PRD 106, 055006): the lighter jet's mass and the
mass difference in TeV, and τ21 of the lighter and of the heavier jet.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"mj1": [500.0, 80.0], "mj2": [100.0, 90.0],
...                   "tau1j1": [0.2, 0.1], "tau2j1": [0.1, 0.05],
...                   "tau1j2": [0.4, 0.1], "tau2j2": [0.1, 0.08]})
>>> feature_matrix(t, ["mj_lighter", "delta_mj", "tau21_lighter"]).round(3).tolist()
[[0.1, 0.4, 0.25], [0.08, 0.01, 0.5]]
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adsearch.errors import InputError
from adsearch.jets.features import COLUMNS, LHCO_COLUMNS, lhco_derived
from adsearch.jets.nsubjettiness import tau_ratio

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FEATURES",
    "TABLE_COLUMNS",
    "check_finite",
    "check_same_columns",
    "feature_matrix",
    "is_latent_feature",
    "read_table",
    "resolve_feature",
]

#: the columns of a table (``label`` optional): the LHCO ones, then mjj, jet kinematics, ratios
TABLE_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in ("label", "event_index"))
_SKIP = ("label", "event_index", "constituentsj1", "constituentsj2")


def _get(table: Mapping[str, Any], name: str) -> np.ndarray:
    return np.asarray(table[name], dtype=np.float64)


def _masses(t: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(m_lighter, m_heavier, j1_is_lighter)`` in GeV."""
    m1, m2 = _get(t, "mj1"), _get(t, "mj2")
    first = m1 <= m2
    return np.where(first, m1, m2), np.where(first, m2, m1), first


def _ratio(t: Mapping[str, Any], num: int, den: int, lighter: bool) -> np.ndarray:
    _, _, first = _masses(t)
    r1 = tau_ratio(_get(t, f"tau{num}j1"), _get(t, f"tau{den}j1"))
    r2 = tau_ratio(_get(t, f"tau{num}j2"), _get(t, f"tau{den}j2"))
    return np.where(first == lighter, r1, r2)


def _pt(t: Mapping[str, Any], k: int) -> np.ndarray:
    return np.hypot(_get(t, f"pxj{k}"), _get(t, f"pyj{k}"))


def _pt_sorted(t: Mapping[str, Any], lighter: bool) -> np.ndarray:
    _, _, first = _masses(t)
    return np.where(first == lighter, _pt(t, 1), _pt(t, 2)) / 1000.0


def _delta_r(t: Mapping[str, Any]) -> np.ndarray:
    eta = [np.arcsinh(_get(t, f"pzj{k}") / np.maximum(_pt(t, k), 1e-12)) for k in (1, 2)]
    phi = [np.arctan2(_get(t, f"pyj{k}"), _get(t, f"pxj{k}")) for k in (1, 2)]
    dphi = (phi[0] - phi[1] + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(eta[0] - eta[1], dphi)


_TAU21 = ("tau1j1", "tau2j1", "tau1j2", "tau2j2")
_TAU32 = ("tau2j1", "tau3j1", "tau2j2", "tau3j2")
_P = ("pxj1", "pyj1", "pzj1", "pxj2", "pyj2", "pzj2")

#: feature name -> (function of a table, the table columns it reads); masses and pT in TeV
FEATURES: dict[str, tuple[Callable[[Mapping[str, Any]], np.ndarray], tuple[str, ...]]] = {
    "mj_lighter": (lambda t: _masses(t)[0] / 1000.0, ("mj1", "mj2")),
    "mj_heavier": (lambda t: _masses(t)[1] / 1000.0, ("mj1", "mj2")),
    "delta_mj": (lambda t: (_masses(t)[1] - _masses(t)[0]) / 1000.0, ("mj1", "mj2")),
    "tau21_lighter": (lambda t: _ratio(t, 2, 1, True), ("mj1", "mj2", *_TAU21)),
    "tau21_heavier": (lambda t: _ratio(t, 2, 1, False), ("mj1", "mj2", *_TAU21)),
    "tau32_lighter": (lambda t: _ratio(t, 3, 2, True), ("mj1", "mj2", *_TAU32)),
    "tau32_heavier": (lambda t: _ratio(t, 3, 2, False), ("mj1", "mj2", *_TAU32)),
    "pt_lighter": (lambda t: _pt_sorted(t, True), ("mj1", "mj2", *_P)),
    "pt_heavier": (lambda t: _pt_sorted(t, False), ("mj1", "mj2", *_P)),
    "delta_r": (_delta_r, _P),
}

_LATENT = re.compile(r"latent_(lighter|heavier)_(\d+)")


def _latent(k: int, lighter: bool) -> Callable[[Mapping[str, Any]], np.ndarray]:
    def f(t: Mapping[str, Any]) -> np.ndarray:
        _, _, first = _masses(t)
        return np.where(first == lighter, _get(t, f"latent1_{k}"), _get(t, f"latent2_{k}"))

    return f


def is_latent_feature(name: str) -> bool:
    """True for the names of the pretrained embedding's components, ``latent_lighter_K`` /
    ``latent_heavier_K`` (their columns are made by ``adsearch embed``).

    >>> is_latent_feature("latent_heavier_3"), is_latent_feature("mj_lighter")
    (True, False)
    """
    return _LATENT.fullmatch(name) is not None


def resolve_feature(
    name: str,
) -> tuple[Callable[[Mapping[str, Any]], np.ndarray], tuple[str, ...]] | None:
    """``(function of a table, columns it reads)`` of a feature name, or ``None`` if unknown.

    Besides :data:`FEATURES`: ``latent_lighter_K`` / ``latent_heavier_K``, component ``K`` of
    the pretrained embedding of the lighter / heavier jet (the ``latent1_K``, ``latent2_K``
    columns of ``adsearch embed``, :mod:`adsearch.pretrain.latent`).

    >>> resolve_feature("latent_heavier_3")[1]
    ('mj1', 'mj2', 'latent1_3', 'latent2_3')
    >>> resolve_feature("latent_3") is None
    True
    """
    if name in FEATURES:
        return FEATURES[name]
    m = _LATENT.fullmatch(name)
    if m is None:
        return None
    k = int(m.group(2))
    return _latent(k, m.group(1) == "lighter"), ("mj1", "mj2", f"latent1_{k}", f"latent2_{k}")


def feature_matrix(
    table: Mapping[str, Any], names: Sequence[str], what: str = "table"
) -> np.ndarray:
    """The ``(n_events, len(names))`` float64 matrix of the named features of ``table``.

    Only the columns the features need are read (never ``label``).

    Raises
    ------
    InputError
        An unknown feature name, or a column the features need is missing.

    Examples
    --------
    >>> feature_matrix({"mj1": [300.0], "mj2": [100.0]}, ["delta_mj"]).tolist()
    [[0.2]]
    """
    cols = []
    for name in names:
        feature = resolve_feature(name)
        if feature is None:
            raise InputError(
                f"unknown feature {name!r} (known: {', '.join(FEATURES)}, latent_lighter_K, "
                "latent_heavier_K)"
            )
        missing = [c for c in feature[1] if c not in table]
        if missing:
            hint = " (embed the table first: adsearch embed)" if name.startswith("latent") else ""
            raise InputError(f"{what}: feature {name!r} needs column(s) {', '.join(missing)}{hint}")
        cols.append(feature[0](table))
    n = len(cols[0]) if cols else 0
    return np.column_stack(cols) if cols else np.zeros((n, 0))


def check_finite(x: np.ndarray, names: Sequence[str], what: str) -> None:
    """Raise one :class:`InputError` line for the first feature with NaN/inf values.

    >>> check_finite(np.array([[1.0, np.nan]]), ["a", "b"], "DATA")
    Traceback (most recent call last):
    ...
    adsearch.errors.InputError: DATA: feature 'b' has 1 NaN/inf value(s) (first at row 0)
    """
    bad = ~np.isfinite(x)
    for j, name in enumerate(names):
        if bad[:, j].any():
            rows = np.flatnonzero(bad[:, j])
            raise InputError(
                f"{what}: feature {name!r} has {rows.size} NaN/inf value(s) "
                f"(first at row {rows[0]})"
            )


def _columns(table: Mapping[str, Any]) -> set[str]:
    return {str(c) for c in table} - set(_SKIP)


def check_same_columns(
    data: Mapping[str, Any], other: Mapping[str, Any], what: str = "reference"
) -> None:
    """Raise :class:`InputError` when ``other`` (e.g. the reference) has other columns.

    ``label``, ``event_index`` and the constituents are not compared.

    >>> check_same_columns({"mj1": 1, "label": 0}, {"mj1": 1, "mj2": 2})
    Traceback (most recent call last):
    ...
    adsearch.errors.InputError: reference: columns differ from the data's (extra: mj2)
    """
    a, b = _columns(data), _columns(other)
    if a != b:
        parts = []
        if a - b:
            parts.append(f"missing: {', '.join(sorted(a - b))}")
        if b - a:
            parts.append(f"extra: {', '.join(sorted(b - a))}")
        raise InputError(f"{what}: columns differ from the data's ({'; '.join(parts)})")


def _complete(frame: pd.DataFrame) -> pd.DataFrame:
    """Add mjj, jet pT/η/φ and the τ ratios when absent (LHCO features HDF5)."""
    t = {c: frame[c].to_numpy(np.float64) for c in frame.columns}
    for c, v in lhco_derived(t).items():
        if c not in frame.columns:
            frame[c] = v
    return frame


def read_table(path: str | os.PathLike[str], what: str | None = None) -> pd.DataFrame:
    """Read an events table: a Parquet features file or an LHCO features HDF5 file.

    Parameters
    ----------
    path
        ``.parquet`` (the flat columns are read, not the constituents) or ``.h5``/``.hdf5``
        (the LHCO features layout, :func:`adsearch.jets.featurefile.read_lhco_features_h5`).
    what
        Name used in error messages (default: the path).

    Returns
    -------
    pandas.DataFrame
        One row per event, file order: the table's columns; for the LHCO HDF5, also ``mjj``,
        jet pT/η/φ and the τ ratios.

    Raises
    ------
    InputError
        Missing or unreadable file, unknown extension, or no ``mjj``/LHCO jet columns.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from adsearch.jets.featurefile import (
        LHCO_H5_SUFFIXES,
        PARQUET_SUFFIXES,
        read_lhco_features_h5,
    )

    p = Path(path)
    name = what or str(p)
    suffix = p.suffix.lower()
    if not p.is_file():
        raise InputError(f"{name}: no such file")
    if suffix in LHCO_H5_SUFFIXES:
        frame = read_lhco_features_h5(p)
        frame.attrs.clear()
        return _complete(frame)
    if suffix not in PARQUET_SUFFIXES:
        raise InputError(f"{name}: unknown table extension {p.suffix!r} (.parquet or .h5)")
    try:
        schema = pq.read_schema(p)
        cols = [c for c in schema.names if c not in ("constituentsj1", "constituentsj2")]
        frame = pq.read_table(p, columns=cols).to_pandas()
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{name}: not a Parquet table ({str(e).splitlines()[0]})") from None
    missing = [c for c in ("mjj", *LHCO_COLUMNS[:-1]) if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: lacks column(s) {', '.join(missing[:6])} of an events table")
    frame.attrs.clear()
    return frame
