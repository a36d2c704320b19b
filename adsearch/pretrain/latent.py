"""Per-event latent columns from a pretrained encoder, for the weakly supervised methods.

The weak methods (:mod:`adsearch.weak`) read flat event tables, not constituents. This turns
the constituents of a features file into columns of the encoder's embedding: ``latent1_k`` and
``latent2_k`` (``k = 0 … D-1``) for the leading and the subleading jet. The weak feature names
``latent_lighter_k`` / ``latent_heavier_k`` then order them by jet mass, like CATHODE's
``mj_lighter`` and ``tau21_lighter``. The columns are a fixed function of the encoder file, so
the data, a reference template and a test table embedded with the same encoder are
comparable (no per-table fit such as a PCA). The idea: Dillon et al., "Anomalies,
representations, and self-supervision" (2023), weakly supervised classifiers on
contrastively learned jet representations.

Examples
--------
>>> latent_column_names(2)
['latent1_0', 'latent1_1', 'latent2_0', 'latent2_1']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.errors import InputError

__all__ = ["latent_column_names", "latent_columns", "latent_table", "write_latent_table"]


def latent_column_names(dim: int) -> list[str]:
    """The column names of a ``dim``-dimensional embedding: jet 1's, then jet 2's."""
    return [f"latent{j}_{k}" for j in (1, 2) for k in range(dim)]


def latent_columns(
    encoder: Any,
    sample: Any,
    n_events: int,
    *,
    max_constituents: int,
    batch_size: int = 1024,
) -> dict[str, np.ndarray]:
    """``{"latent1_0": [n_events], …}``: the embedding of each event's two jets.

    Parameters
    ----------
    encoder : a trained encoder (:func:`adsearch.models.pretrained.read_encoder`).
    sample : the jets (:class:`adsearch.train.data.JetSample`; ``event`` rows, ``slot`` 0/1).
    n_events : rows of the event table.
    max_constituents : the hardest constituents per jet, as in pretraining.

    Events without a second jet get NaN in its columns (the weak methods refuse NaN features
    with one error line naming the feature).
    """
    from adsearch.pretrain.probe import embed

    emb = embed(encoder, sample, max_constituents=max_constituents, batch_size=batch_size)
    dim = emb.shape[1] if emb.ndim == 2 and emb.size else int(getattr(encoder, "width", 0))
    out = np.full((2, n_events, dim), np.nan)
    slot = np.asarray(sample.slot, dtype=np.int64)
    keep = slot < 2
    out[slot[keep], np.asarray(sample.event)[keep]] = emb[keep]
    cols = out.transpose(0, 2, 1).reshape(2 * dim, n_events)  # jet 1's dims, then jet 2's
    return dict(zip(latent_column_names(dim), cols, strict=True))


def latent_table(
    encoder_path: str | Path, features: str | Path, *, batch_size: int = 1024
) -> dict[str, np.ndarray]:
    """The flat event columns of the features file ``features`` (no constituents) plus the
    latent columns of the encoder ``encoder_path`` (``encoder.pt`` or its directory),
    embedding the jets as the encoder was pretrained (its ``data.max_constituents``)."""
    from adsearch.models.pretrained import read_encoder
    from adsearch.train.data import load_jets

    encoder, blob = read_encoder(encoder_path)
    cap = int(blob["config"]["data"]["max_constituents"])
    sample, feats = load_jets(features)
    table: Mapping[str, Any] = feats.table
    flat = {k: np.asarray(v) for k, v in table.items() if np.ndim(v) == 1}
    if "mjj" not in flat:
        raise InputError(f"{features}: no 'mjj' column (not an adsearch features file)")
    n = len(flat["mjj"])
    lat = latent_columns(encoder, sample, n, max_constituents=cap, batch_size=batch_size)
    clash = sorted(set(lat) & set(flat))
    if clash:
        raise InputError(f"{features}: already has latent column {clash[0]!r}")
    return {**flat, **lat}


def write_latent_table(
    encoder_path: str | Path, features: str | Path, out: str | Path, *, batch_size: int = 1024
) -> tuple[Path, int, int]:
    """Write :func:`latent_table` to the Parquet file ``out`` (atomically); returns the
    path, the number of events and the embedding size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from adsearch.io.atomic import atomic_path

    table = latent_table(encoder_path, features, batch_size=batch_size)
    dim = sum(1 for k in table if k.startswith("latent1_"))
    with atomic_path(out) as tmp:
        pq.write_table(pa.table(table), tmp)
    return Path(out), len(table["mjj"]), dim
