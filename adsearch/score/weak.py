"""The scores table of a weakly supervised search (:mod:`adsearch.weak`) over a features file.

:func:`weak_score_table` is the weakly supervised counterpart of
:func:`adsearch.score.score_features`: it writes a table of the same layout (the event columns
of the features file, ``score``, ``score_max``, ``score_min``, ``score_j1``, ``score_j2``,
``split``), so the regions, fits, BumpHunter and limits read it unchanged.

* ``score`` = ``score_max`` = ``score_min``: the classifier's out-of-fold score of each event
  (one score per event, not per jet; ``score_j1``/``score_j2`` are NaN).
* ``split`` = 2 for every event: each event is scored by ensemble members that never trained
  on it (k-fold), so every event is a test event.

Examples
--------
>>> import pandas as pd, pyarrow.parquet as pq, tempfile, pathlib
>>> from adsearch.weak import ClassifierConfig, WeakConfig
>>> from adsearch.weak.toys import planted_toy, toy_table
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> toy_table(planted_toy(3000, 300, seed=0)).to_parquet(d / "f.parquet")
>>> fast = ClassifierConfig(kind="hgb", n_members=1)
>>> cfg = WeakConfig(method="cwola", n_folds=3, classifier=fast)
>>> info = weak_score_table(d / "f.parquet", d / "s.parquet", cfg, progress=False)
>>> t = pq.read_table(d / "s.parquet").to_pandas()
>>> len(t) == 3300, bool((t.split == 2).all()), bool((t.score == t.score_max).all())
(True, True, True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adsearch.errors import InputError
from adsearch.io.atomic import atomic_path
from adsearch.weak.config import WeakConfig
from adsearch.weak.features import read_table
from adsearch.weak.methods import weak_scores
from adsearch.weak.output import write_outputs

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["feature_score_table", "weak_score_table", "write_scores_table"]


def _auc(data: np.ndarray, template: np.ndarray | None) -> float | None:
    """AUC of the classifier between SR data (1) and its template (0), out of fold.

    None when either side is empty or no template scores were kept.
    """
    from adsearch.stats.metrics import roc_auc

    if template is None or data.size == 0 or template.size == 0:
        return None
    y = np.r_[np.ones(data.size), np.zeros(template.size)]
    return float(roc_auc(y, np.r_[data, template]))


def weak_score_table(
    features_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    cfg: WeakConfig,
    reference_path: str | os.PathLike[str] | None = None,
    products_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    flow_cache: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Score every event of a features file with a weakly supervised classifier.

    Parameters
    ----------
    features_path : the events (a features Parquet file, or an LHCO features ``.h5``).
    out_path : the scores table to write (Parquet, atomically).
    cfg : the weakly supervised search (``cfg.method``: cwola, cathode, reference).
    reference_path : the background template table (``method="reference"``).
    products_dir : where to write the ensemble, flow and ``weak.json``
        (:func:`adsearch.weak.write_outputs`); ``None``: not written.
    progress : progress bars (default: when stderr is a terminal).
    flow_cache : CATHODE: a directory of trained flows, reused when the sidebands and the
        flow settings are the same (:func:`adsearch.weak.methods.cathode`).

    Returns
    -------
    dict
        What ran (:attr:`adsearch.weak.WeakResult.info`) plus ``auc_data_vs_template``: the
        out-of-fold AUC between the signal-region data and the template (≈ 0.5 when the
        data hold nothing the template lacks).

    Raises
    ------
    InputError
        Unreadable tables, missing columns, a signal region outside the data, too few events
        (:func:`adsearch.weak.weak_scores`).
    """
    table = read_table(features_path, str(features_path))
    ref = None
    if cfg.method == "reference":
        if reference_path is None:
            raise InputError("score:method reference: no reference table (score.reference)")
        ref = read_table(reference_path, f"reference {reference_path}")
    res = weak_scores(table, cfg, reference_table=ref, progress=progress, flow_cache=flow_cache)
    mjj = table["mjj"].to_numpy(np.float64)
    lo, hi = cfg.signal_region
    sr = (mjj >= lo) & (mjj < hi)
    info = dict(res.info)
    info["auc_data_vs_template"] = _auc(res.scores[sr], res.template_scores)
    if products_dir is not None:
        write_outputs(
            products_dir, res, cfg, extra={"auc_data_vs_template": info["auc_data_vs_template"]}
        )
    write_scores_table(table, res.scores, out_path, cfg.method, features_path)
    return info


def write_scores_table(
    table: pd.DataFrame,
    scores: np.ndarray,
    out_path: str | os.PathLike[str],
    method: str,
    features_path: str | os.PathLike[str],
    per_jet: np.ndarray | None = None,
) -> None:
    """The scores table: the event columns, one score per event, every event a test event.

    ``per_jet`` (``[n, 2]``, optional) fills ``score_j1`` / ``score_j2`` (else NaN);
    ``score_max`` and ``score_min`` are the event score either way.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, Any] = {c: table[c].to_numpy() for c in table.columns}
    s = np.asarray(scores, dtype=np.float64)
    nan = np.full(len(s), np.nan)
    j1, j2 = (nan, nan) if per_jet is None else (per_jet[:, 0], per_jet[:, 1])
    cols.update(score=s, score_max=s, score_min=s, score_j1=j1, score_j2=j2)
    cols["split"] = np.full(len(s), 2, dtype=np.int8)
    out = pa.table(cols).replace_schema_metadata(
        {"adsearch.method": method, "adsearch.features": str(features_path)}
    )
    with atomic_path(out_path) as tmp:
        pq.write_table(out, tmp)


def feature_score_table(
    features_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    name: str,
    direction: str = "high",
    products_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Score every event of a features file by one event feature (no training).

    The scores table has the layout of :func:`weak_score_table`: ``score`` is the feature
    ``name`` (:data:`adsearch.weak.features.FEATURES`; its negative for ``direction="low"``),
    every event a test event (``split`` 2). ``products_dir`` receives ``weak.json`` (method,
    feature, direction, event count).

    >>> import pyarrow.parquet as pq, tempfile, pathlib
    >>> from adsearch.weak.toys import planted_toy, toy_table
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> toy_table(planted_toy(300, 30, seed=0)).to_parquet(d / "f.parquet")
    >>> info = feature_score_table(d / "f.parquet", d / "s.parquet", "mj_heavier")
    >>> t = pq.read_table(d / "s.parquet").to_pandas()
    >>> info["n_data"], bool(np.allclose(t.score * 1000, t[["mj1", "mj2"]].max(axis=1)))
    (330, True)
    """
    from adsearch.io.jsonfile import write_json
    from adsearch.weak.features import check_finite, feature_matrix

    if direction not in ("high", "low"):
        raise InputError(f"feature score direction {direction!r} is not 'high' or 'low'")
    table = read_table(features_path, str(features_path))
    x = feature_matrix(table, [name])
    check_finite(x, [name], str(features_path))
    score = x[:, 0] if direction == "high" else -x[:, 0]
    info = {"method": "feature", "feature": name, "direction": direction, "n_data": len(table)}
    if products_dir is not None:
        Path(products_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(products_dir) / "weak.json", {**info, "config": dict(info)})
    write_scores_table(table, score, out_path, "feature", features_path)
    return info
