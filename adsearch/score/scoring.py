"""Jet and event anomaly scores from a trained model, written beside the event features.

Every jet of every event is scored separately (``score_j1`` for the leading jet,
``score_j2`` for the subleading one); the event score is their mean (``score``,
D'Avanzo (ATLAS), EuCAIFCon 2025),
with ``score_max`` and ``score_min`` as alternatives. The output table holds the event-level
columns of the features file (``mjj``, jet kinematics, ``label``, ...) plus the scores and the
event's ``split`` (0 = train, 1 = validation, 2 = test, as in training when the scored file is
the training file; otherwise every event is 2 = unseen). Downstream statistics must use the
test events only.

Examples
--------
>>> import numpy as np
>>> ev = event_scores(np.array([1.0, 3.0, 2.0, 0.0]), np.array([0, 0, 1, 1]),
...                   np.array([0, 1, 0, 1]), n_events=2)
>>> ev["score"].tolist(), ev["score_max"].tolist(), ev["score_min"].tolist()
([2.0, 1.0], [3.0, 2.0], [1.0, 0.0])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from adsearch.errors import InputError
from adsearch.io.atomic import atomic_path
from adsearch.models.registry import AnomalyModel
from adsearch.progress import track
from adsearch.train.data import InputBuilder, JetSample, load_jets, split_events
from adsearch.train.trainer import load_model

__all__ = ["event_scores", "score_features", "score_jets"]

SCORE_COLUMNS = ("score_j1", "score_j2", "score", "score_max", "score_min", "split")


@torch.no_grad()
def score_jets(
    model: AnomalyModel,
    sample: JetSample,
    graph: dict[str, Any] | None = None,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    augment: Any = None,
) -> np.ndarray:
    """Anomaly score of every jet of ``sample`` (float64 ``[n_jets]``, larger = more anomalous).

    ``graph`` are the :class:`~adsearch.graphs.GraphConfig` options and ``augment`` the
    :class:`~adsearch.train.config.AugmentConfig` the model was trained with (only the
    deterministic ``to-mass`` transformation applies when scoring).
    """
    model = model.to(device).eval()
    builder = InputBuilder(model.input_kind, graph, device, augment)
    out = np.empty(len(sample), dtype=np.float64)
    starts = range(0, len(sample), batch_size)
    for s in track(starts, len(starts), "scoring jets", enabled=progress):
        idx = np.arange(s, min(s + batch_size, len(sample)))
        out[idx] = model(builder(sample, idx)).double().cpu().numpy()
    if not np.all(np.isfinite(out)):
        raise InputError("scores: the model produced NaN or infinite scores")
    return out


def event_scores(
    jet_scores: np.ndarray, event: np.ndarray, slot: np.ndarray, n_events: int
) -> dict[str, np.ndarray]:
    """Per-event ``score_j1``, ``score_j2``, ``score`` (mean), ``score_max``, ``score_min``."""
    j = np.full((n_events, 2), np.nan)
    j[event, slot] = jet_scores
    return {
        "score_j1": j[:, 0],
        "score_j2": j[:, 1],
        "score": j.mean(1),
        "score_max": j.max(1),
        "score_min": j.min(1),
    }


def _event_table(features: Any, n_events: int) -> dict[str, np.ndarray]:
    cols = {}
    for k, v in features.table.items():
        a = np.asarray(v)
        if a.ndim == 1 and len(a) >= n_events:
            cols[k] = a[:n_events]
    return cols


def score_features(
    run_dir: str | Path,
    features_path: str | Path,
    out_path: str | Path | None = None,
    batch_size: int | None = None,
    device: str = "cpu",
    max_events: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Score a features file with the model in ``run_dir``; write a parquet table.

    Parameters
    ----------
    run_dir : training output directory (or its ``model.pt``).
    features_path : features file to score.
    out_path : output parquet (default ``<features stem>.scores.parquet`` beside the input).
    batch_size : jets per forward pass (default: the training batch size).
    device : ``"cpu"`` or ``"cuda"``.
    max_events : score only the first events (quick looks).

    Returns
    -------
    Path of the written table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    model, cfg = load_model(run_dir, device=device)
    features_path = Path(features_path)
    sample, feats = load_jets(features_path, max_events)
    n_ev = sample.n_events
    js = score_jets(
        model,
        sample,
        cfg.graph,
        batch_size or cfg.optim.batch_size,
        device,
        progress,
        augment=cfg.data.augment,
    )
    cols = _event_table(feats, n_ev)
    cols.update(event_scores(js, sample.event, sample.slot, n_ev))
    split = np.full(n_ev, 2, dtype=np.int8)
    if cfg.data.path and Path(cfg.data.path).resolve() == features_path.resolve():
        # the training file: reproduce the training split (events beyond max_events unseen)
        n_file = _n_table_events(feats, n_ev)
        n_train = min(n_file, cfg.data.max_events or n_file)
        used = split_events(n_train, cfg.data.train_fraction, cfg.data.val_fraction, cfg.data.seed)
        k = min(n_ev, n_train)
        split[:k] = used[:k]
    cols["split"] = split
    out = (
        Path(out_path)
        if out_path is not None
        else features_path.with_name(features_path.stem + ".scores.parquet")
    )
    table = pa.table(cols)
    table = table.replace_schema_metadata(
        {"adsearch.model": str(Path(run_dir).resolve()), "adsearch.features": str(features_path)}
    )
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp)
    return out


def _n_table_events(features: Any, default: int) -> int:
    """Number of events in the features file (the training split was drawn from them all)."""
    for v in features.table.values():
        return len(v)
    return default  # pragma: no cover - empty table
