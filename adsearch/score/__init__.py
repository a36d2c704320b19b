"""Scoring and export: jet/event anomaly scores (``adsearch score``), ONNX (``adsearch export``),
and the proxy/baseline scores reported beside a model's (jet mass, girth, GMM density)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adsearch.graphs import jet_axis
from adsearch.graphs.toy import toy_jets
from adsearch.models.objectives import ModelInputs
from adsearch.models.registry import AnomalyModel, build_model
from adsearch.score.baselines import GMMBaseline, proxy_report, proxy_scores
from adsearch.score.config import ReferenceConfig, ScoreConfig
from adsearch.score.density import DensityScoreConfig, JetDensity, density_score_table
from adsearch.score.export import ExportError, check_onnx, export_onnx, onnx_inputs
from adsearch.score.scoring import event_scores, score_features, score_jets
from adsearch.score.weak import feature_score_table, weak_score_table
from adsearch.train.config import TrainConfig
from adsearch.train.data import InputBuilder, JetSample
from adsearch.train.trainer import load_model

__all__ = [
    "DensityScoreConfig",
    "ExportError",
    "GMMBaseline",
    "JetDensity",
    "ReferenceConfig",
    "ScoreConfig",
    "check_onnx",
    "density_score_table",
    "event_scores",
    "export_onnx",
    "export_run",
    "feature_score_table",
    "onnx_inputs",
    "parity_batches",
    "proxy_report",
    "proxy_scores",
    "score_features",
    "score_jets",
    "weak_score_table",
]


def export_run(
    run: str | Path, out: str | Path | None = None, tolerance: float = 1e-4
) -> tuple[Path, float]:
    """Export the model of a training run to ONNX and check it with onnxruntime.

    The parity check runs toy jets (:func:`adsearch.graphs.toy.toy_jets`) of several sizes
    through both PyTorch and onnxruntime, with the run's graph configuration. An EGAT model
    trained with DGL kernels (not exportable) is first loaded into its plain-torch twin
    (``EGATBackbone(backend="pyg")``, same parameters); the twin must reproduce the DGL
    model's scores within ``tolerance`` before it is exported.

    Returns
    -------
    (path, max_abs_diff)

    Raises
    ------
    ExportError
        Exporter failure, a DGL model whose twin differs, or a difference above
        ``tolerance``.
    """

    model, cfg = load_model(run)
    run_dir = Path(run) if Path(run).is_dir() else Path(run).parent
    path = Path(out) if out is not None else run_dir / "model.onnx"
    if model.input_kind == "dgl":
        model = _torch_twin(model, cfg, tolerance)
    batches = parity_batches(model, cfg.graph)
    export_onnx(model, path, batches[0])
    diff = check_onnx(model, path, batches)
    if diff > tolerance:
        raise ExportError(f"{path}: onnxruntime differs from torch by {diff:.3g} > {tolerance}")
    return path, diff


def _torch_twin(model: AnomalyModel, cfg: TrainConfig, tolerance: float) -> AnomalyModel:
    """The plain-torch (``backend="pyg"``) twin of a DGL EGAT model, checked against it."""
    import dataclasses

    import torch

    if cfg.model.backbone != "egat":
        raise ExportError(f"cannot export the DGL backbone {cfg.model.backbone!r}")
    mcfg = dataclasses.replace(cfg.model, options={**cfg.model.options, "backend": "pyg"})
    meta = getattr(model, "train_meta", {"in_dim": 3, "edge_dim": 1, "pos_weight": 1.0})
    twin = build_model(mcfg, meta["in_dim"], meta["edge_dim"], meta.get("pos_weight", 1.0))
    twin.load_state_dict(model.state_dict())
    twin.eval()
    worst = 0.0
    with torch.no_grad():
        pairs = zip(parity_batches(model, cfg.graph), parity_batches(twin, cfg.graph), strict=True)
        for a, b in pairs:
            worst = max(worst, float((model(a) - twin(b)).abs().max()))
    if worst > tolerance:
        raise ExportError(
            f"EGAT: the exportable plain-torch twin differs from the DGL model by {worst:.3g}"
        )
    return twin


def parity_batches(
    model: AnomalyModel, graph: dict[str, Any] | None = None, seed: int = 0
) -> list[ModelInputs]:
    """Model input batches of toy jets with different jet counts and constituent counts."""
    import numpy as np

    builder = InputBuilder(model.input_kind, graph)
    out: list[ModelInputs] = []
    for i, (n_jets, mean_n) in enumerate(((3, 6.0), (7, 25.0), (2, 60.0))):
        jets = toy_jets(n_jets, seed=seed + i, mean_constituents=mean_n)
        ax = jet_axis(jets)
        zeros = np.zeros(n_jets, np.int64)
        sample = JetSample(jets, ax.pt, ax.eta, ax.phi, zeros, np.arange(n_jets), zeros)
        out.append(builder(sample, np.arange(n_jets)))
    return out
