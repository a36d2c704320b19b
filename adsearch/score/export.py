"""ONNX export of trained anomaly models (score per jet), checked against onnxruntime.

The exported graph maps model inputs to the per-jet anomaly score ``score [B]``:

* transformer / ParT / ParticleNet models: inputs ``x [B, N, F]`` (float32) and ``mask [B, N]``
  (bool), with dynamic ``B`` and ``N`` (ParticleNet's kNN is a ``TopK`` node: exported
  with ``k`` fixed and any ``N``, also ``N < k``);
* PyG graph models (GIN, GATv2): ``x [n_nodes, F]``, ``edge_index [2, n_edges]`` (int64),
  ``edge_attr [n_edges, E]``, ``batch [n_nodes]`` (int64, jet of each node) and ``ptr
  [B + 1]`` (int64 node offsets of the jets, as in a PyG batch), all sizes dynamic.

DGL models (EGAT) cannot be exported: the ONNX exporters either fail on DGL's C++ kernels or,
worse, silently freeze message passing into constants (measured here with DGL 2.1 and torch
2.13). They are served from PyTorch; :func:`export_onnx` refuses them with a clear error.

The export uses the ``torch.export``-based exporter (``dynamo=True``); :func:`check_onnx`
runs the file with onnxruntime on given inputs and returns the largest absolute difference
from PyTorch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from adsearch.errors import AdsearchError, InputError
from adsearch.io.atomic import atomic_path
from adsearch.models.backbones import GraphBackbone
from adsearch.models.registry import AnomalyModel

__all__ = ["ExportError", "check_onnx", "export_onnx", "onnx_inputs"]


class ExportError(AdsearchError):
    """The model cannot be exported to ONNX (e.g. a DGL model)."""


class _DenseScore(nn.Module):
    def __init__(self, model: AnomalyModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return self.model((x, mask))


class _PygScore(nn.Module):
    """``(x, edge_index, edge_attr, batch, ptr)`` -> score, via ``backbone.forward_tensors``.

    The model's backbone is a :class:`~adsearch.models.backbones.GraphBackbone` (checked by
    :func:`_wrapper`).
    """

    def __init__(self, model: AnomalyModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        backbone = cast(GraphBackbone, self.model.backbone)  # checked by _wrapper
        z = backbone.forward_tensors(x, edge_index, edge_attr, batch, ptr)
        return self.model.objective.score(z, None)


def _wrapper(model: AnomalyModel) -> nn.Module:
    if model.input_kind == "dgl":
        raise ExportError(
            "DGL models (EGAT) cannot be exported to ONNX: the exporters fail on DGL's C++ "
            "kernels or freeze message passing into constants. Export the plain-torch twin "
            "instead (EGAT options backend: pyg, same parameters; adsearch export does this)"
        )
    if model.input_kind == "dense":
        return _DenseScore(model)
    if model.input_kind == "pyg":
        if not isinstance(model.backbone, GraphBackbone):
            raise ExportError(
                f"input kind 'pyg' needs a graph backbone, got {type(model.backbone).__name__}"
            )
        return _PygScore(model)
    raise ExportError(f"cannot export input kind {model.input_kind!r}")


def onnx_inputs(model: AnomalyModel, inputs: Any) -> dict[str, np.ndarray]:
    """The ONNX feed (name -> numpy array) of a model input batch."""
    if model.input_kind == "dense":
        x, mask = inputs
        return {"x": x.float().cpu().numpy(), "mask": mask.bool().cpu().numpy()}
    if model.input_kind == "pyg":
        return {
            "x": inputs.x.float().cpu().numpy(),
            "edge_index": inputs.edge_index.long().cpu().numpy(),
            "edge_attr": inputs.edge_attr.float().cpu().numpy(),
            "batch": inputs.batch.long().cpu().numpy(),
            "ptr": inputs.ptr.long().cpu().numpy(),
        }
    raise ExportError(f"cannot export input kind {model.input_kind!r}")


def _args(model: AnomalyModel, inputs: Any) -> tuple[Tensor, ...]:
    feed = onnx_inputs(model, inputs)
    return tuple(torch.from_numpy(v) for v in feed.values())


def _dynamic_shapes(model: AnomalyModel) -> dict[str, Any]:
    dim = torch.export.Dim
    if model.input_kind == "dense":
        b, n = dim("jets"), dim("constituents")
        return {"x": {0: b, 1: n}, "mask": {0: b, 1: n}}
    nodes, edges = dim("nodes"), dim("edges")
    return {
        "x": {0: nodes},
        "edge_index": {1: edges},
        "edge_attr": {0: edges},
        "batch": {0: nodes},
        "ptr": {0: dim("jets_plus_one")},
    }


def export_onnx(
    model: AnomalyModel, path: str | Path, example_inputs: Any, opset: int = 18
) -> Path:
    """Export ``model`` (score per jet) to ONNX with dynamic batch/graph sizes.

    Parameters
    ----------
    model : trained :class:`AnomalyModel` (``pyg`` or ``dense`` input kind).
    path : output ``.onnx`` file (written atomically).
    example_inputs : one input batch (as the model eats it) to trace with; use at least two
        jets with different sizes so no size is specialised.
    opset : ONNX opset version.

    Raises
    ------
    ExportError
        For DGL (EGAT) models, or when the exporter fails.
    """
    wrapper = _wrapper(model).eval().cpu()
    model.cpu().eval()
    args = _args(model, example_inputs)
    names = list(onnx_inputs(model, example_inputs))
    path = Path(path)
    log_level = logging.getLogger("torch.onnx").level
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            atomic_path(path) as tmp,
        ):
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(
                wrapper,
                args,
                dynamo=True,
                input_names=names,
                output_names=["score"],
                dynamic_shapes=_dynamic_shapes(model),
                opset_version=opset,
                verbose=False,
            )
            if prog is None:  # only the legacy exporter (dynamo=False) returns None
                raise ExportError(f"{path}: the ONNX exporter returned no program")
            prog.save(str(tmp))
    except ExportError:
        raise
    except Exception as e:  # exporter failures come in many types
        raise ExportError(f"{path}: ONNX export failed ({type(e).__name__}: {e})") from None
    finally:
        logging.getLogger("torch.onnx").setLevel(log_level)
    return path


def check_onnx(model: AnomalyModel, path: str | Path, batches: list[Any]) -> float:
    """Largest score difference between onnxruntime and torch over ``batches`` of inputs.

    The difference is ``|onnx - torch| / max(1, |torch|)``: absolute for scores below 1,
    relative above (DeepSVDD distances of an untrained or unscaled network reach 1e6, where
    float32 round-off alone is ~0.1 in absolute terms).
    """
    import onnxruntime as ort

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such ONNX file")
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    model.cpu().eval()
    worst = 0.0
    with torch.no_grad():
        for inputs in batches:
            ref = model(inputs).float().numpy()
            got = sess.run(["score"], onnx_inputs(model, inputs))[0]
            if got.shape != ref.shape:
                raise ExportError(f"{p}: ONNX output shape {got.shape} != torch {ref.shape}")
            if ref.size:
                diff = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
                worst = max(worst, float(np.max(diff)))
    return worst
