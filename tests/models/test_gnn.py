"""Tests of adsearch.models.gnn: the backbone registry, ONNX inputs, the re-exported names."""

import numpy as np
import pytest
import torch

from adsearch.graphs import build_graphs, to_pyg, toy_jets
from adsearch.models import gnn
from adsearch.models.gnn import (
    EGATBackbone,
    GATv2Backbone,
    GINBackbone,
    build_backbone,
    onnx_inputs,
)
from tests.models.nets import SMALL, _make, _Wrap


@pytest.mark.parametrize(("key", "dynamo"), [("gin", False), ("gatv2", False), ("gin", True)])
def test_onnx_export_matches_torch(key, dynamo, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    wrap = _Wrap(_make(key)).eval()
    args, names, dynamic = onnx_inputs(to_pyg(build_graphs(toy_jets(4, seed=0))))
    path = tmp_path / f"{key}.onnx"
    if dynamo:
        from torch.export import Dim

        shapes = {
            "x": {0: Dim("nodes")},
            "edge_index": {1: Dim("edges")},
            "edge_attr": {0: Dim("edges")},
            "batch": {0: Dim("nodes")},
            "ptr": {0: Dim("graphs_plus_one")},
        }
        torch.onnx.export(
            wrap,
            args,
            path,
            input_names=list(names),
            dynamic_shapes=shapes,
            dynamo=True,
            verbose=False,
        )
    else:
        torch.onnx.export(
            wrap,
            args,
            path,
            input_names=list(names),
            dynamic_axes=dynamic,
            opset_version=18,
            dynamo=False,
        )
    sess = ort.InferenceSession(str(path))
    wanted = {i.name for i in sess.get_inputs()}
    for n_jets in (1, 3, 9):
        a, _, _ = onnx_inputs(to_pyg(build_graphs(toy_jets(n_jets, seed=n_jets))))
        with torch.no_grad():
            ref = wrap(*a).numpy()
        feed = {k: v.numpy() for k, v in zip(names, a, strict=True) if k in wanted}
        out = sess.run(None, feed)[0]
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() <= 1e-4


def test_egat_pyg_backend_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    wrap = _Wrap(build_backbone("egat", backend="pyg", **SMALL["egat"])).eval()
    args, names, dynamic = onnx_inputs(to_pyg(build_graphs(toy_jets(4, seed=0))))
    path = tmp_path / "egat.onnx"
    torch.onnx.export(
        wrap,
        args,
        path,
        input_names=list(names),
        dynamic_axes=dynamic,
        opset_version=18,
        dynamo=False,
    )
    sess = ort.InferenceSession(str(path))
    wanted = {i.name for i in sess.get_inputs()}
    for n_jets in (1, 5):
        a, _, _ = onnx_inputs(to_pyg(build_graphs(toy_jets(n_jets, seed=n_jets))))
        with torch.no_grad():
            ref = wrap(*a).numpy()
        out = sess.run(None, {k: v.numpy() for k, v in zip(names, a, strict=True) if k in wanted})
        assert np.abs(out[0] - ref).max() <= 1e-4


def test_registry():
    assert isinstance(build_backbone("gatv2", width=8, layers=1), GATv2Backbone)
    assert isinstance(build_backbone("egat", width=8, layers=1, edge_width=4), EGATBackbone)
    assert GINBackbone.input_kind == "pyg" and EGATBackbone.input_kind == "dgl"
    with pytest.raises(KeyError, match="unknown graph backbone"):
        build_backbone("gcn")
    with pytest.raises(TypeError):
        build_backbone("gin", colour="blue")
    with pytest.raises(ValueError, match="readout"):
        build_backbone("gin", readout="median")


def test_public_names_stay_importable_from_gnn():
    # models were saved and code was written against adsearch.models.gnn before the split
    from adsearch.models import backbones, edges, kernel, layers, mlp, readout

    assert gnn.GINBackbone is backbones.GINBackbone and gnn.GINLayer is layers.GINLayer
    assert gnn.WeightedAdjacency is kernel.WeightedAdjacency and gnn.MLP is mlp.MLP
    assert gnn.edge_weight is edges.edge_weight and gnn.graph_readout is readout.graph_readout
    assert all(hasattr(gnn, name) for name in gnn.__all__)
    assert set(gnn.BACKBONES) == {"gin", "egat", "gatv2"}
    assert all(issubclass(cls, gnn.GraphBackbone) for cls in gnn.BACKBONES.values())


def test_onnx_inputs_names_and_dynamic_axes():
    data = to_pyg(build_graphs(toy_jets(3, seed=0)))
    args, names, dynamic = onnx_inputs(data)
    assert names == ("x", "edge_index", "edge_attr", "batch", "ptr")
    assert set(dynamic) == set(names)
    assert args[0] is data.x and int(args[4][-1]) == data.x.shape[0] and len(args[4]) == 4
