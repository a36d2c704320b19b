"""The products of a weakly supervised search, written atomically into one directory.

==========================  ===============================================================
``scores.parquet``          column ``score``: the out-of-fold score of every data event, in
                            the data's row order
``test_scores.parquet``     column ``score``: the ensemble's score of every test event, in
                            the test table's order (only when a test table was given)
``models.pkl``              the classifier ensemble (:func:`load_ensemble`; a pickle: load
                            only files you wrote)
``flow.pt``                 CATHODE's flow: configuration, preprocessing and weights
                            (``torch.load(..., weights_only=True)`` reads it)
``weak.json``               what ran: configuration, inputs, counts, timings, metrics
==========================  ===============================================================

Every file is written through :func:`adsearch.io.atomic.atomic_path`; the inputs are checked
before any training, so a bad input leaves no output at all.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.io.atomic import atomic_path
from adsearch.io.jsonfile import write_json
from adsearch.weak.classifiers import Ensemble
from adsearch.weak.config import WeakConfig
from adsearch.weak.methods import WeakResult

__all__ = ["PRODUCTS", "load_ensemble", "write_outputs", "write_scores"]

#: file names of the products in the output directory
PRODUCTS = {
    "scores": "scores.parquet",
    "test_scores": "test_scores.parquet",
    "models": "models.pkl",
    "flow": "flow.pt",
    "info": "weak.json",
}


def write_scores(path: str | os.PathLike[str], scores: np.ndarray) -> Path:
    """A one-column (``score``, float64) Parquet file, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"score": np.asarray(scores, dtype=np.float64)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def load_ensemble(path: str | os.PathLike[str]) -> Ensemble:
    """The ensemble of a ``models.pkl`` written by :func:`write_outputs`."""
    return Ensemble.from_bytes(Path(path).read_bytes())


def _write_flow(path: Path, result: WeakResult) -> None:
    import torch

    assert result.flow is not None
    with atomic_path(path) as tmp:
        torch.save(result.flow.to_blob(), tmp)


def write_outputs(
    out_dir: str | os.PathLike[str],
    result: WeakResult,
    cfg: WeakConfig,
    extra: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the products (:data:`PRODUCTS`) of ``result`` into ``out_dir``.

    ``extra`` is merged into ``weak.json`` (e.g. input paths, test metrics). Returns the
    paths written, by product name.
    """
    out = Path(out_dir)
    paths = {"scores": write_scores(out / PRODUCTS["scores"], result.scores)}
    if result.test_scores is not None:
        paths["test_scores"] = write_scores(out / PRODUCTS["test_scores"], result.test_scores)
    with atomic_path(out / PRODUCTS["models"]) as tmp:
        tmp.write_bytes(result.ensemble.to_bytes())
    paths["models"] = out / PRODUCTS["models"]
    if result.flow is not None:
        _write_flow(out / PRODUCTS["flow"], result)
        paths["flow"] = out / PRODUCTS["flow"]
    info = {
        "config": dataclasses.asdict(cfg),
        **result.info,
        **(extra or {}),
        "products": {k: p.name for k, p in paths.items()},
    }
    paths["info"] = write_json(out / PRODUCTS["info"], info)
    return paths
